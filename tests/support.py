"""Test helpers that need no framework: a controllable clock, request payloads, and the
recording doubles of the ports (job queue, mailer, file storage) several suites share."""

from __future__ import annotations

import hashlib
import io
from datetime import UTC, datetime, timedelta
from typing import Any

from passemarche.services.ports import MailMessage, StoredFile

VALID_SIRETS = ["13002526500013", "73282932000074", "35600000000048", "35600000009075"]
INVALID_SIRETS = [
    "12345678901234",
    "13002526500014",
    "35600000000049",
    "1300252650001",
    "ABCD1234567890",
    "１３００２５２６５０００１３",
]


class FixedClock:
    def __init__(self, moment: datetime | None = None) -> None:
        self.moment = moment or datetime(2026, 6, 15, 12, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self.moment

    def advance(self, **delta: float) -> None:
        self.moment += timedelta(**delta)


def market_payload(**overrides: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "name": "Fourniture de matériel informatique",
        "lot_name": "Lot 1 - Ordinateurs portables",
        "deadline": "2030-12-31T23:59:59Z",
        "siret": "13002526500013",
        "market_type_codes": ["supplies", "services"],
        "provider_user_id": "user-acheteur-42",
    }
    payload.update(overrides)
    return {key: value for key, value in payload.items() if value is not ...}


class RecordingJobQueue:
    """Records jobs instead of running them: `calls` holds (job, args, delay)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[str, ...], Any]] = []

    def enqueue(self, job: str, *args: str, delay: Any = None) -> None:
        self.calls.append((job, args, delay))

    @property
    def jobs(self) -> list[tuple[str, tuple[str, ...]]]:
        """The jobs without their delays."""
        return [(job, args) for job, args, _ in self.calls]


class RecordingMailer:
    def __init__(self) -> None:
        self.sent: list[MailMessage] = []

    def send(self, message: MailMessage) -> None:
        self.sent.append(message)


class FakeStorage:
    """File storage in a dict."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}

    def put(self, key: str, chunks: Any) -> StoredFile:
        self.files[key] = b"".join(chunks)
        stored = self.stat(key)
        assert stored is not None
        return stored

    def stat(self, key: str) -> StoredFile | None:
        if key not in self.files:
            return None
        etag = hashlib.sha256(self.files[key]).hexdigest()[:8]
        return StoredFile(key=key, size=len(self.files[key]), etag=etag)

    def open(self, key: str) -> io.BytesIO:
        return io.BytesIO(self.files[key])

    def delete(self, key: str) -> None:
        self.files.pop(key, None)
