"""The file-storage contract: what every `FileStorage` adapter must do, written once.

A test module binds it by providing a `storage` fixture (a fresh, empty store) and subclassing
`FileStorageContract`. See tests/integration/test_file_storage.py.
"""

from __future__ import annotations

import hashlib
import io
import os
import tracemalloc
from collections.abc import Iterator

import pytest
from passemarche.adapters.file_storage import UnsafeStorageKey

MIB = 1024 * 1024
UNSAFE_KEYS = ["", "/", "/etc/passwd", ".", "..", "../outside", "a/../../outside", "a/../b"]


def read_back(storage, key: str, chunk: int = 7) -> bytes:
    """Reads in small pieces, as a download does, and closes the stream."""
    stream = storage.open(key)
    try:
        parts = []
        while piece := stream.read(chunk):
            assert len(piece) <= chunk
            parts.append(piece)
        return b"".join(parts)
    finally:
        stream.close()


def pattern_chunks(total: int, chunk: int = MIB) -> Iterator[bytes]:
    block = bytes(range(256)) * (chunk // 256)
    sent = 0
    while sent < total:
        piece = block[: min(chunk, total - sent)]
        sent += len(piece)
        yield piece


class FileStorageContract:
    def test_put_an_iterator_of_chunks(self, storage):
        stored = storage.put("dossiers/a/attestation.pdf", iter([b"%PDF-", b"1.7 ", b"", b"body"]))
        assert stored.key == "dossiers/a/attestation.pdf"
        assert stored.size == 13
        assert stored.etag
        assert read_back(storage, "dossiers/a/attestation.pdf") == b"%PDF-1.7 body"

    def test_put_bytes_in_memory(self, storage):
        stored = storage.put("k/bytes.bin", io.BytesIO(b"\x00\x01binary\xff"))
        assert stored.size == 9
        assert read_back(storage, "k/bytes.bin", chunk=3) == b"\x00\x01binary\xff"

    def test_put_an_open_file(self, storage, tmp_path):
        content = os.urandom(300_000)
        path = tmp_path / "upload.bin"
        path.write_bytes(content)
        with path.open("rb") as source:
            stored = storage.put("uploads/file.bin", source)
        assert stored.size == len(content)
        assert read_back(storage, "uploads/file.bin", chunk=65536) == content

    def test_an_empty_file(self, storage):
        assert storage.put("empty", iter([])).size == 0
        assert storage.stat("empty").size == 0
        assert read_back(storage, "empty") == b""

    def test_stat_reports_size_and_an_etag_that_follows_the_content(self, storage):
        first = storage.put("doc.txt", iter([b"version one"]))
        assert storage.stat("doc.txt") == first
        second = storage.put("doc.txt", iter([b"version two"]))  # same size, other content
        assert second.size == first.size
        assert second.etag != first.etag
        assert storage.stat("doc.txt") == second
        third = storage.put("doc.txt", iter([b"a longer third version"]))
        assert third.size == 22
        assert third.etag not in (first.etag, second.etag)
        assert read_back(storage, "doc.txt") == b"a longer third version"

    def test_a_missing_key(self, storage):
        assert storage.stat("nothing/here") is None
        with pytest.raises(FileNotFoundError):
            storage.open("nothing/here")
        storage.delete("nothing/here")  # deleting what is not there is fine

    def test_delete(self, storage):
        storage.put("gone/soon", iter([b"x"]))
        storage.put("gone/kept", iter([b"y"]))
        storage.delete("gone/soon")
        assert storage.stat("gone/soon") is None
        assert read_back(storage, "gone/kept") == b"y"

    @pytest.mark.parametrize("key", UNSAFE_KEYS)
    def test_unsafe_keys_are_refused(self, storage, key):
        with pytest.raises(UnsafeStorageKey):
            storage.put(key, iter([b"x"]))
        with pytest.raises(UnsafeStorageKey):
            storage.open(key)
        with pytest.raises(UnsafeStorageKey):
            storage.delete(key)
        assert storage.stat(key) is None

    def test_a_failed_upload_leaves_the_previous_version(self, storage):
        storage.put("atomic.bin", iter([b"previous"]))

        def broken() -> Iterator[bytes]:
            yield from pattern_chunks(10 * MIB)  # past the multipart threshold
            raise OSError("client went away")

        with pytest.raises(OSError, match="client went away"):
            storage.put("atomic.bin", broken())
        with pytest.raises(OSError, match="client went away"):
            storage.put("never-written.bin", broken())
        assert read_back(storage, "atomic.bin") == b"previous"
        assert storage.stat("never-written.bin") is None

    def test_a_large_put_streams_without_holding_the_file(self, storage):
        total = 20 * MIB
        storage.put("warm-up", iter([b"x"]))  # connections, caches, imports: not the file
        tracemalloc.start()
        try:
            stored = storage.put("big/archive.zip", pattern_chunks(total))
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert stored.size == total
        assert peak < 16 * MIB, f"put peaked at {peak / MIB:.1f} MiB for a 20 MiB file"
        digest = hashlib.sha256()
        stream = storage.open("big/archive.zip")
        try:
            while piece := stream.read(MIB):
                digest.update(piece)
        finally:
            stream.close()
        expected = hashlib.sha256()
        for piece in pattern_chunks(total):
            expected.update(piece)
        assert digest.hexdigest() == expected.hexdigest()
        assert storage.stat("big/archive.zip").size == total
