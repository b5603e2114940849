"""Receiving an upload: streamed in chunks to a temporary file, never held in memory, refused as
soon as it passes the size limit or its first bytes do not suit its extension.

Two ways in, one behaviour:
- pull: `UploadReceiver.receive(name, stream)` reads a file-like (a WSGI input, a werkzeug
  `FileStorage.stream`) and stops reading one byte past the limit;
- push: `UploadReceiver.stream_factory` has the signature of werkzeug's `Request._get_file_stream`,
  so the multipart parser writes each file part straight into an `UploadSink`; the view then calls
  `UploadReceiver.accept(request.files[...])`. A refused part is dropped as it arrives (the whole
  request stays bounded by `max_content_length`), and the form's other fields stay readable, so
  the page can show the error next to its field.

The rules (types, messages) live in `passemarche.domain.uploads`; this module reads the bytes,
including the two structures only the whole file has: a ZIP's central directory and an OLE2
directory.
"""

from __future__ import annotations

import hashlib
import os
import struct
import tempfile
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Protocol

from passemarche.domain import uploads as rules
from passemarche.domain.dossier import safe_file_name
from passemarche.domain.uploads import FileKind, FileType, UploadRejected

CHUNK_SIZE = 256 * 1024


class Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


@dataclass(frozen=True)
class ReceivedUpload:
    """An accepted upload waiting in a temporary file: scan it, store it, then `discard()` it
    (or use it as a context manager, which discards on exit)."""

    path: Path
    size: int
    sha256: str
    file_type: FileType
    original_name: str  # for display: the candidate's name, without any path
    storage_name: str  # safe everywhere (`safe_file_name`): for storage keys and ZIP members

    @property
    def content_type(self) -> str:
        return self.file_type.content_type

    def open(self) -> BinaryIO:
        return self.path.open("rb")

    def discard(self) -> None:
        self.path.unlink(missing_ok=True)

    def __enter__(self) -> ReceivedUpload:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.discard()


class UploadSink:
    """A writable file for one upload: checks the name at once, the first bytes as soon as they
    are in, the size with every write, and keeps only what it may accept.

    A refusal is recorded (`rejected`) and what follows is dropped; `finish()` raises it.
    """

    def __init__(self, original_name: str, max_bytes: int, temp_dir: Path | None = None) -> None:
        self.original_name = rules.display_name(original_name or "")
        self.max_bytes = max_bytes
        self.size = 0
        self.rejected: UploadRejected | None = None
        self._temp_dir = temp_dir
        self._head = bytearray()
        self._kind: FileKind | None = None
        self._sniffed_head = b""
        self._hash = hashlib.sha256()
        self._file: BinaryIO | None = None
        self._path: Path | None = None
        self._cleanup: weakref.finalize[Any, Any] | None = None
        self._finished = False
        try:
            self.extension = rules.check_file_name(original_name)
        except UploadRejected as refusal:
            self.extension = ""
            self.rejected = refusal

    # The file interface werkzeug's multipart parser uses (write, then seek(0)).
    def write(self, data: bytes) -> int:
        length = len(data)
        if self.rejected is not None or self._finished:
            return length
        self.size += length
        if self.size > self.max_bytes:
            self.reject(rules.too_large(self.max_bytes))
            return length
        self._hash.update(data)
        if self._kind is None:
            self._head += data
            if len(self._head) >= rules.SNIFF_BYTES:
                self._sniff()
        elif self._kind is FileKind.TEXT and not rules.is_text(data):
            self.reject(rules.mismatch())
        else:
            self._write(data)
        return length

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        return self.size if whence == os.SEEK_END else offset

    def tell(self) -> int:
        return self.size

    def flush(self) -> None:
        pass

    def writable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        raise OSError("An upload is read once accepted: use UploadReceiver.accept()")

    def close(self) -> None:
        if not self._finished:
            self.discard()

    def finish(self) -> ReceivedUpload:
        """The accepted upload, or the refusal (the temporary file is then gone)."""
        if self._finished:
            raise RuntimeError("this upload has already been finished")
        try:
            if self.rejected is None and self._kind is None:
                if self.size == 0:
                    self.reject(rules.empty())
                else:
                    self._sniff()
            if self.rejected is not None:
                raise self.rejected
            assert self._file is not None and self._path is not None and self._kind is not None
            self._file.flush()
            file_type = rules.check_content(self.extension, self._refine(self._kind))
        except BaseException:
            self.discard()
            raise
        self._file.close()
        if self._cleanup is not None:
            self._cleanup.detach()  # the caller owns the file now
        self._finished = True
        return ReceivedUpload(
            path=self._path,
            size=self.size,
            sha256=self._hash.hexdigest(),
            file_type=file_type,
            original_name=self.original_name,
            storage_name=safe_file_name(self.original_name),
        )

    def discard(self) -> None:
        self._finished = True
        if self._cleanup is not None:
            self._cleanup()

    def _sniff(self) -> None:
        head = bytes(self._head)
        self._head = bytearray()
        kind = rules.sniff(head[: rules.SNIFF_BYTES])
        try:
            rules.check_head(self.extension, kind)
            if kind is FileKind.TEXT and not rules.is_text(head):
                raise rules.mismatch()
        except UploadRejected as refusal:
            self.reject(refusal)
            return
        self._kind = kind
        self._sniffed_head = head[: rules.SNIFF_BYTES]
        self._write(head)

    def _write(self, data: bytes) -> None:
        if self._file is None:
            directory = self._temp_dir
            if directory is not None:
                directory.mkdir(parents=True, exist_ok=True)
            descriptor, name = tempfile.mkstemp(prefix="upload-", dir=directory)
            self._file = os.fdopen(descriptor, "w+b")
            self._path = Path(name)
            # A part werkzeug parsed but no view accepted is removed when collected.
            self._cleanup = weakref.finalize(self, _remove, self._file, self._path)
        self._file.write(data)

    def reject(self, refusal: UploadRejected) -> None:
        """Records the refusal and drops everything kept so far."""
        self.rejected = refusal
        self._head = bytearray()
        if self._cleanup is not None:
            self._cleanup()

    def _refine(self, kind: FileKind) -> FileKind:
        """Containers are told apart by their directory, which may sit at the end of the file."""
        if kind not in (FileKind.ZIP, FileKind.OLE2):
            return kind
        assert self._file is not None
        try:
            if kind is FileKind.ZIP:
                return rules.zip_kind(zip_entry_names(self._file, self.size), self._sniffed_head)
            return rules.ole2_kind(ole2_root_names(self._file, self.size))
        except MalformedContainer:
            return FileKind.UNKNOWN


def _remove(file: BinaryIO, path: Path) -> None:
    file.close()
    path.unlink(missing_ok=True)


class UploadReceiver:
    """Makes `UploadSink`s with one limit and one temporary folder (on disk: not a tmpfs)."""

    def __init__(
        self,
        max_bytes: int = rules.DEFAULT_MAX_UPLOAD_BYTES,
        temp_dir: str | os.PathLike[str] | None = None,
        chunk_size: int = CHUNK_SIZE,
    ) -> None:
        self.max_bytes = max_bytes
        self.temp_dir = Path(temp_dir) if temp_dir is not None else None
        self.chunk_size = chunk_size

    def sink(self, original_name: str) -> UploadSink:
        return UploadSink(original_name, self.max_bytes, self.temp_dir)

    def receive(
        self, original_name: str, stream: Readable, declared_size: int | None = None
    ) -> ReceivedUpload:
        """Reads `stream` to its end, or one byte past the limit, whichever comes first.
        A declared size (Content-Length) over the limit is refused before reading anything."""
        sink = self.sink(original_name)
        if sink.rejected is None and declared_size is not None and declared_size > self.max_bytes:
            sink.reject(rules.too_large(self.max_bytes))
        while sink.rejected is None:
            chunk = stream.read(min(self.chunk_size, self.max_bytes - sink.size + 1))
            if not chunk:
                break
            sink.write(chunk)
        return sink.finish()

    def stream_factory(
        self,
        total_content_length: int | None,
        content_type: str | None,
        filename: str | None,
        content_length: int | None = None,
    ) -> UploadSink:
        """werkzeug's `Request._get_file_stream` signature: one sink per file part."""
        sink = self.sink(filename or "")
        if sink.rejected is None and content_length and content_length > self.max_bytes:
            sink.reject(rules.too_large(self.max_bytes))
        return sink

    def accept(self, file: Any) -> ReceivedUpload:
        """The upload from a werkzeug `FileStorage` (or any object with `.stream` and
        `.filename`): finished when its part went through `stream_factory`, else streamed now."""
        stream = getattr(file, "stream", file)
        if isinstance(stream, UploadSink):
            return stream.finish()
        return self.receive(getattr(file, "filename", None) or "", stream)


class MalformedContainer(ValueError):
    pass


# ZIP: the central directory lists every entry; the end record (within the last 64 KiB) says
# where it is. Read with bounds, not with `zipfile`, which would build an object per entry of a
# crafted file.
MAX_ZIP_ENTRIES = 20_000
MAX_CENTRAL_DIRECTORY = 8 * 1024 * 1024


def zip_entry_names(file: BinaryIO, size: int) -> list[str]:
    tail_length = min(size, 65_536 + 22)
    file.seek(size - tail_length)
    tail = file.read(tail_length)
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) - at < 22:
        raise MalformedContainer("no end of central directory")
    _, _, _, _, count, directory_size, directory_offset, _ = struct.unpack(
        "<IHHHHIIH", tail[at : at + 22]
    )
    if count == 0xFFFF or 0xFFFFFFFF in (directory_size, directory_offset):
        count, directory_size, directory_offset = _zip64_directory(file, size, tail, at)
    if count > MAX_ZIP_ENTRIES or directory_size > MAX_CENTRAL_DIRECTORY:
        raise MalformedContainer("too many entries")
    if directory_offset + directory_size > size:
        raise MalformedContainer("central directory outside the file")
    file.seek(directory_offset)
    directory = file.read(directory_size)
    names: list[str] = []
    position = 0
    for _ in range(count):
        if directory[position : position + 4] != b"PK\x01\x02" or position + 46 > len(directory):
            raise MalformedContainer("bad central directory entry")
        flags = int.from_bytes(directory[position + 8 : position + 10], "little")
        name_length, extra_length, comment_length = struct.unpack(
            "<HHH", directory[position + 28 : position + 34]
        )
        raw = directory[position + 46 : position + 46 + name_length]
        names.append(raw.decode("utf-8" if flags & 0x800 else "cp437", "replace"))
        position += 46 + name_length + extra_length + comment_length
    return names


def _zip64_directory(file: BinaryIO, size: int, tail: bytes, at: int) -> tuple[int, int, int]:
    locator = tail[at - 20 : at] if at >= 20 else b""
    if not locator.startswith(b"PK\x06\x07"):
        raise MalformedContainer("zip64 locator missing")
    (record_offset,) = struct.unpack("<Q", locator[8:16])
    if record_offset + 56 > size:
        raise MalformedContainer("zip64 record outside the file")
    file.seek(record_offset)
    record = file.read(56)
    if not record.startswith(b"PK\x06\x06"):
        raise MalformedContainer("bad zip64 record")
    count, directory_size, directory_offset = struct.unpack("<QQQ", record[32:56])
    return count, directory_size, directory_offset


# OLE2 (Compound File Binary, [MS-CFB]): a FAT of sector chains; the directory is a chain of
# 128-byte entries whose first is the root; its children form a tree of left/right siblings.
_END_OF_CHAIN = 0xFFFFFFFE
_MAX_SECTOR = 0xFFFFFFFA
_MAX_DIRECTORY_ENTRIES = 100_000


def ole2_root_names(file: BinaryIO, size: int) -> set[str]:
    """The names of the entries directly under the root storage."""
    file.seek(0)
    header = file.read(512)
    if len(header) < 512:
        raise MalformedContainer("short OLE2 header")
    sector_shift = int.from_bytes(header[30:32], "little")
    if sector_shift not in (9, 12):
        raise MalformedContainer("bad sector size")
    sector_size = 1 << sector_shift
    sector_count = max(0, (size - sector_size) // sector_size)

    def read_sector(number: int) -> bytes:
        if number > _MAX_SECTOR or number >= sector_count:
            raise MalformedContainer("sector outside the file")
        file.seek((number + 1) * sector_size)
        data = file.read(sector_size)
        if len(data) != sector_size:
            raise MalformedContainer("short sector")
        return data

    fat_sectors = _fat_sector_numbers(header, read_sector, sector_size, sector_count)
    per_sector = sector_size // 4
    fat_cache: dict[int, tuple[int, ...]] = {}

    def next_sector(number: int) -> int:
        index, offset = divmod(number, per_sector)
        if index >= len(fat_sectors):
            raise MalformedContainer("sector beyond the FAT")
        if index not in fat_cache:
            fat_cache[index] = struct.unpack(f"<{per_sector}I", read_sector(fat_sectors[index]))
        return fat_cache[index][offset]

    entries: list[tuple[str, int, int, int]] = []  # name, left, right, child
    sector = int.from_bytes(header[48:52], "little")
    visited = 0
    while sector != _END_OF_CHAIN:
        visited += 1
        if visited > sector_count or len(entries) > _MAX_DIRECTORY_ENTRIES:
            raise MalformedContainer("directory chain loops")
        data = read_sector(sector)
        for start in range(0, sector_size, 128):
            entry = data[start : start + 128]
            name_length = min(int.from_bytes(entry[64:66], "little"), 64)
            name = entry[: max(0, name_length - 2)].decode("utf-16-le", "replace")
            left, right, child = struct.unpack("<III", entry[68:80])
            entries.append((name, left, right, child))
        sector = next_sector(sector)
    if not entries:
        raise MalformedContainer("empty directory")

    names: set[str] = set()
    pending = [entries[0][3]]
    seen: set[int] = set()
    while pending:
        index = pending.pop()
        if index >= len(entries) or index in seen:
            continue  # NOSTREAM (0xFFFFFFFF) or a loop
        seen.add(index)
        name, left, right, _ = entries[index]
        names.add(name)
        pending += [left, right]
    return names


def _fat_sector_numbers(
    header: bytes, read_sector: Callable[[int], bytes], sector_size: int, sector_count: int
) -> list[int]:
    """Where the FAT lives: 109 places in the header, then chained DIFAT sectors."""
    fat_count = int.from_bytes(header[44:48], "little")
    if fat_count > sector_count:
        raise MalformedContainer("FAT larger than the file")
    numbers = list(struct.unpack("<109I", header[76:512]))
    difat = int.from_bytes(header[68:72], "little")
    per_sector = sector_size // 4 - 1
    hops = 0
    while len(numbers) < fat_count and difat <= _MAX_SECTOR:
        hops += 1
        if hops > sector_count:
            raise MalformedContainer("DIFAT chain loops")
        data = struct.unpack(f"<{per_sector + 1}I", read_sector(difat))
        numbers += data[:per_sector]
        difat = data[per_sector]
    if len(numbers) < fat_count:
        raise MalformedContainer("FAT incomplete")
    return numbers[:fat_count]
