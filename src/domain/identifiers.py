"""Public identifiers of markets and applications, drawn from a CSPRNG."""

from __future__ import annotations

import re
import secrets
from datetime import datetime

_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

MARKET_IDENTIFIER = re.compile(r"^VR-\d{4}-[A-Z0-9]{12}$")
APPLICATION_IDENTIFIER = re.compile(r"^FT\d{8}[A-Z0-9]{8}$")


def _random_chars(length: int) -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


def new_market_identifier(now: datetime) -> str:
    """`VR-<year>-<12 chars>`: 36^12 ≈ 4.7e18 values a year."""
    return f"VR-{now:%Y}-{_random_chars(12)}"


def new_application_identifier(now: datetime) -> str:
    """`FT<YYYYMMDD><8 chars>`: 36^8 ≈ 2.8e12 values a day."""
    return f"FT{now:%Y%m%d}{_random_chars(8)}"


def new_client_id() -> str:
    return "pm_" + secrets.token_hex(16)


def new_secret() -> str:
    """A 256-bit secret, URL-safe."""
    return secrets.token_urlsafe(32)
