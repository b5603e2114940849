"""French labels and formats shared by the pages."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from passemarche.domain.market import MARKET_TYPE_LABELS
from passemarche.domain.prefill import source_label

PARIS = ZoneInfo("Europe/Paris")


WEBHOOK_STATUS_LABELS = {
    None: "Aucune notification",
    "pending": "En attente d’envoi",
    "processing": "Envoi en cours",
    "delivered": "Transmise",
    "failed": "Échec de la transmission",
}

_MONTHS = (
    "janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre",
    "octobre", "novembre", "décembre",
)  # fmt: skip


def paris_datetime(moment: datetime | None) -> str:
    """« 31 décembre 2030 à 23 h 59 » in Paris time (times are stored in UTC)."""
    if moment is None:
        return ""
    local = moment.astimezone(PARIS)
    day = "1er" if local.day == 1 else str(local.day)  # French ordinal for the first
    return f"{day} {_MONTHS[local.month - 1]} {local.year} à {local.hour} h {local.minute:02d}"


def market_types(codes: tuple[str, ...] | list[str]) -> list[str]:
    return [MARKET_TYPE_LABELS.get(code, code) for code in codes]


def typography(text: str) -> str:
    """French typography for catalogue texts typed with straight apostrophes ("d' exclusion")."""
    return text.replace("' ", "’").replace("'", "’").strip()


def source(name: str | None) -> str:
    """A data source's French label (the catalogue's source name when unknown)."""
    return source_label(name) if name else "source de données publique"
