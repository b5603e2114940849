"""Use cases on applications: creation by an editor, reading, and document downloads."""

from __future__ import annotations

from collections.abc import Mapping

from passemarche.domain.application import (
    Application,
    DocumentKind,
    document_filename,
    document_storage_key,
    parse_application_spec,
)
from passemarche.domain.errors import DocumentNotAvailable, Forbidden, NotFound, ValidationFailed
from passemarche.domain.idempotency import IdempotencyRequest
from passemarche.domain.identifiers import (
    APPLICATION_IDENTIFIER,
    MARKET_IDENTIFIER,
    new_application_identifier,
)
from passemarche.services.idempotency import create_once
from passemarche.services.ports import Clock, FileStorage
from passemarche.services.results import ApplicationView, Created, Download
from passemarche.services.tokens import Principal
from passemarche.services.unit_of_work import AbstractUnitOfWork

ALREADY_EXISTS = "Application already exists for this SIRET"
_NOT_AVAILABLE = {
    DocumentKind.ATTESTATION: "Attestation not available",
    DocumentKind.DOCUMENTS_PACKAGE: "Documents package not available",
}
_CONTENT_TYPES = {
    DocumentKind.ATTESTATION: "application/pdf",
    DocumentKind.DOCUMENTS_PACKAGE: "application/zip",
}


def create_application(
    uow: AbstractUnitOfWork,
    clock: Clock,
    principal: Principal,
    market_identifier: str,
    payload: Mapping[str, object],
    idempotency: IdempotencyRequest | None = None,
) -> Created:
    now = clock.now()

    def create() -> str:
        if not MARKET_IDENTIFIER.match(market_identifier):
            raise NotFound()
        market = uow.markets.get(market_identifier)
        if market is None or not market.belongs_to(principal.client_id):
            raise NotFound()
        if not market.is_open_to_candidates(now):
            raise Forbidden()
        spec = parse_application_spec(payload)
        if spec.siret is not None and uow.applications.exists_for_siret(
            market.identifier, spec.siret
        ):
            raise ValidationFailed([ALREADY_EXISTS])
        # 36^8 identifiers a day: a collision would only fail this request on the primary key.
        identifier = new_application_identifier(now)
        uow.applications.add(
            Application(
                identifier=identifier,
                market_identifier=market.identifier,
                editor_client_id=principal.client_id,
                created_at=now,
                siret=spec.siret,
                provider_user_id=spec.provider_user_id,
            )
        )
        return identifier

    # The only unique rule a concurrent create can break is (market, SIRET).
    return create_once(
        uow,
        now,
        principal.client_id,
        idempotency,
        create,
        lambda: ValidationFailed([ALREADY_EXISTS]),
    )


def get_application(
    uow: AbstractUnitOfWork, storage: FileStorage, principal: Principal, identifier: str
) -> ApplicationView:
    with uow:
        application = _owned(uow, principal, identifier)
        available = {
            kind: application.is_completed
            and storage.stat(document_storage_key(kind, identifier)) is not None
            for kind in DocumentKind
        }
        return ApplicationView(
            identifier=application.identifier,
            market_identifier=application.market_identifier,
            siret=str(application.siret) if application.siret else None,
            status=application.status,
            provider_user_id=application.provider_user_id,
            created_at=application.created_at,
            completed_at=application.completed_at,
            attestation_available=available[DocumentKind.ATTESTATION],
            documents_package_available=available[DocumentKind.DOCUMENTS_PACKAGE],
            webhook_status=application.webhook_status,
        )


def get_download(
    uow: AbstractUnitOfWork,
    storage: FileStorage,
    principal: Principal,
    identifier: str,
    kind: DocumentKind,
) -> Download:
    """A completed application's generated document, never rebuilt on request."""
    with uow:
        application = _owned(uow, principal, identifier)
        application.ensure_completed()
    stored = storage.stat(document_storage_key(kind, identifier))
    if stored is None:
        raise DocumentNotAvailable(_NOT_AVAILABLE[kind])
    return Download(
        filename=document_filename(kind, identifier),
        content_type=_CONTENT_TYPES[kind],
        stored=stored,
    )


def _owned(uow: AbstractUnitOfWork, principal: Principal, identifier: str) -> Application:
    if not APPLICATION_IDENTIFIER.match(identifier):
        raise NotFound()
    application = uow.applications.get(identifier)
    if application is None or not application.belongs_to(principal.client_id):
        raise NotFound()
    return application
