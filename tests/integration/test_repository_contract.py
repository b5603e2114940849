"""The repository contract, bound to every storage adapter: the in-memory fake, SQLite and
PostgreSQL. To check a new adapter, add a parameter to `uow_factory` (tests/integration/conftest.py)."""

from tests.contract.repository_contract import RepositoryContract


class TestRepositories(RepositoryContract):
    pass
