"""Test helpers that need no framework: a controllable clock and request payloads."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

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
