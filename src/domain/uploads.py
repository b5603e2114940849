"""What the candidate may upload: the accepted types, recognised by their content (magic bytes)
and matched against the extension of the original name, the size limit, and the French messages
that say why a file is refused (SPEC §5).

Pure functions over bytes and names: reading the stream, and the few structures that need the
whole file (a ZIP's central directory, an OLE2 directory), belong to the adapter, which hands the
names it found to `zip_kind` / `ole2_kind` here.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection
from dataclasses import dataclass
from enum import StrEnum

from passemarche.domain.errors import DomainError

MIB = 1024 * 1024
DEFAULT_MAX_UPLOAD_BYTES = 100 * MIB
# Enough for every signature below: tar's "ustar" at 257, a PDF header within 1 KiB, an
# OpenDocument `mimetype` entry right after the first ZIP local header.
SNIFF_BYTES = 8 * 1024
MAX_DISPLAY_NAME_LENGTH = 255

ALLOWED_EXTENSIONS = (
    "pdf",
    "doc",
    "docx",
    "odt",
    "txt",
    "xls",
    "xlsx",
    "ods",
    "csv",
    "jpg",
    "jpeg",
    "png",
)
ARCHIVE_EXTENSIONS = frozenset(
    {"zip", "rar", "7z", "tar", "gz", "tgz", "bz2", "tbz2", "xz", "txz", "zst", "cab", "arj", "lz"}
)

# Messages shown to the candidate, next to the file field.
MISSING_MESSAGE = "Aucun fichier n’a été sélectionné."
EMPTY_MESSAGE = "Le fichier est vide."
MISMATCH_MESSAGE = "Le contenu du fichier ne correspond pas à son extension."
ARCHIVE_MESSAGE = "Les archives ne sont pas acceptées : déposez chaque document séparément."
INFECTED_MESSAGE = "Ce fichier contient un virus : il a été refusé et n’a pas été enregistré."
SCAN_FAILED_MESSAGE = (
    "Le fichier n’a pas pu être vérifié par l’antivirus. Réessayez dans quelques minutes."
)
NOT_SCANNED_LABEL = "non vérifié"  # shown next to a file when no antivirus is configured


class RejectionReason(StrEnum):
    MISSING = "missing"
    TYPE_NOT_ALLOWED = "type_not_allowed"
    ARCHIVE = "archive"
    CONTENT_MISMATCH = "content_mismatch"
    TOO_LARGE = "too_large"
    EMPTY = "empty"
    INFECTED = "infected"
    SCAN_FAILED = "scan_failed"


class UploadRejected(DomainError):
    """A file the candidate may not upload; `message` is the French sentence to show."""

    message = MISMATCH_MESSAGE

    def __init__(self, reason: RejectionReason, message: str) -> None:
        super().__init__(message)
        self.reason = reason

    @classmethod
    def infected(cls) -> UploadRejected:
        return cls(RejectionReason.INFECTED, INFECTED_MESSAGE)

    @classmethod
    def scan_failed(cls) -> UploadRejected:
        return cls(RejectionReason.SCAN_FAILED, SCAN_FAILED_MESSAGE)


class FileKind(StrEnum):
    """What the content is. OLE2 and ZIP are containers the adapter refines with `ole2_kind` /
    `zip_kind`; the last four are never accepted."""

    PDF = "pdf"
    DOC = "doc"
    XLS = "xls"
    RTF = "rtf"
    DOCX = "docx"
    XLSX = "xlsx"
    ODT = "odt"
    ODS = "ods"
    TEXT = "text"
    JPEG = "jpeg"
    PNG = "png"
    OLE2 = "ole2"
    ZIP = "zip"
    ARCHIVE = "archive"
    EXECUTABLE = "executable"
    UNKNOWN = "unknown"


CONTENT_TYPES = {
    FileKind.PDF: "application/pdf",
    FileKind.DOC: "application/msword",
    FileKind.RTF: "application/rtf",
    FileKind.XLS: "application/vnd.ms-excel",
    FileKind.DOCX: "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    FileKind.XLSX: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    FileKind.ODT: "application/vnd.oasis.opendocument.text",
    FileKind.ODS: "application/vnd.oasis.opendocument.spreadsheet",
    FileKind.JPEG: "image/jpeg",
    FileKind.PNG: "image/png",
}

# The contents each extension may hold. Word opens an RTF file saved as `.doc`, and many
# templates circulate that way: refusing it would puzzle the candidate.
_KINDS_BY_EXTENSION: dict[str, frozenset[FileKind]] = {
    "pdf": frozenset({FileKind.PDF}),
    "doc": frozenset({FileKind.DOC, FileKind.RTF}),
    "xls": frozenset({FileKind.XLS}),
    "docx": frozenset({FileKind.DOCX}),
    "xlsx": frozenset({FileKind.XLSX}),
    "odt": frozenset({FileKind.ODT}),
    "ods": frozenset({FileKind.ODS}),
    "txt": frozenset({FileKind.TEXT}),
    "csv": frozenset({FileKind.TEXT}),
    "jpg": frozenset({FileKind.JPEG}),
    "jpeg": frozenset({FileKind.JPEG}),
    "png": frozenset({FileKind.PNG}),
}
_CONTAINER_EXTENSIONS = {
    FileKind.OLE2: frozenset({"doc", "xls"}),
    FileKind.ZIP: frozenset({"docx", "xlsx", "odt", "ods"}),
}


@dataclass(frozen=True)
class FileType:
    """An accepted upload's type: the extension it was sent with and what its content is."""

    extension: str
    kind: FileKind

    @property
    def content_type(self) -> str:
        if self.kind is FileKind.TEXT:
            return "text/csv" if self.extension == "csv" else "text/plain"
        return CONTENT_TYPES[self.kind]


def size_label(size: int) -> str:
    """`104857600` → "100 Mo" (binary megabytes, as clamd and the configuration count them)."""
    unit, divisor = ("Mo", MIB) if size >= MIB else ("Ko", 1024)
    value = size / divisor
    text = f"{value:.0f}" if value == int(value) else f"{value:.1f}".replace(".", ",")
    return f"{text} {unit}"


def too_large(max_bytes: int) -> UploadRejected:
    return UploadRejected(
        RejectionReason.TOO_LARGE,
        f"Le fichier dépasse la taille maximale de {size_label(max_bytes)}.",
    )


def check_size(size: int, max_bytes: int) -> None:
    if size > max_bytes:
        raise too_large(max_bytes)


def extension_of(name: str) -> str:
    """The last extension, lower-cased, without the dot; "" when there is none."""
    base = display_name(name)
    stem, dot, extension = base.rpartition(".")
    return extension.strip().lower() if dot and stem.strip(". ") else ""


def check_file_name(original_name: str) -> str:
    """The extension of an allowed name, or the refusal the candidate sees before any byte is
    read (`facture.pdf.exe` is an `.exe`)."""
    if not original_name or not original_name.strip():
        raise UploadRejected(RejectionReason.MISSING, MISSING_MESSAGE)
    extension = extension_of(original_name)
    if extension in _KINDS_BY_EXTENSION:
        return extension
    label = f".{extension}" if extension else "fichier sans extension"
    if extension in ARCHIVE_EXTENSIONS:
        message = f"Ce type de fichier n’est pas accepté : {label}. {ARCHIVE_MESSAGE}"
        raise UploadRejected(RejectionReason.ARCHIVE, message)
    accepted = ", ".join(ext.upper() for ext in ALLOWED_EXTENSIONS)
    raise UploadRejected(
        RejectionReason.TYPE_NOT_ALLOWED,
        f"Ce type de fichier n’est pas accepté : {label}. Formats acceptés : {accepted}.",
    )


_PNG = b"\x89PNG\r\n\x1a\n"
_OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_EXECUTABLES = (
    b"MZ",  # Windows PE, DOS
    b"\x7fELF",
    b"\xfe\xed\xfa\xce",  # Mach-O, both byte orders, 32 and 64 bits
    b"\xce\xfa\xed\xfe",
    b"\xfe\xed\xfa\xcf",
    b"\xcf\xfa\xed\xfe",
    b"\xca\xfe\xba\xbe",  # Mach-O universal binary, Java class
    b"\x00asm",  # WebAssembly
)
_ARCHIVES = (
    b"Rar!\x1a\x07",
    b"7z\xbc\xaf\x27\x1c",
    b"\x1f\x8b",  # gzip
    b"\xfd7zXZ\x00",
    b"\x28\xb5\x2f\xfd",  # zstandard
    b"MSCF",  # Microsoft cabinet
    b"!<arch>\n",  # ar (.deb)
    b"\x60\xea",  # arj
    b"LZIP",
)
_BZIP2 = re.compile(rb"BZh[1-9]1AY&SY")
_ZIP_HEADERS = (b"PK\x03\x04", b"PK\x05\x06")
# C0 controls never found in text (tab, line feeds, form feed, carriage return and the DOS
# end-of-file mark 0x1A are allowed); any other byte is valid Latin-1 or part of UTF-8.
_NOT_TEXT = re.compile(rb"[\x00-\x08\x0e-\x19\x1b-\x1f]")


def is_text(chunk: bytes) -> bool:
    """True when the bytes can be UTF-8 or Latin-1 text: no NUL, no stray control character."""
    return _NOT_TEXT.search(chunk) is None


def sniff(head: bytes) -> FileKind:
    """The kind of a file from its first bytes (pass `SNIFF_BYTES`, or the whole file if
    shorter). Executables are looked for first: a PDF header further on does not excuse them."""
    text = bool(head) and is_text(head)
    # A real DOS/PE header has NULs right after "MZ": a text starting with "MZ" stays text.
    if head.startswith(_EXECUTABLES) and not (head.startswith(b"MZ") and is_text(head[:64])):
        return FileKind.EXECUTABLE
    if head.startswith(_ARCHIVES) or _BZIP2.match(head) or head[257:262] == b"ustar":
        return FileKind.ARCHIVE
    # Containers first: a ZIP storing a PDF uncompressed shows "%PDF-" in its first KiB.
    if head.startswith(_OLE2):
        return FileKind.OLE2
    if head.startswith(_ZIP_HEADERS):
        return FileKind.ZIP
    # Readers accept a PDF header anywhere in the first KiB; a text that merely mentions
    # "%PDF-" stays text.
    pdf_at = head.find(b"%PDF-", 0, 1024)
    if pdf_at == 0 or (
        pdf_at > 0 and (not text or not head[:pdf_at].strip(b"\xef\xbb\xbf \t\r\n"))
    ):
        return FileKind.PDF
    if head.startswith(b"\xff\xd8\xff"):
        return FileKind.JPEG
    if head.startswith(_PNG):
        return FileKind.PNG
    if head.startswith(b"{\\rtf"):
        return FileKind.RTF
    if text:
        return FileKind.TEXT
    return FileKind.UNKNOWN


_ODF_KINDS = {
    "application/vnd.oasis.opendocument.text": FileKind.ODT,
    "application/vnd.oasis.opendocument.spreadsheet": FileKind.ODS,
}


def opendocument_mimetype(head: bytes) -> str | None:
    """The media type an OpenDocument file declares in its first ZIP entry, `mimetype`, which
    the standard requires first and stored uncompressed."""
    if not head.startswith(b"PK\x03\x04") or len(head) < 30:
        return None
    method = int.from_bytes(head[8:10], "little")
    size = int.from_bytes(head[18:22], "little")
    name_length = int.from_bytes(head[26:28], "little")
    extra_length = int.from_bytes(head[28:30], "little")
    if method != 0 or head[30 : 30 + name_length] != b"mimetype" or size > 200:
        return None
    start = 30 + name_length + extra_length
    value = head[start : start + size]
    return value.decode("ascii", "replace") if len(value) == size else None


def zip_kind(names: Collection[str], head: bytes) -> FileKind:
    """What a ZIP is, from its entry names (read from the central directory) and its first
    bytes: an Office Open XML or OpenDocument file, or else an archive."""
    mimetype = opendocument_mimetype(head)
    if mimetype in _ODF_KINDS and "content.xml" in names:
        return _ODF_KINDS[mimetype]
    if "[Content_Types].xml" in names:
        word = any(name.startswith("word/") for name in names)
        excel = any(name.startswith("xl/") for name in names)
        if word != excel:
            return FileKind.DOCX if word else FileKind.XLSX
    return FileKind.ARCHIVE


def ole2_kind(root_stream_names: Collection[str]) -> FileKind:
    """What an OLE2 (compound) file is, from the names of the streams at its root: a Word 97
    document has `WordDocument`, an Excel workbook `Workbook` (or `Book` before Excel 97).
    Anything else (an installer, an Outlook message, a PowerPoint file) is not accepted."""
    word = "WordDocument" in root_stream_names
    excel = bool({"Workbook", "Book"} & set(root_stream_names))
    if word != excel:
        return FileKind.DOC if word else FileKind.XLS
    return FileKind.UNKNOWN


def check_head(extension: str, kind: FileKind) -> None:
    """Refuses, as soon as the first bytes are known, a content that cannot suit the extension.
    Containers pass here when they may suit it; `check_content` decides once they are read."""
    if kind in _CONTAINER_EXTENSIONS and extension in _CONTAINER_EXTENSIONS[kind]:
        return
    check_content(extension, kind)


def check_content(extension: str, kind: FileKind) -> FileType:
    """The accepted type, or the refusal: the content must be one the extension may hold."""
    if kind in _KINDS_BY_EXTENSION.get(extension, ()):
        return FileType(extension=extension, kind=kind)
    if kind is FileKind.ARCHIVE:
        raise UploadRejected(RejectionReason.ARCHIVE, ARCHIVE_MESSAGE)
    raise mismatch()


def empty() -> UploadRejected:
    return UploadRejected(RejectionReason.EMPTY, EMPTY_MESSAGE)


def mismatch() -> UploadRejected:
    return UploadRejected(RejectionReason.CONTENT_MISMATCH, MISMATCH_MESSAGE)


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def display_name(original: str) -> str:
    """The name to show back to the candidate: the last path part (some browsers send the
    whole path), without control characters, NFC, at most 255 characters. Never a storage key:
    use `dossier.safe_file_name` for that."""
    name = original.replace("\\", "/").rsplit("/", 1)[-1]
    name = _CONTROL.sub("", unicodedata.normalize("NFC", name)).strip()
    if len(name) > MAX_DISPLAY_NAME_LENGTH:
        stem, dot, extension = name.rpartition(".")
        if dot and 0 < len(extension) <= 10:
            name = stem[: MAX_DISPLAY_NAME_LENGTH - len(extension) - 1] + "." + extension
        else:
            name = name[:MAX_DISPLAY_NAME_LENGTH]
    return name
