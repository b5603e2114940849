"""Small result objects the use cases return: plain values, safe to use after the unit of work."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from passemarche.services.ports import StoredFile


def detached_copy(row: Any) -> Any:
    """A plain copy of a mapped entity, safe to read after its unit of work is closed."""
    return type(row)(**{name: getattr(row, name) for name in row.__dataclass_fields__})


@dataclass(frozen=True)
class Created:
    identifier: str
    replayed: bool = False


@dataclass(frozen=True)
class LotView:
    number: int
    name: str
    cpv_code: str | None


@dataclass(frozen=True)
class MarketView:
    identifier: str
    name: str
    buyer_siret: str
    status: str
    deadline: datetime
    market_type_codes: tuple[str, ...]
    lots: tuple[LotView, ...]
    lot_limit: int | None
    field_keys: tuple[str, ...]
    provider_user_id: str | None
    created_at: datetime
    completed_at: datetime | None
    webhook_status: str | None


@dataclass(frozen=True)
class ApplicationView:
    identifier: str
    market_identifier: str
    siret: str | None
    status: str
    provider_user_id: str | None
    created_at: datetime
    completed_at: datetime | None
    attestation_available: bool
    documents_package_available: bool
    webhook_status: str | None


@dataclass(frozen=True)
class Download:
    filename: str
    content_type: str
    stored: StoredFile
