"""The documents of a submitted application: the two attestations as PDF (`FpdfDocumentRenderer`,
the `DocumentRenderer` port) and the documents package as ZIP (`ZipPackageBuilder`, the
`PackageBuilder` port)."""

from passemarche.adapters.documents.fonts import FontUnavailable
from passemarche.adapters.documents.package import MissingDocument, ZipPackageBuilder
from passemarche.adapters.documents.pdf import FpdfDocumentRenderer

__all__ = ["FontUnavailable", "FpdfDocumentRenderer", "MissingDocument", "ZipPackageBuilder"]
