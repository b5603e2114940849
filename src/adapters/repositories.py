"""SQLAlchemy implementations of the repository contracts."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from passemarche.domain.answers import Answer, AttachedDocument
from passemarche.domain.application import Application
from passemarche.domain.catalogue import Attribute, CatalogueSnapshot, Category, Subcategory
from passemarche.domain.editor import AccessToken, Editor
from passemarche.domain.idempotency import IdempotencyRecord
from passemarche.domain.magic_link import MagicLink
from passemarche.domain.market import Market
from passemarche.domain.prefill import SourceFetch
from passemarche.domain.siret import Siret
from passemarche.domain.webhook import DeliveryStatus, WebhookDelivery
from passemarche.services.unit_of_work import (
    AccessTokenRepository,
    AnswerRepository,
    ApplicationRepository,
    CatalogueRepository,
    DocumentRepository,
    EditorRepository,
    IdempotencyRepository,
    MagicLinkRepository,
    MarketRepository,
    SourceFetchRepository,
    WebhookDeliveryRepository,
)
from sqlalchemy import exists, select, update
from sqlalchemy.orm import Session


class SqlAlchemyEditorRepository(EditorRepository):
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, editor: Editor) -> None:
        self.session.add(editor)

    def get(self, client_id: str) -> Editor | None:
        return self.session.get(Editor, client_id)

    def get_by_name(self, name: str) -> Editor | None:
        return self.session.scalars(select(Editor).filter_by(name=name)).first()

    def list(self) -> Sequence[Editor]:
        return self.session.scalars(select(Editor).order_by(Editor.name)).all()  # type: ignore[arg-type]


class SqlAlchemyAccessTokenRepository(AccessTokenRepository):
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, token: AccessToken) -> None:
        self.session.add(token)

    def get(self, token_hash: str) -> AccessToken | None:
        return self.session.get(AccessToken, token_hash)

    def get_with_editor(self, token_hash: str) -> tuple[AccessToken, Editor] | None:
        query = (
            select(AccessToken, Editor)
            .join(Editor, Editor.client_id == AccessToken.client_id)  # type: ignore[arg-type]
            .where(AccessToken.token_hash == token_hash)  # type: ignore[arg-type]
        )
        row = self.session.execute(query).first()
        return (row[0], row[1]) if row is not None else None

    def usable_for(self, client_id: str, now: datetime) -> Sequence[AccessToken]:
        query = select(AccessToken).where(
            AccessToken.client_id == client_id,  # type: ignore[arg-type]
            AccessToken.revoked_at.is_(None),  # type: ignore[union-attr]
            AccessToken.expires_at > now,  # type: ignore[arg-type,operator]
        )
        return self.session.scalars(query).all()


class SqlAlchemyMarketRepository(MarketRepository):
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, market: Market) -> None:
        self.session.add(market)

    def get(self, identifier: str) -> Market | None:
        return self.session.get(Market, identifier)

    def get_for_update(self, identifier: str) -> Market | None:
        # FOR UPDATE on PostgreSQL; SQLite ignores it but serialises writers (WAL snapshots).
        return self.session.get(Market, identifier, with_for_update=True, populate_existing=True)

    def record_buyer_name(self, identifier: str, name: str) -> None:
        # A bulk UPDATE: the ORM's version counter is not involved.
        self.session.execute(
            update(Market)
            .where(Market.identifier == identifier)  # type: ignore[arg-type]
            .values(buyer_name=name)
            .execution_options(synchronize_session=False)
        )


class SqlAlchemyApplicationRepository(ApplicationRepository):
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, application: Application) -> None:
        self.session.add(application)

    def get(self, identifier: str) -> Application | None:
        return self.session.get(Application, identifier)

    def exists_for_siret(self, market_identifier: str, siret: Siret) -> bool:
        query = select(
            exists().where(
                Application.market_identifier == market_identifier,  # type: ignore[arg-type]
                Application.siret == siret,  # type: ignore[arg-type]
            )
        )
        return bool(self.session.scalar(query))


class SqlAlchemyIdempotencyRepository(IdempotencyRepository):
    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, client_id: str, key: str) -> IdempotencyRecord | None:
        return self.session.get(IdempotencyRecord, (client_id, key))

    def add(self, record: IdempotencyRecord) -> None:
        self.session.add(record)

    def remove(self, record: IdempotencyRecord) -> None:
        self.session.delete(record)
        self.session.flush()


class SqlAlchemyCatalogueRepository(CatalogueRepository):
    def __init__(self, session: Session) -> None:
        self.session = session

    def snapshot(self) -> CatalogueSnapshot:
        return CatalogueSnapshot(
            categories=self.session.scalars(select(Category).order_by("position", "key")).all(),
            subcategories=self.session.scalars(
                select(Subcategory).order_by("position", "key")
            ).all(),
            attributes=self.session.scalars(select(Attribute).order_by("position", "key")).all(),
        )

    # Flushed at once: attributes refer to them and there is no relationship to order inserts.
    def add_category(self, category: Category) -> None:
        self.session.add(category)
        self.session.flush()

    def add_subcategory(self, subcategory: Subcategory) -> None:
        self.session.add(subcategory)
        self.session.flush()

    def add_attribute(self, attribute: Attribute) -> None:
        self.session.add(attribute)


class SqlAlchemyWebhookDeliveryRepository(WebhookDeliveryRepository):
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, delivery: WebhookDelivery) -> None:
        self.session.add(delivery)

    def get(self, delivery_id: str) -> WebhookDelivery | None:
        return self.session.get(WebhookDelivery, delivery_id)

    def list(self, failed_only: bool = False, limit: int = 100) -> Sequence[WebhookDelivery]:
        query = select(WebhookDelivery)
        if failed_only:
            query = query.filter_by(status=DeliveryStatus.FAILED.value)
        query = query.order_by(WebhookDelivery.created_at.desc(), WebhookDelivery.id).limit(limit)  # type: ignore[attr-defined]
        return self.session.scalars(query).all()

    def unfinished(self) -> Sequence[WebhookDelivery]:
        waiting = (DeliveryStatus.PENDING.value, DeliveryStatus.PROCESSING.value)
        query = (
            select(WebhookDelivery)
            .where(WebhookDelivery.status.in_(waiting))  # type: ignore[attr-defined]
            .order_by(WebhookDelivery.created_at, WebhookDelivery.id)  # type: ignore[arg-type]
        )
        return self.session.scalars(query).all()

    def latest_for(self, resource_identifier: str) -> WebhookDelivery | None:
        query = (
            select(WebhookDelivery)
            .filter_by(resource_identifier=resource_identifier)
            .order_by(WebhookDelivery.created_at.desc(), WebhookDelivery.id.desc())  # type: ignore[attr-defined]
            .limit(1)
        )
        return self.session.scalars(query).first()


class SqlAlchemyAnswerRepository(AnswerRepository):
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, answer: Answer) -> None:
        self.session.add(answer)

    def get(self, application_identifier: str, attribute_key: str) -> Answer | None:
        return self.session.get(Answer, (application_identifier, attribute_key))

    def for_application(self, application_identifier: str) -> Sequence[Answer]:
        query = select(Answer).filter_by(application_identifier=application_identifier)
        return self.session.scalars(query.order_by(Answer.attribute_key)).all()  # type: ignore[arg-type]


class SqlAlchemyDocumentRepository(DocumentRepository):
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, document: AttachedDocument) -> None:
        self.session.add(document)

    def get(self, document_id: str) -> AttachedDocument | None:
        return self.session.get(AttachedDocument, document_id)

    def for_application(self, application_identifier: str) -> Sequence[AttachedDocument]:
        query = select(AttachedDocument).filter_by(application_identifier=application_identifier)
        order = (AttachedDocument.created_at, AttachedDocument.id)
        return self.session.scalars(query.order_by(*order)).all()  # type: ignore[arg-type]

    def remove(self, document: AttachedDocument) -> None:
        self.session.delete(document)


class SqlAlchemyMagicLinkRepository(MagicLinkRepository):
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, link: MagicLink) -> None:
        self.session.add(link)

    def get(self, token_hash: str) -> MagicLink | None:
        return self.session.get(MagicLink, token_hash)

    def issued_since(self, application_identifier: str, since: datetime) -> Sequence[MagicLink]:
        query = (
            select(MagicLink)
            .where(
                MagicLink.application_identifier == application_identifier,  # type: ignore[arg-type]
                MagicLink.created_at >= since,  # type: ignore[arg-type,operator]
            )
            .order_by(MagicLink.created_at, MagicLink.token_hash)  # type: ignore[arg-type]
        )
        return self.session.scalars(query).all()

    def outstanding(self, application_identifier: str, email: str) -> Sequence[MagicLink]:
        query = (
            select(MagicLink)
            .filter_by(application_identifier=application_identifier, email=email)
            .where(MagicLink.used_at.is_(None), MagicLink.revoked_at.is_(None))  # type: ignore[union-attr]
            .order_by(MagicLink.created_at, MagicLink.token_hash)  # type: ignore[arg-type]
        )
        return self.session.scalars(query).all()


class SqlAlchemySourceFetchRepository(SourceFetchRepository):
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, fetch: SourceFetch) -> None:
        self.session.add(fetch)

    def get(self, application_identifier: str, source: str) -> SourceFetch | None:
        return self.session.get(SourceFetch, (application_identifier, source))

    def for_application(self, application_identifier: str) -> Sequence[SourceFetch]:
        query = (
            select(SourceFetch)
            .filter_by(application_identifier=application_identifier)
            .order_by(SourceFetch.source)  # type: ignore[arg-type]
        )
        return self.session.scalars(query).all()
