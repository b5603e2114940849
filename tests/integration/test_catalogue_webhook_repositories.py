"""The catalogue and webhook-delivery repository contract, bound to every storage adapter: the
in-memory fake, SQLite and PostgreSQL (as tests/integration/test_repository_contract.py does for
the others)."""

import pytest
from passemarche.adapters.database import create_database_engine
from passemarche.adapters.memory import MemoryStore, MemoryUnitOfWork
from passemarche.adapters.orm import start_mappers
from passemarche.adapters.unit_of_work import SqlAlchemyUnitOfWork, session_factory_for

from tests.contract.catalogue_and_webhooks_contract import CatalogueAndWebhooksContract


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def uow_factory(request):
    if request.param == "memory":
        store = MemoryStore()
        yield lambda: MemoryUnitOfWork(store)
        return
    url = request.getfixturevalue("database_url_for")(request.param)
    start_mappers()
    engine = create_database_engine(url)
    sessions = session_factory_for(engine)
    yield lambda: SqlAlchemyUnitOfWork(sessions)
    engine.dispose()


class TestCatalogueAndWebhookRepositories(CatalogueAndWebhooksContract):
    pass
