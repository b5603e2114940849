"""Ports the use cases need, implemented by adapters (and by fakes in tests)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import BinaryIO, Protocol

from passemarche.domain.webhook import AttemptOutcome


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware, in UTC."""
        ...


@dataclass(frozen=True)
class StoredFile:
    key: str
    size: int
    etag: str


class FileStorage(Protocol):
    """Where generated documents and uploads live; writes are atomic (all or nothing)."""

    def put(self, key: str, chunks: Iterator[bytes] | BinaryIO) -> StoredFile: ...

    def stat(self, key: str) -> StoredFile | None: ...

    def open(self, key: str) -> BinaryIO: ...

    def delete(self, key: str) -> None: ...


class CapabilitySigner(Protocol):
    """Signs the capability tokens that open the buyer and candidate pages."""

    def sign(self, purpose: str, identifier: str) -> str: ...

    def verify(self, purpose: str, identifier: str, token: str) -> bool: ...


class JobQueue(Protocol):
    """Background jobs, by name, with primitive arguments (ids, never objects).

    Services enqueue only after their unit of work has committed, so a job never sees data that
    is not there yet. A delay asks for the job to run later (retries).
    """

    def enqueue(self, job: str, *args: str, delay: timedelta | None = None) -> None: ...


class WebhookSender(Protocol):
    """POSTs one webhook body; never raises for HTTP or network failures, it reports them."""

    def send(self, url: str, body: bytes, headers: Mapping[str, str]) -> AttemptOutcome: ...
