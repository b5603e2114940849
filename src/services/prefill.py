"""Pre-fill an application from government data sources, in the background.

- `start_prefill`, when the candidate confirms its identity: one fetch per source the market's
  attributes name; a source not configured here is `unavailable` at once (no job); the others are
  queued, one job each (`FETCH_COMPANY_DATA`), so they run in parallel on as many workers.
- `fetch_company_data`, the job: asks the source, scans and stores its documents like uploads,
  then writes the answers it gave with their origin (pre-filled, and the source's name) and ends
  the fetch. A value the candidate already typed is never overwritten.
- `prefill_view`, for the status page: past the global deadline a fetch still waiting is marked
  failed, so the page always ends. A late job then finds its fetch ended and stores nothing.
- `lookup_buyer_name`: the buyer's name on a market, from INSEE, after the market's creation.
"""

from __future__ import annotations

import hashlib
import io
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from passemarche.domain.answers import Answer, AttachedDocument
from passemarche.domain.catalogue import Attribute, CatalogueSnapshot
from passemarche.domain.dossier import Origin, safe_file_name
from passemarche.domain.prefill import (
    SOURCE_LABELS,
    CompanyQuery,
    FetchedDocument,
    FetchStatus,
    SourceFetch,
    answer_value,
    source_label,
)
from passemarche.domain.uploads import FileKind, sniff
from passemarche.services.catalogue import catalogue_snapshot
from passemarche.services.ports import (
    Clock,
    CompanyDataSource,
    FileStorage,
    JobQueue,
    ScanVerdict,
    VirusScanner,
)
from passemarche.services.unit_of_work import AbstractUnitOfWork, ConflictError

log = logging.getLogger("passemarche.prefill")

FETCH_COMPANY_DATA = "fetch_company_data"
LOOKUP_BUYER_NAME = "lookup_buyer_name"
CONTEXT_OBJECT = "Réponse marché: {name}"
BUYER_OBJECT = "Configuration marché: {name}"
OBJECT_MAX_LENGTH = 250
DOCUMENT_TYPES = {
    FileKind.PDF: "application/pdf",
    FileKind.JPEG: "image/jpeg",
    FileKind.PNG: "image/png",
}


def sources_for(catalogue: CatalogueSnapshot, field_keys: Sequence[str]) -> list[str]:
    """The sources the market's attributes name, in the status page's order."""
    wanted = set(field_keys)
    named = {a.source for a in catalogue.attributes if a.key in wanted and a.source}
    order = list(SOURCE_LABELS)
    return sorted(named, key=lambda s: (order.index(s) if s in order else len(order), s))


def start_prefill(
    uow: AbstractUnitOfWork,
    clock: Clock,
    jobs: JobQueue,
    sources: CompanyDataSource,
    identifier: str,
    deadline: timedelta,
) -> bool:
    """Start the fetches of an application once (later calls change nothing). False when there
    is nothing to start: no SIRET yet, already started, or submitted."""
    catalogue = catalogue_snapshot(uow)
    now = clock.now()
    queued = []
    with uow:
        application = uow.applications.get(identifier)
        if application is None or application.siret is None or application.is_completed:
            return False
        if uow.prefill.for_application(identifier):
            return False
        market = uow.markets.get(application.market_identifier)
        assert market is not None
        for source in sources_for(catalogue, market.field_keys):
            fetch = SourceFetch(identifier, source, FetchStatus.PENDING.value, now, now + deadline)
            if sources.covers(source):
                queued.append(source)
            else:
                fetch.finish(FetchStatus.UNAVAILABLE, now)
            uow.prefill.add(fetch)
        try:
            uow.commit()
        except ConflictError:
            return False  # started at the same moment by another request
    for source in queued:
        jobs.enqueue(FETCH_COMPANY_DATA, identifier, source)
    return True


def run_source_again(
    uow: AbstractUnitOfWork,
    clock: Clock,
    jobs: JobQueue,
    sources: CompanyDataSource,
    identifier: str,
    source: str,
    deadline: timedelta,
) -> bool:
    """The candidate's « Relancer » on a failed source (at most `MAX_FETCH_RUNS` runs in all).
    Answers typed meanwhile stay the candidate's. False when it may not run again."""
    now = clock.now()
    with uow:
        application = uow.applications.get(identifier)
        fetch = uow.prefill.get(identifier, source)
        if application is None or application.is_completed or fetch is None:
            return False
        if not sources.covers(source) or not fetch.run_again(now, now + deadline):
            return False
        try:
            uow.commit()
        except ConflictError:
            return False  # asked twice at the same moment: the other one runs it
    jobs.enqueue(FETCH_COMPANY_DATA, identifier, source)
    return True


@dataclass
class _Prepared:
    """What a source's answer will write, once its documents are stored."""

    answers: dict[str, dict[str, Any]] = field(default_factory=dict)
    documents: list[AttachedDocument] = field(default_factory=list)


def fetch_company_data(
    uow: AbstractUnitOfWork,
    clock: Clock,
    storage: FileStorage,
    scanner: VirusScanner,
    sources: CompanyDataSource,
    identifier: str,
    source: str,
) -> str | None:
    """The job of one source: returns the fetch's final status (None when there was nothing to
    do: unknown, already ended)."""
    catalogue = catalogue_snapshot(uow)
    with uow:
        fetch = uow.prefill.get(identifier, source)
        if fetch is None:
            return None
        if fetch.expire(clock.now()):
            _commit_quietly(uow)
            return fetch.status
        application = uow.applications.get(identifier)
        if not fetch.start() or application is None or application.siret is None:
            return None
        market = uow.markets.get(application.market_identifier)
        assert market is not None
        query = CompanyQuery(
            siret=str(application.siret),
            recipient_siret=str(market.buyer_siret),
            object=CONTEXT_OBJECT.format(name=market.name)[:OBJECT_MAX_LENGTH],
        )
        attributes = [
            a for a in catalogue.attributes if a.source == source and a.key in market.field_keys
        ]
        try:
            uow.commit()
        except ConflictError:
            return None  # ended meanwhile (the deadline)
    try:
        report = sources.fetch(source, query)
    except Exception:  # an adapter bug must not leave the fetch running until the deadline
        log.exception("data source raised", extra={"fields": {"source": source}})
        return _finish(uow, clock, identifier, source, FetchStatus.FAILED, _Prepared(), storage)
    prepared = _Prepared()
    outcome = report.outcome
    if outcome is FetchStatus.COMPLETED:
        try:
            _prepare(
                clock, storage, scanner, identifier, source, attributes, report.values, prepared
            )
        except Exception:  # storage or scanner down: nothing half-stored, the source fails
            log.exception(
                "storing a source's documents failed", extra={"fields": {"source": source}}
            )
            _discard(storage, prepared.documents)
            return _finish(uow, clock, identifier, source, FetchStatus.FAILED, _Prepared(), storage)
    return _finish(uow, clock, identifier, source, outcome, prepared, storage)


def _prepare(
    clock: Clock,
    storage: FileStorage,
    scanner: VirusScanner,
    identifier: str,
    source: str,
    attributes: Sequence[Attribute],
    values: Mapping[str, Any],
    prepared: _Prepared,
) -> None:
    """Fills `prepared`; the documents it stored are in it even when this raises midway."""
    for attribute in attributes:
        value = values.get(attribute.source_field or "")
        if value is None:
            continue
        answer = answer_value(attribute.input_type, value)
        if answer is None:
            continue
        kept = []
        for document in value.documents:
            stored = _store_document(clock, storage, scanner, identifier, attribute.key, document)
            if stored is not None:
                kept.append(stored)
                prepared.documents.append(stored)
        if value.documents and not kept:
            log.warning(
                "every document of a source was refused",
                extra={"fields": {"source": source, "attribute": attribute.key}},
            )
            continue  # the attribute stays a manual input
        prepared.answers[attribute.key] = answer


def _store_document(
    clock: Clock,
    storage: FileStorage,
    scanner: VirusScanner,
    identifier: str,
    key: str,
    document: FetchedDocument,
) -> AttachedDocument | None:
    """Check (PDF or image by content), scan and store a fetched document; None when refused."""
    kind = sniff(document.content[:4096])
    content_type = DOCUMENT_TYPES.get(kind)
    if content_type is None:
        log.warning("fetched document refused", extra={"fields": {"kind": str(kind)}})
        return None
    verdict = scanner.scan(io.BytesIO(document.content)).verdict
    if verdict not in (ScanVerdict.CLEAN, ScanVerdict.NOT_SCANNED):
        log.warning("fetched document not stored", extra={"fields": {"scan": verdict.value}})
        return None
    document_id = AttachedDocument.new_id()
    storage_key = f"prefill/{identifier}/{document_id}/{safe_file_name(document.file_name)}"
    stored = storage.put(storage_key, io.BytesIO(document.content))
    return AttachedDocument(
        id=document_id,
        application_identifier=identifier,
        attribute_key=key,
        original_name=document.file_name,
        storage_key=storage_key,
        size=stored.size,
        content_type=content_type,
        sha256=hashlib.sha256(document.content).hexdigest(),
        scan=verdict.value,
        created_at=clock.now(),
        origin=Origin.PREFILLED.value,
    )


def _finish(
    uow: AbstractUnitOfWork,
    clock: Clock,
    identifier: str,
    source: str,
    outcome: FetchStatus,
    prepared: _Prepared,
    storage: FileStorage,
) -> str | None:
    now = clock.now()
    written: set[str] = set()
    with uow:
        fetch = uow.prefill.get(identifier, source)
        application = uow.applications.get(identifier)
        if fetch is None or application is None or fetch.is_finished or fetch.expire(now):
            _discard(storage, prepared.documents)  # too late: the deadline ended it
            if fetch is not None and fetch.status == FetchStatus.FAILED.value:
                _commit_quietly(uow)  # expired just now: say so
            return None
        if not application.is_completed:
            for key, value in prepared.answers.items():
                answer = uow.answers.get(identifier, key)
                if answer is not None and answer.origin == Origin.DECLARED.value:
                    if not _finding(source, value):
                        continue  # typed by the candidate meanwhile: theirs wins
                    # ...but a BODACC notice is a fact the buyer must see: it replaces the
                    # candidate's answer, whose text becomes their explanation.
                    value = {**value, "explanation": str(answer.value.get("text") or "")}
                if answer is None:
                    answer = Answer(identifier, key, {}, now)
                    uow.answers.add(answer)
                answer.value = dict(value)
                answer.origin = Origin.PREFILLED.value
                answer.source = source
                answer.updated_at = now
                written.add(key)
            for document in prepared.documents:
                if document.attribute_key in written:
                    uow.documents.add(document)
        fetch.finish(outcome, now, filled=len(written))
        try:
            uow.commit()
        except ConflictError:
            _discard(storage, prepared.documents)
            return None
    _discard(storage, [d for d in prepared.documents if d.attribute_key not in written])
    log.info(
        "prefill source finished",
        extra={"fields": {"source": source, "status": outcome.value, "filled": len(written)}},
    )
    return outcome.value


def _finding(source: str, value: Mapping[str, Any]) -> bool:
    """A notice found against the company (BODACC « Oui »)."""
    return source == "bodacc" and value.get("choice") == "oui"


def _discard(storage: FileStorage, documents: Sequence[AttachedDocument]) -> None:
    for document in documents:
        storage.delete(document.storage_key)


def _commit_quietly(uow: AbstractUnitOfWork) -> None:
    try:
        uow.commit()
    except ConflictError:
        pass  # someone else ended it: the same result


@dataclass(frozen=True)
class SourceStatusView:
    source: str
    label: str
    status: str
    filled: int
    may_run_again: bool = False

    @property
    def is_finished(self) -> bool:
        return FetchStatus(self.status).is_finished


@dataclass(frozen=True)
class PrefillView:
    sources: tuple[SourceStatusView, ...]

    @property
    def started(self) -> bool:
        return bool(self.sources)

    @property
    def finished(self) -> bool:
        return all(s.is_finished for s in self.sources)

    @property
    def nothing_configured(self) -> bool:
        return self.started and all(s.status == FetchStatus.UNAVAILABLE.value for s in self.sources)

    def statuses(self) -> dict[str, str]:
        return {s.source: s.status for s in self.sources}


def prefill_view(uow: AbstractUnitOfWork, clock: Clock, identifier: str) -> PrefillView:
    """The fetches of an application; those past the global deadline end as failed here."""
    now = clock.now()
    with uow:
        fetches = list(uow.prefill.for_application(identifier))
        expired = [f for f in fetches if f.expire(now)]
        if expired:
            for fetch in expired:
                log.warning(
                    "prefill source past the deadline", extra={"fields": {"source": fetch.source}}
                )
            try:
                uow.commit()
            except ConflictError:  # a job ended one meanwhile: read again
                uow.rollback()
                fetches = list(uow.prefill.for_application(identifier))
        order = list(SOURCE_LABELS)
        fetches.sort(key=lambda f: order.index(f.source) if f.source in order else len(order))
        return PrefillView(
            tuple(
                SourceStatusView(
                    f.source, source_label(f.source), f.status, f.filled, f.may_run_again
                )
                for f in fetches
            )
        )


# A failed lookup (a timeout, a 5xx after the adapter's own retry) is tried again later; a
# company INSEE does not know, or a source not configured, is not.
BUYER_NAME_RETRY_DELAYS = (60, 600, 3600)


def schedule_buyer_name_lookup(
    jobs: JobQueue, sources: CompanyDataSource, market_identifier: str
) -> None:
    if sources.covers("insee"):
        jobs.enqueue(LOOKUP_BUYER_NAME, market_identifier)


def lookup_buyer_name(
    uow: AbstractUnitOfWork,
    sources: CompanyDataSource,
    market_identifier: str,
    jobs: JobQueue | None = None,
    attempt: int = 1,
) -> str | None:
    """The buyer's name from INSEE (its raison sociale); kept on the market. None when unknown.
    With `jobs`, a failed attempt is queued again after `BUYER_NAME_RETRY_DELAYS`."""
    with uow:
        market = uow.markets.get(market_identifier)
        if market is None or market.buyer_name:
            return market.buyer_name if market else None
        siret = str(market.buyer_siret)
        query = CompanyQuery(
            siret=siret,
            recipient_siret=siret,
            object=BUYER_OBJECT.format(name=market.name)[:OBJECT_MAX_LENGTH],
        )
    report = sources.fetch("insee", query)
    value = report.values.get("social_reason") if report.outcome is FetchStatus.COMPLETED else None
    name = (value.text or "").strip()[:255] if value is not None else ""
    if not name:
        log.info("buyer name not found", extra={"fields": {"outcome": report.outcome.value}})
        if report.outcome is FetchStatus.FAILED and jobs is not None:
            if attempt <= len(BUYER_NAME_RETRY_DELAYS):
                delay = timedelta(seconds=BUYER_NAME_RETRY_DELAYS[attempt - 1])
                jobs.enqueue(LOOKUP_BUYER_NAME, market_identifier, str(attempt + 1), delay=delay)
        return None
    with uow:
        uow.markets.record_buyer_name(market_identifier, name)
        uow.commit()
    return name
