"""Applications: a company's candidacy to one market."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from passemarche.domain.errors import ApplicationNotCompleted, InvalidSiret, ValidationFailed
from passemarche.domain.siret import Siret
from passemarche.domain.validation import Messages, is_blank


class ApplicationStatus(StrEnum):
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"


class DocumentKind(StrEnum):
    ATTESTATION = "attestation"
    DOCUMENTS_PACKAGE = "documents_package"


@dataclass(frozen=True)
class ApplicationSpec:
    siret: Siret | None
    provider_user_id: str | None


@dataclass(eq=False)
class Application:
    identifier: str
    market_identifier: str
    editor_client_id: str
    created_at: datetime
    siret: Siret | None = None
    provider_user_id: str | None = None
    status: str = ApplicationStatus.IN_PROGRESS.value
    completed_at: datetime | None = None
    webhook_status: str | None = None
    company_name: str | None = None
    lot_numbers: list[int] = field(default_factory=list)
    declaration_accepted_at: datetime | None = None
    documents_generated_at: datetime | None = None

    def belongs_to(self, client_id: str) -> bool:
        return self.editor_client_id == client_id

    @property
    def is_completed(self) -> bool:
        return self.status == ApplicationStatus.COMPLETED.value

    def submit(self, now: datetime) -> None:
        """Mark the application completed; submitting twice is harmless."""
        if self.is_completed:
            return
        self.status = ApplicationStatus.COMPLETED.value
        self.completed_at = now

    def ensure_completed(self) -> None:
        if not self.is_completed:
            raise ApplicationNotCompleted()


def parse_application_spec(raw: Mapping[str, object]) -> ApplicationSpec:
    errors = Messages()
    siret: Siret | None = None
    value = raw.get("siret")
    if not is_blank(value):
        try:
            siret = Siret(value)
        except InvalidSiret:
            errors.add("Siret is invalid")
    provider_user_id = errors.optional_string("Provider user id", raw.get("provider_user_id"))
    if errors:
        raise ValidationFailed(errors.items)
    return ApplicationSpec(siret=siret, provider_user_id=provider_user_id)


def document_filename(kind: DocumentKind, identifier: str) -> str:
    extension = "pdf" if kind is DocumentKind.ATTESTATION else "zip"
    return f"{kind.value}_{identifier}.{extension}"


def document_storage_key(kind: DocumentKind, identifier: str) -> str:
    return f"applications/{identifier}/{document_filename(kind, identifier)}"
