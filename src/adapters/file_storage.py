"""File storage in a local folder: atomic writes, streamed reads, keys confined to the root."""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from passemarche.services.ports import StoredFile

_CHUNK = 1024 * 1024


class UnsafeStorageKey(ValueError):
    pass


class LocalFileStorage:
    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).resolve()

    def _path(self, key: str) -> Path:
        parts = PurePosixPath(key).parts
        if not parts or key.startswith("/") or any(p in ("..", ".", "") for p in parts):
            raise UnsafeStorageKey(key)
        path = self.root.joinpath(*parts)
        if self.root not in path.parents:
            raise UnsafeStorageKey(key)
        return path

    def put(self, key: str, chunks: Iterator[bytes] | BinaryIO) -> StoredFile:
        """Written to a temporary file and renamed into place: readers never see half a file."""
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        source: Iterator[bytes] = (
            iter(lambda: chunks.read(_CHUNK), b"") if hasattr(chunks, "read") else chunks  # type: ignore[union-attr,assignment]
        )
        descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
        try:
            with os.fdopen(descriptor, "wb") as target:
                for chunk in source:
                    target.write(chunk)
                target.flush()
                os.fsync(target.fileno())
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        stored = self.stat(key)
        assert stored is not None
        return stored

    def stat(self, key: str) -> StoredFile | None:
        try:
            info = self._path(key).stat()
        except (FileNotFoundError, UnsafeStorageKey):
            return None
        tag = hashlib.sha256(f"{key}:{info.st_size}:{info.st_mtime_ns}".encode()).hexdigest()
        return StoredFile(key=key, size=info.st_size, etag=tag[:32])

    def open(self, key: str) -> BinaryIO:
        return self._path(key).open("rb")

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)
