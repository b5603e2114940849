"""A candidate's answers: one per attribute of the market, typed or pre-filled, and the files
attached to them (uploads, or documents fetched from a data source)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from passemarche.domain.dossier import Origin


@dataclass(eq=False)
class Answer:
    application_identifier: str
    attribute_key: str
    value: dict[str, Any]
    updated_at: datetime
    origin: str = Origin.DECLARED.value
    source: str | None = None  # the data source of a pre-filled value

    def replace(self, value: dict[str, Any], now: datetime) -> None:
        self.value = dict(value)
        self.origin = Origin.DECLARED.value
        self.source = None
        self.updated_at = now


# Scan states of a stored file: clean and not_scanned may be submitted; pending and failed block
# the submission; infected files are never stored.
SUBMITTABLE_SCANS = frozenset({"clean", "not_scanned"})


@dataclass(eq=False)
class AttachedDocument:
    id: str
    application_identifier: str
    attribute_key: str
    original_name: str
    storage_key: str
    size: int
    content_type: str
    sha256: str
    scan: str
    created_at: datetime
    origin: str = Origin.DECLARED.value
    slot: str = field(default="")  # which part of a composite answer it belongs to (e.g. a row)

    @staticmethod
    def new_id() -> str:
        return "doc_" + secrets.token_hex(12)

    @property
    def may_be_submitted(self) -> bool:
        return self.scan in SUBMITTABLE_SCANS
