"""Typed results of the API calls and of webhook verification (plain frozen dataclasses)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Token:
    access_token: str
    token_type: str
    expires_in: int
    scope: str
    expires_at: float  # time.monotonic() value after which the token is not used any more

    def __repr__(self) -> str:  # never print the secret, even in a traceback
        return f"Token(scope={self.scope!r}, expires_in={self.expires_in})"


@dataclass(frozen=True)
class Lot:
    name: str
    cpv_code: str | None = None
    number: int | None = None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Lot:
        return cls(name=data["name"], cpv_code=data.get("cpv_code"), number=data.get("number"))


@dataclass(frozen=True)
class CreatedMarket:
    identifier: str
    configuration_url: str
    replayed: bool = False  # the API answered an earlier request with the same Idempotency-Key


@dataclass(frozen=True)
class CreatedApplication:
    identifier: str
    application_url: str
    replayed: bool = False


@dataclass(frozen=True)
class Market:
    identifier: str
    name: str
    status: str  # "draft" | "completed"
    deadline: str | None
    market_type_codes: list[str]
    lots: list[Lot]
    field_keys: list[str]
    completed_at: str | None
    webhook_status: str | None
    raw: dict[str, Any] = field(repr=False, default_factory=dict)

    @property
    def is_completed(self) -> bool:
        return self.status == "completed"

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Market:
        return cls(
            identifier=data["identifier"],
            name=data.get("name", ""),
            status=data.get("status", ""),
            deadline=data.get("deadline"),
            market_type_codes=list(data.get("market_type_codes") or []),
            lots=[Lot.from_json(lot) for lot in data.get("lots") or []],
            field_keys=list(data.get("field_keys") or []),
            completed_at=data.get("completed_at"),
            webhook_status=data.get("webhook_status"),
            raw=data,
        )


@dataclass(frozen=True)
class Application:
    identifier: str
    market_identifier: str
    siret: str | None
    status: str  # "in_progress" | "completed"
    completed_at: str | None
    attestation_available: bool
    documents_package_available: bool
    webhook_status: str | None
    raw: dict[str, Any] = field(repr=False, default_factory=dict)

    @property
    def is_completed(self) -> bool:
        return self.status == "completed"

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Application:
        return cls(
            identifier=data["identifier"],
            market_identifier=data.get("market_identifier", ""),
            siret=data.get("siret"),
            status=data.get("status", ""),
            completed_at=data.get("completed_at"),
            attestation_available=bool(data.get("attestation_available")),
            documents_package_available=bool(data.get("documents_package_available")),
            webhook_status=data.get("webhook_status"),
            raw=data,
        )


@dataclass(frozen=True)
class Download:
    path: Path
    size: int
    content_type: str
    filename: str | None
    etag: str | None


@dataclass(frozen=True)
class WebhookEvent:
    """A verified webhook: its event name, its id (deduplicate on it) and the decoded body."""

    event: str
    webhook_id: str | None
    timestamp: int | None
    payload: dict[str, Any]
