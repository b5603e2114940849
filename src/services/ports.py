"""Ports the use cases need, implemented by adapters (and by fakes in tests)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import BinaryIO, Protocol

from passemarche.domain.dossier import Dossier
from passemarche.domain.prefill import CompanyQuery, SourceReport
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


class DocumentRenderer(Protocol):
    """Renders the two attestations of a dossier as PDF bytes (a few pages: bytes are fine)."""

    def candidate_attestation(self, dossier: Dossier) -> bytes: ...

    def buyer_attestation(self, dossier: Dossier) -> bytes: ...


class PackageBuilder(Protocol):
    """Writes the documents ZIP to `target`, streaming each file from storage (constant memory)."""

    def build(
        self, dossier: Dossier, buyer_attestation: bytes, storage: FileStorage, target: BinaryIO
    ) -> None: ...


class ScanVerdict(StrEnum):
    CLEAN = "clean"
    INFECTED = "infected"
    FAILED = "failed"  # the scanner could not decide (error, timeout): not safe to accept
    NOT_SCANNED = "not_scanned"  # no antivirus configured (embedded default): said on the page


@dataclass(frozen=True)
class ScanResult:
    verdict: ScanVerdict
    signature: str | None = None  # the virus name, when infected
    detail: str | None = None


class VirusScanner(Protocol):
    """Scans a stream without loading it whole."""

    def scan(self, stream: BinaryIO) -> ScanResult: ...


@dataclass(frozen=True)
class MailMessage:
    """A plain-text mail to one recipient; the sender is the mailer's configuration."""

    to: str
    subject: str
    text: str = field(repr=False)  # may carry a secret link: kept out of reprs and logs


class MailNotSent(Exception):
    """The mail server refused the message or could not be reached."""


class Mailer(Protocol):
    """Sends one mail now; raises MailNotSent when it cannot."""

    def send(self, message: MailMessage) -> None: ...


class CompanyDataSource(Protocol):
    """The government data sources that pre-fill an application, by the catalogue's source name
    (``insee``, ``rne``, ``bodacc``, ``urssaf_attestation_vigilance``… see
    `domain.prefill.SOURCE_LABELS`).

    `fetch` never raises for HTTP, network or format problems: it reports them as an outcome
    (timeouts connect 10 s / read 30 s, one retry on a transient error). Documents in the report
    are already downloaded and checked by their content (PDF or image); the caller scans and
    stores them like uploads.
    """

    def covers(self, source: str) -> bool:
        """Whether this source is configured here (else its attributes are typed by hand)."""
        ...

    def fetch(self, source: str, query: CompanyQuery) -> SourceReport: ...
