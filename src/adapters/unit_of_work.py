"""The SQLAlchemy unit of work: one session per use case, committed once."""

from __future__ import annotations

from passemarche.adapters.repositories import (
    SqlAlchemyAccessTokenRepository,
    SqlAlchemyAnswerRepository,
    SqlAlchemyApplicationRepository,
    SqlAlchemyCatalogueRepository,
    SqlAlchemyDocumentRepository,
    SqlAlchemyEditorRepository,
    SqlAlchemyIdempotencyRepository,
    SqlAlchemyMagicLinkRepository,
    SqlAlchemyMarketRepository,
    SqlAlchemySourceFetchRepository,
    SqlAlchemyWebhookDeliveryRepository,
)
from passemarche.services.unit_of_work import AbstractUnitOfWork, ConflictError
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.exc import StaleDataError


class SqlAlchemyUnitOfWork(AbstractUnitOfWork):
    def __init__(self, session_factory: sessionmaker[Session]) -> None:
        self.session_factory = session_factory
        self.session: Session | None = None

    def __enter__(self) -> SqlAlchemyUnitOfWork:
        self.session = self.session_factory()
        self.editors = SqlAlchemyEditorRepository(self.session)
        self.tokens = SqlAlchemyAccessTokenRepository(self.session)
        self.markets = SqlAlchemyMarketRepository(self.session)
        self.applications = SqlAlchemyApplicationRepository(self.session)
        self.idempotency = SqlAlchemyIdempotencyRepository(self.session)
        self.catalogue = SqlAlchemyCatalogueRepository(self.session)
        self.webhooks = SqlAlchemyWebhookDeliveryRepository(self.session)
        self.answers = SqlAlchemyAnswerRepository(self.session)
        self.documents = SqlAlchemyDocumentRepository(self.session)
        self.magic_links = SqlAlchemyMagicLinkRepository(self.session)
        self.prefill = SqlAlchemySourceFetchRepository(self.session)
        return self

    def __exit__(self, *args: object) -> None:
        super().__exit__(*args)  # type: ignore[arg-type]
        if self.session is not None:
            self.session.close()
            self.session = None

    def commit(self) -> None:
        assert self.session is not None
        try:
            self.session.commit()
        except IntegrityError as error:
            self.session.rollback()
            raise ConflictError(str(error.orig)) from error
        except StaleDataError as error:
            self.session.rollback()
            raise ConflictError("changed by another transaction") from error

    def rollback(self) -> None:
        if self.session is not None:
            self.session.rollback()

    def ping(self) -> None:
        with self.session_factory() as session:
            session.execute(text("SELECT 1"))


def session_factory_for(engine) -> sessionmaker[Session]:  # type: ignore[no-untyped-def]
    return sessionmaker(bind=engine, expire_on_commit=False)
