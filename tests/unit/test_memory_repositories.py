"""The in-memory fake obeys the repository contract (also bound to SQLite and PostgreSQL in
tests/integration), so the unit tests that use it can trust it."""

import pytest
from passemarche.adapters.memory import MemoryStore, MemoryUnitOfWork

from tests.contract.repository_contract import RepositoryContract


@pytest.fixture
def uow_factory():
    store = MemoryStore()
    return lambda: MemoryUnitOfWork(store)


class TestMemoryRepositories(RepositoryContract):
    pass
