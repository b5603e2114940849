"""In-memory repositories and unit of work: the fakes the unit tests run on.

They obey the same contract suite as the SQLAlchemy repositories, so they cannot drift. Commit
copies the staged state to the shared store; rollback throws the staged state away.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from passemarche.domain.answers import Answer, AttachedDocument
from passemarche.domain.application import Application
from passemarche.domain.catalogue import Attribute, CatalogueSnapshot, Category, Subcategory
from passemarche.domain.editor import AccessToken, Editor
from passemarche.domain.idempotency import IdempotencyRecord
from passemarche.domain.magic_link import MagicLink
from passemarche.domain.market import Market
from passemarche.domain.prefill import SourceFetch
from passemarche.domain.siret import Siret
from passemarche.domain.webhook import WebhookDelivery
from passemarche.services.unit_of_work import (
    AbstractUnitOfWork,
    AccessTokenRepository,
    AnswerRepository,
    ApplicationRepository,
    CatalogueRepository,
    ConflictError,
    DocumentRepository,
    EditorRepository,
    IdempotencyRepository,
    MagicLinkRepository,
    MarketRepository,
    SourceFetchRepository,
    WebhookDeliveryRepository,
)


@dataclass
class MemoryStore:
    """The committed state, shared by every unit of work made on it."""

    editors: dict[str, Editor] = field(default_factory=dict)
    tokens: dict[str, AccessToken] = field(default_factory=dict)
    markets: dict[str, Market] = field(default_factory=dict)
    applications: dict[str, Application] = field(default_factory=dict)
    idempotency: dict[tuple[str, str], IdempotencyRecord] = field(default_factory=dict)
    categories: dict[str, Category] = field(default_factory=dict)
    subcategories: dict[str, Subcategory] = field(default_factory=dict)
    attributes: dict[str, Attribute] = field(default_factory=dict)
    webhooks: dict[str, WebhookDelivery] = field(default_factory=dict)
    answers: dict[tuple[str, str], Answer] = field(default_factory=dict)
    documents: dict[str, AttachedDocument] = field(default_factory=dict)
    magic_links: dict[str, MagicLink] = field(default_factory=dict)
    prefill: dict[tuple[str, str], SourceFetch] = field(default_factory=dict)


class MemoryEditorRepository(EditorRepository):
    def __init__(self, rows: dict[str, Editor]) -> None:
        self.rows = rows

    def add(self, editor: Editor) -> None:
        self.rows[editor.client_id] = editor

    def get(self, client_id: str) -> Editor | None:
        return self.rows.get(client_id)

    def get_by_name(self, name: str) -> Editor | None:
        return next((e for e in self.rows.values() if e.name == name), None)

    def list(self) -> Sequence[Editor]:
        return sorted(self.rows.values(), key=lambda e: e.name)


class MemoryAccessTokenRepository(AccessTokenRepository):
    def __init__(self, rows: dict[str, AccessToken], editors: dict[str, Editor]) -> None:
        self.rows = rows
        self.editors = editors

    def get_with_editor(self, token_hash: str) -> tuple[AccessToken, Editor] | None:
        token = self.rows.get(token_hash)
        editor = self.editors.get(token.client_id) if token is not None else None
        return (token, editor) if token is not None and editor is not None else None

    def add(self, token: AccessToken) -> None:
        self.rows[token.token_hash] = token

    def get(self, token_hash: str) -> AccessToken | None:
        return self.rows.get(token_hash)

    def usable_for(self, client_id: str, now: datetime) -> Sequence[AccessToken]:
        return [t for t in self.rows.values() if t.client_id == client_id and t.is_usable(now)]


class MemoryMarketRepository(MarketRepository):
    def __init__(self, rows: dict[str, Market]) -> None:
        self.rows = rows

    def add(self, market: Market) -> None:
        self.rows[market.identifier] = market

    def get(self, identifier: str) -> Market | None:
        return self.rows.get(identifier)

    def get_for_update(self, identifier: str) -> Market | None:
        return self.rows.get(identifier)

    def record_buyer_name(self, identifier: str, name: str) -> None:
        market = self.rows.get(identifier)
        if market is not None:
            market.buyer_name = name


class MemoryApplicationRepository(ApplicationRepository):
    def __init__(self, rows: dict[str, Application]) -> None:
        self.rows = rows

    def add(self, application: Application) -> None:
        self.rows[application.identifier] = application

    def get(self, identifier: str) -> Application | None:
        return self.rows.get(identifier)

    def exists_for_siret(self, market_identifier: str, siret: Siret) -> bool:
        return any(
            a.market_identifier == market_identifier and a.siret == siret
            for a in self.rows.values()
        )


class MemoryIdempotencyRepository(IdempotencyRepository):
    def __init__(self, rows: dict[tuple[str, str], IdempotencyRecord]) -> None:
        self.rows = rows

    def get(self, client_id: str, key: str) -> IdempotencyRecord | None:
        return self.rows.get((client_id, key))

    def add(self, record: IdempotencyRecord) -> None:
        self.rows[(record.client_id, record.key)] = record

    def remove(self, record: IdempotencyRecord) -> None:
        self.rows.pop((record.client_id, record.key), None)


class MemoryCatalogueRepository(CatalogueRepository):
    def __init__(self, store: MemoryStore) -> None:
        self.store = store

    def snapshot(self) -> CatalogueSnapshot:
        def ordered(rows: dict) -> list:  # type: ignore[type-arg]
            return sorted(rows.values(), key=lambda row: (row.position, row.key))

        return CatalogueSnapshot(
            categories=ordered(self.store.categories),
            subcategories=ordered(self.store.subcategories),
            attributes=ordered(self.store.attributes),
        )

    def add_category(self, category: Category) -> None:
        self.store.categories[category.key] = category

    def add_subcategory(self, subcategory: Subcategory) -> None:
        self.store.subcategories[subcategory.key] = subcategory

    def add_attribute(self, attribute: Attribute) -> None:
        self.store.attributes[attribute.key] = attribute


class MemoryWebhookDeliveryRepository(WebhookDeliveryRepository):
    def __init__(self, rows: dict[str, WebhookDelivery]) -> None:
        self.rows = rows

    def add(self, delivery: WebhookDelivery) -> None:
        self.rows[delivery.id] = delivery

    def get(self, delivery_id: str) -> WebhookDelivery | None:
        return self.rows.get(delivery_id)

    def list(self, failed_only: bool = False, limit: int = 100) -> Sequence[WebhookDelivery]:
        rows = [d for d in self.rows.values() if not failed_only or d.status == "failed"]
        rows.sort(key=lambda d: d.id)
        rows.sort(key=lambda d: d.created_at, reverse=True)
        return rows[:limit]

    def unfinished(self) -> Sequence[WebhookDelivery]:
        rows = [d for d in self.rows.values() if d.status in ("pending", "processing")]
        return sorted(rows, key=lambda d: (d.created_at, d.id))

    def latest_for(self, resource_identifier: str) -> WebhookDelivery | None:
        rows = [d for d in self.rows.values() if d.resource_identifier == resource_identifier]
        rows.sort(key=lambda d: (d.created_at, d.id), reverse=True)
        return rows[0] if rows else None


class MemoryAnswerRepository(AnswerRepository):
    def __init__(self, rows: dict[tuple[str, str], Answer]) -> None:
        self.rows = rows

    def add(self, answer: Answer) -> None:
        self.rows[(answer.application_identifier, answer.attribute_key)] = answer

    def get(self, application_identifier: str, attribute_key: str) -> Answer | None:
        return self.rows.get((application_identifier, attribute_key))

    def for_application(self, application_identifier: str) -> Sequence[Answer]:
        rows = [a for a in self.rows.values() if a.application_identifier == application_identifier]
        return sorted(rows, key=lambda a: a.attribute_key)


class MemoryDocumentRepository(DocumentRepository):
    def __init__(self, rows: dict[str, AttachedDocument]) -> None:
        self.rows = rows

    def add(self, document: AttachedDocument) -> None:
        self.rows[document.id] = document

    def get(self, document_id: str) -> AttachedDocument | None:
        return self.rows.get(document_id)

    def for_application(self, application_identifier: str) -> Sequence[AttachedDocument]:
        rows = [d for d in self.rows.values() if d.application_identifier == application_identifier]
        return sorted(rows, key=lambda d: (d.created_at, d.id))

    def remove(self, document: AttachedDocument) -> None:
        self.rows.pop(document.id, None)


class MemoryMagicLinkRepository(MagicLinkRepository):
    def __init__(self, rows: dict[str, MagicLink]) -> None:
        self.rows = rows

    def add(self, link: MagicLink) -> None:
        self.rows[link.token_hash] = link

    def get(self, token_hash: str) -> MagicLink | None:
        return self.rows.get(token_hash)

    def issued_since(self, application_identifier: str, since: datetime) -> Sequence[MagicLink]:
        rows = [
            link
            for link in self.rows.values()
            if link.application_identifier == application_identifier and link.created_at >= since
        ]
        return sorted(rows, key=lambda link: (link.created_at, link.token_hash))

    def outstanding(self, application_identifier: str, email: str) -> Sequence[MagicLink]:
        rows = [
            link
            for link in self.rows.values()
            if link.application_identifier == application_identifier
            and link.email == email
            and link.used_at is None
            and link.revoked_at is None
        ]
        return sorted(rows, key=lambda link: (link.created_at, link.token_hash))


class MemorySourceFetchRepository(SourceFetchRepository):
    def __init__(self, rows: dict[tuple[str, str], SourceFetch]) -> None:
        self.rows = rows

    def add(self, fetch: SourceFetch) -> None:
        self.rows[(fetch.application_identifier, fetch.source)] = fetch

    def get(self, application_identifier: str, source: str) -> SourceFetch | None:
        return self.rows.get((application_identifier, source))

    def for_application(self, application_identifier: str) -> Sequence[SourceFetch]:
        rows = [f for f in self.rows.values() if f.application_identifier == application_identifier]
        return sorted(rows, key=lambda f: f.source)


_TABLES = (
    "editors", "tokens", "markets", "applications", "idempotency",
    "categories", "subcategories", "attributes", "webhooks", "answers", "documents",
    "magic_links", "prefill",
)  # fmt: skip


class MemoryUnitOfWork(AbstractUnitOfWork):
    """Each `with` stages a private copy; commit merges what it changed into the shared store,
    refusing (ConflictError) what a database's unique constraints would refuse, including rows
    another unit of work committed in the meantime."""

    def __init__(self, store: MemoryStore | None = None) -> None:
        self.store = store if store is not None else MemoryStore()
        self.commits = 0

    def __enter__(self) -> MemoryUnitOfWork:
        self._begin()
        return self

    def _begin(self) -> None:
        self._staged = copy.deepcopy(self.store)
        self._base = {name: set(getattr(self.store, name)) for name in _TABLES}
        self.editors = MemoryEditorRepository(self._staged.editors)
        self.tokens = MemoryAccessTokenRepository(self._staged.tokens, self._staged.editors)
        self.markets = MemoryMarketRepository(self._staged.markets)
        self.applications = MemoryApplicationRepository(self._staged.applications)
        self.idempotency = MemoryIdempotencyRepository(self._staged.idempotency)
        self.catalogue = MemoryCatalogueRepository(self._staged)
        self.webhooks = MemoryWebhookDeliveryRepository(self._staged.webhooks)
        self.answers = MemoryAnswerRepository(self._staged.answers)
        self.documents = MemoryDocumentRepository(self._staged.documents)
        self.magic_links = MemoryMagicLinkRepository(self._staged.magic_links)
        self.prefill = MemorySourceFetchRepository(self._staged.prefill)

    def commit(self) -> None:
        merged = copy.deepcopy(self.store)
        for name in _TABLES:
            staged, current = getattr(self._staged, name), getattr(merged, name)
            if (set(staged) - self._base[name]) & set(current):
                self.rollback()
                raise ConflictError(name)
            for key in self._base[name] - set(staged):
                current.pop(key, None)
            current.update(copy.deepcopy(staged))
        try:
            _check_unique(merged)
        except ConflictError:
            self.rollback()
            raise
        for name in _TABLES:
            for row in getattr(merged, name).values():
                _to_utc(row)
            setattr(self.store, name, getattr(merged, name))
        self.commits += 1
        self._begin()

    def rollback(self) -> None:
        self._begin()

    def ping(self) -> None:
        return None


def _to_utc(row: object) -> None:
    """Times come back in UTC from a database whatever zone they were given in: so here."""
    for name, value in vars(row).items():
        if isinstance(value, datetime) and value.tzinfo is not None:
            setattr(row, name, value.astimezone(UTC))


def _check_unique(store: MemoryStore) -> None:
    names = [e.name for e in store.editors.values()]
    if len(names) != len(set(names)):
        raise ConflictError("editors.name")
    pairs = [
        (a.market_identifier, a.siret) for a in store.applications.values() if a.siret is not None
    ]
    if len(pairs) != len(set(pairs)):
        raise ConflictError("applications.market_identifier, siret")
