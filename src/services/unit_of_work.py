"""The unit of work and the repository contracts it hands out."""

from __future__ import annotations

import abc
from collections.abc import Sequence
from datetime import datetime
from types import TracebackType

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


class EditorRepository(abc.ABC):
    @abc.abstractmethod
    def add(self, editor: Editor) -> None: ...

    @abc.abstractmethod
    def get(self, client_id: str) -> Editor | None: ...

    @abc.abstractmethod
    def get_by_name(self, name: str) -> Editor | None: ...

    @abc.abstractmethod
    def list(self) -> Sequence[Editor]: ...


class AccessTokenRepository(abc.ABC):
    @abc.abstractmethod
    def add(self, token: AccessToken) -> None: ...

    @abc.abstractmethod
    def get(self, token_hash: str) -> AccessToken | None: ...

    @abc.abstractmethod
    def get_with_editor(self, token_hash: str) -> tuple[AccessToken, Editor] | None:
        """The token and its editor at once: every API call needs both."""

    @abc.abstractmethod
    def usable_for(self, client_id: str, now: datetime) -> Sequence[AccessToken]:
        """Tokens of this editor that are neither revoked nor expired."""


class MarketRepository(abc.ABC):
    @abc.abstractmethod
    def add(self, market: Market) -> None: ...

    @abc.abstractmethod
    def get(self, identifier: str) -> Market | None: ...

    @abc.abstractmethod
    def get_for_update(self, identifier: str) -> Market | None:
        """The market, locked until the end of the transaction (two finalisations queue up)."""

    @abc.abstractmethod
    def record_buyer_name(self, identifier: str, name: str) -> None:
        """Set the buyer's name without touching the market's version: a background lookup must
        not make the buyer's own concurrent changes fail as conflicts."""


class ApplicationRepository(abc.ABC):
    @abc.abstractmethod
    def add(self, application: Application) -> None: ...

    @abc.abstractmethod
    def get(self, identifier: str) -> Application | None: ...

    @abc.abstractmethod
    def exists_for_siret(self, market_identifier: str, siret: Siret) -> bool: ...


class IdempotencyRepository(abc.ABC):
    @abc.abstractmethod
    def get(self, client_id: str, key: str) -> IdempotencyRecord | None: ...

    @abc.abstractmethod
    def add(self, record: IdempotencyRecord) -> None: ...

    @abc.abstractmethod
    def remove(self, record: IdempotencyRecord) -> None: ...


class CatalogueRepository(abc.ABC):
    """The attribute catalogue, read whole (it is small) and changed by the loader."""

    @abc.abstractmethod
    def snapshot(self) -> CatalogueSnapshot:
        """Every category, subcategory and attribute (archived ones too), in display order."""

    @abc.abstractmethod
    def add_category(self, category: Category) -> None: ...

    @abc.abstractmethod
    def add_subcategory(self, subcategory: Subcategory) -> None: ...

    @abc.abstractmethod
    def add_attribute(self, attribute: Attribute) -> None: ...


class WebhookDeliveryRepository(abc.ABC):
    @abc.abstractmethod
    def add(self, delivery: WebhookDelivery) -> None: ...

    @abc.abstractmethod
    def get(self, delivery_id: str) -> WebhookDelivery | None: ...

    @abc.abstractmethod
    def list(self, failed_only: bool = False, limit: int = 100) -> Sequence[WebhookDelivery]:
        """Newest first."""

    @abc.abstractmethod
    def latest_for(self, resource_identifier: str) -> WebhookDelivery | None: ...

    @abc.abstractmethod
    def unfinished(self) -> Sequence[WebhookDelivery]:
        """Pending or processing deliveries, oldest first."""


class AnswerRepository(abc.ABC):
    @abc.abstractmethod
    def add(self, answer: Answer) -> None: ...

    @abc.abstractmethod
    def get(self, application_identifier: str, attribute_key: str) -> Answer | None: ...

    @abc.abstractmethod
    def for_application(self, application_identifier: str) -> Sequence[Answer]: ...


class DocumentRepository(abc.ABC):
    @abc.abstractmethod
    def add(self, document: AttachedDocument) -> None: ...

    @abc.abstractmethod
    def get(self, document_id: str) -> AttachedDocument | None: ...

    @abc.abstractmethod
    def for_application(self, application_identifier: str) -> Sequence[AttachedDocument]:
        """Oldest first."""

    @abc.abstractmethod
    def remove(self, document: AttachedDocument) -> None: ...


class MagicLinkRepository(abc.ABC):
    @abc.abstractmethod
    def add(self, link: MagicLink) -> None: ...

    @abc.abstractmethod
    def get(self, token_hash: str) -> MagicLink | None: ...

    @abc.abstractmethod
    def issued_since(self, application_identifier: str, since: datetime) -> Sequence[MagicLink]:
        """Links of the application created at or after `since`, oldest first."""

    @abc.abstractmethod
    def outstanding(self, application_identifier: str, email: str) -> Sequence[MagicLink]:
        """Links of the application and email neither used nor replaced (expired ones too)."""


class SourceFetchRepository(abc.ABC):
    @abc.abstractmethod
    def add(self, fetch: SourceFetch) -> None: ...

    @abc.abstractmethod
    def get(self, application_identifier: str, source: str) -> SourceFetch | None: ...

    @abc.abstractmethod
    def for_application(self, application_identifier: str) -> Sequence[SourceFetch]:
        """The application's fetches, by source name."""


class ConflictError(Exception):
    """The commit broke a uniqueness rule because another transaction got there first."""


class AbstractUnitOfWork(abc.ABC):
    editors: EditorRepository
    tokens: AccessTokenRepository
    markets: MarketRepository
    applications: ApplicationRepository
    idempotency: IdempotencyRepository
    catalogue: CatalogueRepository
    webhooks: WebhookDeliveryRepository
    answers: AnswerRepository
    documents: DocumentRepository
    magic_links: MagicLinkRepository
    prefill: SourceFetchRepository

    def __enter__(self) -> AbstractUnitOfWork:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.rollback()

    @abc.abstractmethod
    def commit(self) -> None:
        """Make the work durable; raises ConflictError on a uniqueness race."""

    @abc.abstractmethod
    def rollback(self) -> None: ...

    @abc.abstractmethod
    def ping(self) -> None:
        """Raise if the store cannot be reached (health check)."""
