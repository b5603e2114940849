"""Time helpers shared by the core: everything is stored and compared in UTC."""

from __future__ import annotations

from datetime import UTC, datetime


def ensure_utc(moment: datetime) -> datetime:
    """Aware datetimes are converted to UTC; naive ones are taken to be UTC already."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)
