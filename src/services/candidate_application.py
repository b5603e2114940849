"""The candidate's side of an application: what its pages show and what each step saves.

Every step saves at once (leaving and coming back keeps the answers); nothing here completes the
application — `submission.submit_application` does, after checking everything is there.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, BinaryIO

from passemarche.domain.answers import Answer, AttachedDocument
from passemarche.domain.catalogue import Attribute, CatalogueSnapshot, Category
from passemarche.domain.dossier import Origin
from passemarche.domain.errors import DomainError, NotFound, ValidationFailed
from passemarche.domain.prefill import FetchStatus, manual_reason
from passemarche.domain.siret import Siret
from passemarche.services.catalogue import catalogue_snapshot
from passemarche.services.ports import Clock, FileStorage, ScanVerdict, VirusScanner
from passemarche.services.results import LotView, detached_copy
from passemarche.services.unit_of_work import AbstractUnitOfWork, ConflictError


class ApplicationAlreadySubmitted(DomainError):
    message = "Cette candidature a déjà été transmise : elle ne peut plus être modifiée."


class InfectedFile(DomainError):
    message = "Ce fichier contient un virus : il a été refusé et n’a pas été conservé."


class PrefilledAnswer(DomainError):
    message = "Cette information a été récupérée automatiquement : elle n’est pas modifiable."


class PrefilledDocument(DomainError):
    message = "Ce document a été récupéré automatiquement : il ne peut pas être supprimé."


@dataclass(frozen=True)
class CandidateStep:
    key: str
    title: str


@dataclass(frozen=True)
class CandidateApplication:
    identifier: str
    market_identifier: str
    market_name: str
    market_deadline: datetime
    market_is_defense: bool
    editor_name: str
    candidate_return_url: str | None
    siret: str | None
    siret_locked: bool  # given by the editor, or confirmed once: data sources depend on it
    company_name: str | None
    lots: tuple[LotView, ...]
    lot_limit: int | None
    lot_numbers: tuple[int, ...]
    status: str
    completed_at: datetime | None
    declaration_accepted: bool
    webhook_status: str | None
    attributes: tuple[Attribute, ...]  # the market's, in catalogue order
    categories: tuple[Category, ...]
    answers: Mapping[str, Answer]
    documents: tuple[AttachedDocument, ...]
    buyer_name: str | None = None
    prefill: Mapping[str, str] = field(default_factory=dict)  # source -> fetch status

    @property
    def is_completed(self) -> bool:
        return self.status == "completed"

    def attributes_of(self, category_key: str) -> list[Attribute]:
        return [a for a in self.attributes if a.category_key == category_key]

    def documents_of(self, key: str) -> list[AttachedDocument]:
        return [d for d in self.documents if d.attribute_key == key]

    @property
    def has_prefill(self) -> bool:
        """Whether some of the market's attributes come from a data source."""
        return any(a.source for a in self.attributes)

    def is_prefilled(self, key: str) -> bool:
        answer = self.answers.get(key)
        return answer is not None and answer.origin == Origin.PREFILLED.value

    def may_explain(self, attribute: Attribute) -> bool:
        """A source reported a finding against the company (a BODACC notice): the candidate may
        explain it, with text and files."""
        answer = self.answers.get(attribute.key)
        return (
            self.is_prefilled(attribute.key)
            and attribute.source == "bodacc"
            and answer is not None
            and answer.value.get("choice") == "oui"
        )

    def manual_reason(self, attribute: Attribute) -> str | None:
        """Why an attribute a source should give is typed by hand (French), else None."""
        if not attribute.source or self.is_prefilled(attribute.key):
            return None
        status = self.prefill.get(attribute.source)
        if status is None or not FetchStatus(status).is_finished:
            return None
        return manual_reason(attribute.source, FetchStatus(status))

    def steps(self) -> list[CandidateStep]:
        steps = [CandidateStep("company_identification", "Identification de l’entreprise")]
        if self.lots:
            steps.append(CandidateStep("lots", "Lots"))
        if self.has_prefill:
            steps.append(CandidateStep("prefill", "Récupération de vos informations"))
        steps += [CandidateStep(c.key, c.candidate_label.strip()) for c in self.categories]
        steps.append(CandidateStep("declaration", "Déclaration sur l’honneur"))
        steps.append(CandidateStep("summary", "Récapitulatif"))
        return steps


def candidate_application(uow: AbstractUnitOfWork, identifier: str) -> CandidateApplication:
    catalogue = catalogue_snapshot(uow)
    with uow:
        application = uow.applications.get(identifier)
        if application is None:
            raise NotFound()
        market = uow.markets.get(application.market_identifier)
        editor = uow.editors.get(application.editor_client_id)
        assert market is not None and editor is not None
        attributes = _market_attributes(catalogue, market.field_keys)
        used = {a.category_key for a in attributes}
        return CandidateApplication(
            identifier=application.identifier,
            market_identifier=market.identifier,
            market_name=market.name,
            market_deadline=market.deadline,
            market_is_defense=market.is_defense,
            editor_name=editor.name,
            candidate_return_url=editor.candidate_return_url,
            siret=str(application.siret) if application.siret else None,
            siret_locked=application.siret is not None,
            company_name=application.company_name,
            lots=tuple(LotView(lot.number, lot.name, lot.cpv_code) for lot in market.lots),
            lot_limit=market.lot_limit,
            lot_numbers=tuple(application.lot_numbers),
            status=application.status,
            completed_at=application.completed_at,
            declaration_accepted=application.declaration_accepted_at is not None,
            webhook_status=application.webhook_status,
            attributes=tuple(attributes),
            categories=tuple(c for c in catalogue.categories if c.key in used),
            answers={
                a.attribute_key: detached_copy(a) for a in uow.answers.for_application(identifier)
            },
            documents=tuple(detached_copy(d) for d in uow.documents.for_application(identifier)),
            buyer_name=market.buyer_name,
            prefill={f.source: f.status for f in uow.prefill.for_application(identifier)},
        )


def _market_attributes(catalogue: CatalogueSnapshot, keys: list[str]) -> list[Attribute]:
    wanted = set(keys)
    return [a for a in catalogue.attributes if a.key in wanted]


def save_identification(
    uow: AbstractUnitOfWork, identifier: str, siret: str | None, company_name: str | None
) -> None:
    """The SIRET the editor gave stays; otherwise the candidate's is checked (Luhn)."""
    with uow:
        application = _draft(uow, identifier)
        if siret is not None and application.siret is None:
            try:
                typed = Siret(siret)
            except DomainError as error:
                raise ValidationFailed(
                    ["Le numéro de SIRET saisi est invalide ou non reconnu."]
                ) from error
            # Checked before the assignment: a query would flush it and find this application.
            if uow.applications.exists_for_siret(application.market_identifier, typed):
                raise ValidationFailed(["Une candidature existe déjà pour ce SIRET sur ce marché."])
            application.siret = typed
        if company_name is not None:
            application.company_name = company_name.strip()[:255] or None
        uow.commit()


def save_lots(uow: AbstractUnitOfWork, identifier: str, numbers: list[int]) -> None:
    with uow:
        application = _draft(uow, identifier)
        market = uow.markets.get(application.market_identifier)
        assert market is not None
        valid = {lot.number for lot in market.lots}
        chosen = sorted({n for n in numbers if n in valid})
        if not chosen:
            raise ValidationFailed(["Choisissez au moins un lot."])
        if market.lot_limit is not None and len(chosen) > market.lot_limit:
            raise ValidationFailed([f"Vous pouvez choisir au plus {market.lot_limit} lot(s)."])
        application.lot_numbers = chosen
        uow.commit()


def save_answers(
    uow: AbstractUnitOfWork, clock: Clock, identifier: str, values: Mapping[str, dict[str, Any]]
) -> None:
    """The values of one step, by attribute key (already validated by the input types)."""
    now = clock.now()
    for attempt in (1, 2):
        with uow:
            application = _draft(uow, identifier)
            market = uow.markets.get(application.market_identifier)
            assert market is not None
            for key, value in values.items():
                if key not in market.field_keys:
                    continue  # only what the buyer asked for
                answer = uow.answers.get(identifier, key)
                if answer is None:
                    uow.answers.add(Answer(identifier, key, dict(value), now))
                elif answer.origin == Origin.DECLARED.value:
                    answer.replace(value, now)
            try:
                uow.commit()
                return
            except ConflictError:
                if attempt == 2:
                    raise
                # A pre-fill job stored one of these answers meanwhile: read again (its value
                # is now pre-filled and stays).


EXPLANATION_MAX_LENGTH = 10_000


def save_explanation(
    uow: AbstractUnitOfWork, clock: Clock, identifier: str, key: str, text: str
) -> None:
    """The candidate's explanation of a finding a source reported (a BODACC notice): kept with
    the pre-filled answer, which stays as the source gave it."""
    text = text.replace("\x00", "").strip()
    if len(text) > EXPLANATION_MAX_LENGTH:
        raise ValidationFailed(
            ["Cette explication est trop longue : 10 000 caractères au maximum."]
        )
    with uow:
        _draft(uow, identifier)
        answer = uow.answers.get(identifier, key)
        if answer is None or answer.origin != Origin.PREFILLED.value:
            raise NotFound()
        value = dict(answer.value)
        value["explanation"] = text
        answer.value = value
        answer.updated_at = clock.now()
        uow.commit()


def attach_document(
    uow: AbstractUnitOfWork,
    clock: Clock,
    storage: FileStorage,
    scanner: VirusScanner,
    identifier: str,
    key: str,
    upload: Any,
) -> str:
    """Scan, then store, then record a received upload (`adapters.uploads.ReceivedUpload`).

    An infected file is refused and never stored; a scan that fails is stored as `failed`, which
    blocks the submission until the file is replaced."""
    with uow:
        application = _draft(uow, identifier)
        market = uow.markets.get(application.market_identifier)
        assert market is not None
        if key not in market.field_keys:
            raise NotFound()
        answer = uow.answers.get(identifier, key)
        if answer is not None and answer.origin == Origin.PREFILLED.value:
            if not (answer.source == "bodacc" and answer.value.get("choice") == "oui"):
                raise PrefilledAnswer()  # only a finding's explanation takes files
    with upload.open() as stream:
        result = scanner.scan(stream)
    if result.verdict is ScanVerdict.INFECTED:
        raise InfectedFile()
    document_id = AttachedDocument.new_id()
    storage_key = f"uploads/{identifier}/{document_id}/{upload.storage_name}"
    with upload.open() as stream:
        stored = storage.put(storage_key, stream)
    with uow:
        _draft(uow, identifier)
        uow.documents.add(
            AttachedDocument(
                id=document_id,
                application_identifier=identifier,
                attribute_key=key,
                original_name=upload.original_name,
                storage_key=storage_key,
                size=stored.size,
                content_type=upload.content_type,
                sha256=upload.sha256,
                scan=result.verdict.value,
                created_at=clock.now(),
            )
        )
        uow.commit()
    return document_id


def remove_document(
    uow: AbstractUnitOfWork, storage: FileStorage, identifier: str, document_id: str
) -> None:
    with uow:
        _draft(uow, identifier)
        document = uow.documents.get(document_id)
        if document is None or document.application_identifier != identifier:
            raise NotFound()
        if document.origin == Origin.PREFILLED.value:
            raise PrefilledDocument()
        storage_key = document.storage_key
        uow.documents.remove(document)
        uow.commit()
    storage.delete(storage_key)


def accept_declaration(
    uow: AbstractUnitOfWork, clock: Clock, identifier: str, accepted: bool
) -> None:
    with uow:
        application = _draft(uow, identifier)
        application.declaration_accepted_at = clock.now() if accepted else None
        uow.commit()


def open_document(
    uow: AbstractUnitOfWork, storage: FileStorage, identifier: str, document_id: str
) -> tuple[AttachedDocument, BinaryIO]:
    with uow:
        document = uow.documents.get(document_id)
        if document is None or document.application_identifier != identifier:
            raise NotFound()
        found = detached_copy(document)
    return found, storage.open(found.storage_key)


def _draft(uow: AbstractUnitOfWork, identifier: str) -> Any:
    application = uow.applications.get(identifier)
    if application is None:
        raise NotFound()
    if application.is_completed:
        raise ApplicationAlreadySubmitted()
    return application
