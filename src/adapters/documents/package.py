"""The documents package: a ZIP with the buyer attestation at its root and every file of the
dossier under `documents/`, streamed from storage chunk by chunk (constant memory).

Member names come from the domain (`DossierDocument.package_name`); they are sanitised again
here, because a name written into a ZIP is a path on the machine that extracts it.
"""

from __future__ import annotations

import shutil
import unicodedata
import zipfile
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import PurePosixPath
from typing import BinaryIO
from zoneinfo import ZoneInfo

from passemarche.domain.dossier import Dossier, DossierDocument, safe_file_name
from passemarche.services.ports import FileStorage

DOCUMENTS_FOLDER = "documents"
CHUNK_SIZE = 1024 * 1024
MAX_MEMBER_NAME = 200  # characters of the file name, extension included
# Formats that are compressed already: deflating them costs CPU and saves nothing.
STORED_EXTENSIONS = frozenset({"pdf", "jpg", "jpeg", "png", "docx", "xlsx", "odt", "ods", "zip"})
PARIS = ZoneInfo("Europe/Paris")
_FORBIDDEN = frozenset('<>:"|?*')  # not allowed in Windows file names


class MissingDocument(LookupError):
    """A file of the dossier is not in storage: the package is not built without it."""


def buyer_attestation_name(dossier: Dossier) -> str:
    return f"buyer_attestation_{safe_file_name(dossier.application_identifier)}.pdf"


def safe_member_name(package_name: str) -> str:
    """`documents/<file name>`: only the last path component is kept, without control or
    format characters, leading dots, `..` or characters Windows refuses."""
    base = package_name.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1]
    base = unicodedata.normalize("NFC", base)
    base = "".join(
        "_" if ch in _FORBIDDEN else ch
        for ch in base
        if ch == " " or (ch.isprintable() and unicodedata.category(ch)[0] not in "CZ")
    )
    while ".." in base:
        base = base.replace("..", ".")
    base = base.strip(" .")
    if len(base) > MAX_MEMBER_NAME:
        stem, extension = _split_extension(base)
        base = stem[: MAX_MEMBER_NAME - len(extension)].rstrip(" .") + extension
    return f"{DOCUMENTS_FOLDER}/{base or 'document'}"


def _split_extension(name: str) -> tuple[str, str]:
    """("report", ".pdf"); no extension for a name without a dot or with a long suffix."""
    stem, dot, extension = name.rpartition(".")
    if dot and stem and 0 < len(extension) <= 10:
        return stem, "." + extension
    return name, ""


def _unique(name: str, taken: set[str]) -> str:
    """`name`, or `stem (2).ext`, `stem (3).ext`...: extraction on a case-insensitive file
    system must not overwrite a file either."""
    candidate, number = name, 1
    stem, extension = _split_extension(name)
    while candidate.casefold() in taken:
        number += 1
        candidate = f"{stem} ({number}){extension}"
    taken.add(candidate.casefold())
    return candidate


def package_members(dossier: Dossier) -> list[tuple[DossierDocument, str]]:
    """Every document of the dossier with its member name in the ZIP, in dossier order.

    The buyer attestation names the documents by these names, so they match the ZIP."""
    taken = {buyer_attestation_name(dossier).casefold()}
    return [
        (document, _unique(safe_member_name(document.package_name), taken))
        for document in dossier.all_documents()
    ]


def member_names(dossier: Dossier) -> dict[DossierDocument, str]:
    """Document -> member name (a document listed twice keeps its first name)."""
    names: dict[DossierDocument, str] = {}
    for document, name in package_members(dossier):
        names.setdefault(document, name)
    return names


def compression_for(member_name: str) -> int:
    extension = PurePosixPath(member_name).suffix.lower().lstrip(".")
    return zipfile.ZIP_STORED if extension in STORED_EXTENSIONS else zipfile.ZIP_DEFLATED


def _zip_time(moment: datetime) -> tuple[int, int, int, int, int, int]:
    """ZIP times are local times without a zone: the submission time, in Paris."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    local = moment.astimezone(PARIS)
    year = min(max(local.year, 1980), 2107)
    return (year, local.month, local.day, local.hour, local.minute, local.second)


def _member(
    name: str, date_time: tuple[int, int, int, int, int, int], size: int
) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=date_time)
    info.compress_type = compression_for(name)
    info.external_attr = 0o100644 << 16  # a regular file, rw-r--r--
    info.file_size = size
    return info


class ZipPackageBuilder:
    """`PackageBuilder`: writes the package to any binary stream, seekable or not."""

    def __init__(self, chunk_size: int = CHUNK_SIZE, compress_level: int = 6) -> None:
        self.chunk_size = chunk_size
        self.compress_level = compress_level

    def build(
        self, dossier: Dossier, buyer_attestation: bytes, storage: FileStorage, target: BinaryIO
    ) -> None:
        date_time = _zip_time(dossier.submitted_at)
        with zipfile.ZipFile(
            target, "w", allowZip64=True, compresslevel=self.compress_level
        ) as archive:
            archive.writestr(
                _member(buyer_attestation_name(dossier), date_time, len(buyer_attestation)),
                buyer_attestation,
            )
            self._write_documents(archive, package_members(dossier), storage, date_time)

    def _write_documents(
        self,
        archive: zipfile.ZipFile,
        members: Iterable[tuple[DossierDocument, str]],
        storage: FileStorage,
        date_time: tuple[int, int, int, int, int, int],
    ) -> None:
        for document, name in members:
            stored = storage.stat(document.storage_key)
            if stored is None:
                raise MissingDocument(
                    f"{document.storage_key} ({document.original_name!r}) is not in storage"
                )
            info = _member(name, date_time, stored.size)
            # ZIP64 headers are needed past 2 GiB; deflate may grow incompressible data a bit.
            force_zip64 = stored.size * 1.05 >= zipfile.ZIP64_LIMIT
            with (
                storage.open(document.storage_key) as source,
                archive.open(info, "w", force_zip64=force_zip64) as destination,
            ):
                shutil.copyfileobj(source, destination, self.chunk_size)
