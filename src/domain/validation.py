"""Small helpers that turn untrusted JSON values into typed values, collecting messages.

The messages follow the reference's Rails-style full messages ("Name can't be blank").
"""

from __future__ import annotations

from datetime import datetime

from passemarche.domain.clock import ensure_utc

MAX_STRING_LENGTH = 255


def is_blank(value: object) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return value.strip() == ""
    if isinstance(value, list | dict | tuple):
        return len(value) == 0
    return False


class Messages:
    """Accumulates full messages in the order the checks run."""

    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, message: str) -> None:
        self.items.append(message)

    def __bool__(self) -> bool:
        return bool(self.items)

    def required_string(self, label: str, value: object) -> str | None:
        if is_blank(value):
            self.add(f"{label} can't be blank")
            return None
        return self.optional_string(label, value)

    def optional_string(self, label: str, value: object) -> str | None:
        if value is None:
            return None
        if not isinstance(value, str):
            self.add(f"{label} must be a string")
            return None
        value = value.strip()
        if not is_storable_text(value):
            self.add(f"{label} contains invalid characters")
            return None
        if len(value) > MAX_STRING_LENGTH:
            self.add(f"{label} is too long (maximum is {MAX_STRING_LENGTH} characters)")
            return None
        return value or None


def is_storable_text(value: str) -> bool:
    """No NUL character (PostgreSQL refuses them) and valid Unicode (no lone surrogate)."""
    if "\x00" in value:
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def parse_iso_datetime(value: object) -> datetime | None:
    """ISO 8601 date-time (a trailing `Z` allowed); naive values are taken as UTC."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    if "T" not in text and " " not in text:
        return None
    try:
        return ensure_utc(datetime.fromisoformat(text))
    except (ValueError, OverflowError):  # year 9999 with a negative offset overflows in UTC
        return None
