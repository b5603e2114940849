"""What an application's documents say: the dossier the attestations and the package are made
from, and the rules for the names of the files inside the package.

Building a dossier from an application is a use case; rendering it (PDF) and packaging it (ZIP)
are adapters behind the `DocumentRenderer` and `PackageBuilder` ports.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class Origin(StrEnum):
    """Where a value comes from: shown to the buyer next to every value."""

    PREFILLED = "prefilled"  # "Récupéré automatiquement" (a government data source)
    DECLARED = "declared"  # "Déclaré par le candidat"


ORIGIN_LABELS = {
    Origin.PREFILLED: "Récupéré automatiquement",
    Origin.DECLARED: "Déclaré par le candidat",
}


@dataclass(frozen=True)
class DossierDocument:
    """A file of the dossier: an upload, or a document fetched from a data source."""

    attribute_key: str
    original_name: str
    package_name: str  # its path inside the ZIP, e.g. documents/user_02_01_<key>_<name>
    storage_key: str  # where FileStorage keeps it
    size: int
    content_type: str
    origin: Origin = Origin.DECLARED


@dataclass(frozen=True)
class DossierAnswer:
    """One attribute's answer: its lines of text (a table gives one line per row) and files."""

    key: str
    title: str
    lines: tuple[str, ...]
    origin: Origin = Origin.DECLARED
    source: str | None = None  # the data source's name, for pre-filled values
    documents: tuple[DossierDocument, ...] = ()


@dataclass(frozen=True)
class DossierSection:
    title: str
    answers: tuple[DossierAnswer, ...]


@dataclass(frozen=True)
class DossierMarket:
    identifier: str
    name: str
    buyer_name: str | None
    buyer_siret: str
    deadline: datetime
    market_type_labels: tuple[str, ...]
    lots_chosen: tuple[str, ...] = ()


@dataclass(frozen=True)
class Dossier:
    application_identifier: str
    submitted_at: datetime
    market: DossierMarket
    company_siret: str
    company_name: str | None
    sections: tuple[DossierSection, ...]
    declaration: str
    generated_at: datetime
    test_watermark: bool = True  # "Attestation de test" on every page outside production
    documents: tuple[DossierDocument, ...] = field(default=())

    def all_documents(self) -> tuple[DossierDocument, ...]:
        if self.documents:
            return self.documents
        return tuple(d for s in self.sections for a in s.answers for d in a.documents)


# Letters that accent folding would drop rather than spell out; apostrophes separate words.
_SPELLED_OUT = {
    "œ": "oe", "Œ": "OE", "æ": "ae", "Æ": "AE", "ß": "ss", "ø": "o", "Ø": "O",
    "’": "_", "'": "_",
}  # fmt: skip
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
MAX_NAME_LENGTH = 120


def safe_file_name(original: str) -> str:
    """A file name that is safe everywhere: no path, no control characters, no `..`, ASCII only
    (accents folded), at most 120 characters, the extension kept."""
    name = original.replace("\\", "/").rsplit("/", 1)[-1]
    for letter, spelled in _SPELLED_OUT.items():
        name = name.replace(letter, spelled)
    name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    name = "".join(ch for ch in name if ch.isprintable())
    name = _UNSAFE.sub("_", name).strip("._-")
    while ".." in name:
        name = name.replace("..", ".")
    if not name:
        name = "document"
    if len(name) > MAX_NAME_LENGTH:
        stem, dot, extension = name.rpartition(".")
        if dot and 0 < len(extension) <= 10:
            # Cut the stem, then drop what the cut may leave dangling before the extension.
            name = stem[: MAX_NAME_LENGTH - len(extension) - 1].rstrip("._-") + "." + extension
        else:
            name = name[:MAX_NAME_LENGTH].rstrip("._-")
    return name or "document"


def package_member_name(
    origin: Origin, section_number: int, answer_number: int, key: str, original_name: str
) -> str:
    """`documents/<api|user>_<NN>_<NN>_<attribute key>_<original name>` (SPEC §6)."""
    prefix = "api" if origin is Origin.PREFILLED else "user"
    numbers = f"{section_number:02d}_{answer_number:02d}"
    return f"documents/{prefix}_{numbers}_{safe_file_name(key)}_{safe_file_name(original_name)}"
