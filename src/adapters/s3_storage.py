"""File storage in an S3-compatible bucket (AWS S3, MinIO, Scaleway, OVH…): streamed uploads.

Credentials come from boto3's usual sources (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, a role),
never from the application's configuration. An object only becomes visible once its upload has
completed (a failed multipart upload is aborted), so writes are all or nothing, as with the
local adapter.
"""

from __future__ import annotations

import io
import sys
from collections.abc import Iterator
from typing import Any, BinaryIO, cast

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config as BotoConfig
from botocore.exceptions import ClientError
from passemarche.adapters.file_storage import UnsafeStorageKey
from passemarche.services.ports import StoredFile

MIB = 1024 * 1024
# Parts of 5 MiB (S3's smallest, so up to ~48 GiB in 10,000 parts): one part is sent while the
# next is read, so an upload holds ~10-12 MiB whatever the file's size (s3transfer's default
# would queue 10 parts). Files under the threshold go up in a single PutObject.
TRANSFER = TransferConfig(
    multipart_threshold=5 * MIB,
    multipart_chunksize=5 * MIB,
    max_concurrency=2,
    preferred_transfer_client="classic",
)
TRANSFER.max_in_memory_upload_chunks = 1  # s3transfer's setting; boto3's constructor omits it
_MISSING = {"404", "NoSuchKey", "NotFound"}


def _check_key(key: str) -> str:
    if not key or key.startswith("/") or any(p in ("", ".", "..") for p in key.split("/")):
        raise UnsafeStorageKey(key)
    return key


class _IteratorReader:
    """A non-seekable, read-only file over an iterator of byte chunks, for `upload_fileobj`.

    `read(n)` returns exactly n bytes until the end (s3transfer takes a short read for the end).
    Chunks are copied into one growing buffer as they arrive and dropped at once, so a read holds
    about n bytes plus one chunk, never the chunks and their concatenation side by side.
    """

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = iter(chunks)
        self._pending = memoryview(b"")

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def read(self, size: int | None = -1) -> bytes:
        wanted = sys.maxsize if size is None or size < 0 else size
        out = io.BytesIO()
        while wanted > 0:
            if not self._pending:
                chunk = next(self._chunks, None)
                if chunk is None:
                    break
                self._pending = memoryview(chunk).cast("B")
                continue
            piece = self._pending[:wanted]
            out.write(piece)
            wanted -= len(piece)
            self._pending = self._pending[len(piece) :]
        return out.getvalue()  # shares BytesIO's buffer: no second copy


class S3FileStorage:
    def __init__(
        self,
        bucket: str,
        endpoint_url: str | None = None,
        region: str | None = None,
        prefix: str = "",
        client: Any = None,
    ) -> None:
        self.bucket = bucket
        prefix = prefix.strip("/")
        if prefix:
            _check_key(prefix)
        self.prefix = f"{prefix}/" if prefix else ""
        if client is None:
            options: dict[str, Any] = {"retries": {"mode": "standard"}}
            if endpoint_url:
                # Other S3 implementations: path-style addressing, and checksums only where the
                # API requires them (several reject the newer default checksum headers).
                options.update(
                    s3={"addressing_style": "path"},
                    request_checksum_calculation="when_required",
                    response_checksum_validation="when_required",
                )
            client = boto3.client(
                "s3",
                endpoint_url=endpoint_url or None,
                region_name=region or None,
                config=BotoConfig(**options),
            )
        self.client = client

    def _object_key(self, key: str) -> str:
        return self.prefix + _check_key(key)

    def put(self, key: str, chunks: Iterator[bytes] | BinaryIO) -> StoredFile:
        object_key = self._object_key(key)
        source = (
            chunks if hasattr(chunks, "read") else _IteratorReader(cast(Iterator[bytes], chunks))
        )
        self.client.upload_fileobj(source, self.bucket, object_key, Config=TRANSFER)
        stored = self.stat(key)
        if stored is None:  # pragma: no cover  (the store lost what it just acknowledged)
            raise RuntimeError(f"{object_key} missing right after its upload")
        return stored

    def stat(self, key: str) -> StoredFile | None:
        try:
            head = self.client.head_object(Bucket=self.bucket, Key=self._object_key(key))
        except UnsafeStorageKey:
            return None
        except ClientError as error:
            if _is_missing(error):
                return None
            raise
        return StoredFile(key=key, size=int(head["ContentLength"]), etag=head["ETag"].strip('"'))

    def open(self, key: str) -> BinaryIO:
        """The object's streaming body: read(n) pulls from the network, nothing is held whole."""
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=self._object_key(key))
        except ClientError as error:
            if _is_missing(error):
                raise FileNotFoundError(key) from error
            raise
        return cast(BinaryIO, response["Body"])

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self._object_key(key))


def _is_missing(error: ClientError) -> bool:
    details = error.response.get("Error", {})
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return str(details.get("Code")) in _MISSING or status == 404
