"""Submitting an application, then generating its documents in the background.

Submission is one transaction: the application becomes completed (submitting twice is
harmless). A background job then renders the candidate and buyer attestations, builds the ZIP,
stores them, and only then records and enqueues `market_application.completed`: the editor never
hears of a dossier whose files are not all there. A failed generation raises, and the job is run
again (RQ's failed registry, or by hand); every step is idempotent.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from datetime import datetime

from passemarche.domain.answers import Answer, AttachedDocument
from passemarche.domain.application import (
    Application,
    DocumentKind,
    document_storage_key,
)
from passemarche.domain.catalogue import CatalogueSnapshot
from passemarche.domain.dossier import (
    Dossier,
    DossierAnswer,
    DossierDocument,
    DossierMarket,
    DossierSection,
    Origin,
    package_member_name,
)
from passemarche.domain.errors import Forbidden, NotFound, ValidationFailed
from passemarche.domain.market import MARKET_TYPE_LABELS, Market
from passemarche.domain.prefill import source_label
from passemarche.domain.webhook import WebhookDelivery, WebhookEvent, application_completed_payload
from passemarche.services import webhooks
from passemarche.services.catalogue import catalogue_snapshot
from passemarche.services.ports import (
    Clock,
    DocumentRenderer,
    FileStorage,
    JobQueue,
    PackageBuilder,
)
from passemarche.services.unit_of_work import AbstractUnitOfWork

GENERATE_DOCUMENTS = "generate_documents"

DECLARATION = (
    "Je déclare sur l’honneur ne pas entrer dans l’un des cas d’exclusion prévus aux articles "
    "L.2141-1 à L.2141-5 et L.2141-7 à L.2141-10 du code de la commande publique, et que les "
    "renseignements fournis sont exacts."
)
DEFENCE_DECLARATION = (
    " Pour un marché de défense ou de sécurité, je déclare également ne pas entrer dans l’un des "
    "cas prévus aux articles L.2341-1 à L.2341-3 du même code."
)


def declaration_for(market: Market) -> str:
    return declaration_text(market.is_defense)


def declaration_text(defense: bool) -> str:
    return DECLARATION + (DEFENCE_DECLARATION if defense else "")


def submit_application(
    uow: AbstractUnitOfWork, clock: Clock, jobs: JobQueue, identifier: str, base_url: str
) -> None:
    """Check the application is complete, mark it completed, and start the generation."""
    now = clock.now()
    catalogue = catalogue_snapshot(uow)
    with uow:
        application = uow.applications.get(identifier)
        if application is None:
            raise NotFound()
        if application.is_completed:
            return  # submitting twice is harmless
        market = uow.markets.get(application.market_identifier)
        assert market is not None
        if not market.is_open_to_candidates(now):
            raise Forbidden(["La date limite de candidature est dépassée."])
        problems = _missing(
            application,
            market,
            catalogue,
            uow.answers.for_application(identifier),
            uow.documents.for_application(identifier),
        )
        if problems:
            raise ValidationFailed(problems)
        application.submit(now)
        uow.commit()
    jobs.enqueue(GENERATE_DOCUMENTS, identifier, base_url)


def _missing(
    application: Application,
    market: Market,
    catalogue: CatalogueSnapshot,
    answers: Sequence[Answer],
    documents: Sequence[AttachedDocument],
) -> list[str]:
    """What still prevents the submission, in French, in the order of the pages."""
    problems = []
    if application.siret is None:
        problems.append("Indiquez le SIRET de votre entreprise.")
    if market.lots and not application.lot_numbers:
        problems.append("Choisissez au moins un lot.")
    answered = {a.attribute_key for a in answers if a.value}
    attached = {d.attribute_key for d in documents}
    for key in market.field_keys:
        if key not in answered and key not in attached:
            attribute = catalogue.attribute(key)
            title = attribute.candidate_title if attribute else key
            problems.append(f"Renseignez « {title.strip()} ».")
    if any(d.scan == "pending" for d in documents):
        problems.append(
            "Un fichier est encore en cours d’analyse antivirus : réessayez dans un instant."
        )
    if any(d.scan == "failed" for d in documents):
        problems.append(
            "Un fichier n’a pas pu être analysé par l’antivirus : "
            "supprimez-le et déposez-le à nouveau."
        )
    if application.declaration_accepted_at is None:
        problems.append("Acceptez la déclaration sur l’honneur.")
    return problems


def build_dossier(
    uow: AbstractUnitOfWork, catalogue: CatalogueSnapshot, identifier: str, now: datetime,
    test_watermark: bool,
) -> Dossier:  # fmt: skip
    """What the documents say, from a completed application (inside the caller's uow)."""
    application = uow.applications.get(identifier)
    if application is None:
        raise NotFound()
    market = uow.markets.get(application.market_identifier)
    assert market is not None
    answers = {a.attribute_key: a for a in uow.answers.for_application(identifier)}
    files: dict[str, list[AttachedDocument]] = {}
    for document in uow.documents.for_application(identifier):
        files.setdefault(document.attribute_key, []).append(document)
    sections = []
    categories = [c for c in catalogue.categories if any(
        a.category_key == c.key and a.key in market.field_keys for a in catalogue.attributes
    )]  # fmt: skip
    for section_number, category in enumerate(categories, start=1):
        items = []
        keys = [
            a
            for a in catalogue.attributes
            if a.category_key == category.key and a.key in market.field_keys
        ]
        for answer_number, attribute in enumerate(keys, start=1):
            answer = answers.get(attribute.key)
            origin = Origin(answer.origin) if answer else Origin.DECLARED
            documents = tuple(
                DossierDocument(
                    attribute_key=d.attribute_key,
                    original_name=d.original_name,
                    package_name=package_member_name(
                        Origin(d.origin),
                        section_number,
                        answer_number,
                        d.attribute_key,
                        d.original_name,
                    ),
                    storage_key=d.storage_key,
                    size=d.size,
                    content_type=d.content_type,
                    origin=Origin(d.origin),
                )
                for d in files.get(attribute.key, [])
            )
            items.append(
                DossierAnswer(
                    key=attribute.key,
                    title=attribute.candidate_title.strip(),
                    lines=answer_lines(answer.value if answer else {}),
                    origin=origin,
                    source=source_label(answer.source) if answer and answer.source else None,
                    documents=documents,
                )
            )
        sections.append(
            DossierSection(title=category.candidate_label.strip(), answers=tuple(items))
        )
    lots = [
        f"Lot {lot.number} : {lot.name}"
        for lot in market.lots
        if lot.number in application.lot_numbers
    ]
    return Dossier(
        application_identifier=application.identifier,
        submitted_at=application.completed_at or now,
        market=DossierMarket(
            identifier=market.identifier,
            name=market.name,
            buyer_name=market.buyer_name,
            buyer_siret=str(market.buyer_siret),
            deadline=market.deadline,
            market_type_labels=tuple(
                MARKET_TYPE_LABELS.get(c, c) for c in market.market_type_codes
            ),
            lots_chosen=tuple(lots),
        ),
        company_siret=str(application.siret) if application.siret else "",
        company_name=application.company_name,
        sections=tuple(sections),
        declaration=declaration_for(market),
        generated_at=now,
        test_watermark=test_watermark,
    )


def answer_lines(value: dict[str, object]) -> tuple[str, ...]:
    """A stored answer as lines of text: `lines` when the input type gave them, else its text;
    then the candidate's explanation of a pre-filled finding, if any."""
    lines = value.get("lines")
    text = value.get("text")
    if isinstance(lines, list):
        found = tuple(str(line) for line in lines)
    else:
        found = (str(text),) if text not in (None, "") else ()
    explanation = value.get("explanation")
    if isinstance(explanation, str) and explanation.strip():
        found += (f"Explication du candidat : {explanation.strip()}",)
    return found


def generate_documents(
    uow: AbstractUnitOfWork,
    clock: Clock,
    storage: FileStorage,
    renderer: DocumentRenderer,
    packager: PackageBuilder,
    jobs: JobQueue,
    identifier: str,
    base_url: str,
    test_watermark: bool = True,
) -> None:
    """Render, package and store the documents, then emit `market_application.completed`."""
    now = clock.now()
    catalogue = catalogue_snapshot(uow)
    with uow:
        application = uow.applications.get(identifier)
        if application is None:
            raise NotFound()
        application.ensure_completed()
        already = application.documents_generated_at is not None
        dossier = (
            None if already else build_dossier(uow, catalogue, identifier, now, test_watermark)
        )
    if dossier is not None:
        buyer_pdf = renderer.buyer_attestation(dossier)
        candidate_pdf = renderer.candidate_attestation(dossier)
        with tempfile.TemporaryFile() as package:
            packager.build(dossier, buyer_pdf, storage, package)
            package.seek(0)
            storage.put(document_storage_key(DocumentKind.DOCUMENTS_PACKAGE, identifier), package)
        storage.put(
            document_storage_key(DocumentKind.ATTESTATION, identifier), iter([candidate_pdf])
        )
    with uow:
        application = uow.applications.get(identifier)
        assert application is not None
        if application.documents_generated_at is None:
            application.documents_generated_at = now
        if uow.webhooks.latest_for(identifier) is not None:
            uow.commit()
            return  # notified already: a repeated job is harmless
        base = base_url.rstrip("/")
        payload = application_completed_payload(
            application,
            now,
            attestation_url=f"{base}/api/v1/market_applications/{identifier}/attestation",
            documents_package_url=f"{base}/api/v1/market_applications/{identifier}/documents_package",
        )
        delivery = WebhookDelivery.new(
            WebhookEvent.APPLICATION_COMPLETED,
            application.editor_client_id,
            identifier,
            payload,
            now,
        )
        uow.webhooks.add(delivery)
        application.webhook_status = delivery.status
        uow.commit()
        delivery_id = delivery.id
    webhooks.enqueue_delivery(jobs, delivery_id)
