"""Integration fixtures: real databases (SQLite file, PostgreSQL) migrated by Alembic, and the
Flask app through its test client."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from passemarche.adapters.database import create_database_engine, upgrade_database
from passemarche.adapters.memory import MemoryStore, MemoryUnitOfWork
from passemarche.adapters.orm import metadata, start_mappers
from passemarche.adapters.unit_of_work import SqlAlchemyUnitOfWork, session_factory_for
from passemarche.config import Config
from passemarche.entrypoints.app import create_app
from passemarche.entrypoints.bootstrap import Container, bootstrap
from passemarche.services import editors
from sqlalchemy import text


@pytest.fixture(scope="session")
def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'passemarche.sqlite3'}"
    upgrade_database(url)
    return url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, database_url_for: Any) -> str:
    return database_url_for(request.param)


@pytest.fixture
def database_url_for(request: pytest.FixtureRequest) -> Iterator[Any]:
    """Gives the migrated database of a kind ("sqlite", "postgres"), emptied after the test."""
    used: list[str] = []

    def url_for(kind: str) -> str:
        url = request.getfixturevalue(f"{kind}_url")
        used.append(url)
        return url

    yield url_for
    for url in used:
        _empty_tables(url)


def _empty_tables(url: str) -> None:
    engine = create_database_engine(url)
    with engine.begin() as connection:
        for table in reversed(metadata.sorted_tables):
            connection.execute(text(f"DELETE FROM {table.name}"))
    engine.dispose()


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def uow_factory(request: pytest.FixtureRequest, database_url_for: Any) -> Iterator[Any]:
    """Fresh units of work on one shared, empty store, for each storage adapter: the contract
    suites (tests/contract/) run against all of them. A new adapter is a new parameter here."""
    if request.param == "memory":
        store = MemoryStore()
        yield lambda: MemoryUnitOfWork(store)
        return
    start_mappers()
    engine = create_database_engine(database_url_for(request.param))
    sessions = session_factory_for(engine)
    yield lambda: SqlAlchemyUnitOfWork(sessions)
    engine.dispose()


def make_config(database_url: str, tmp_path: Any, **overrides: Any) -> Config:
    values: dict[str, Any] = {
        "environment": "test",
        "var_dir": tmp_path,
        "database_url": database_url,
        "secret_key": "test-secret-key",
        "storage_dir": tmp_path / "storage",
        "rate_limit_key_prefix": f"test-{uuid.uuid4().hex[:8]}",
        "log_level": "WARNING",
    }
    values.update(overrides)
    return Config(**values)


@pytest.fixture
def config(database_url: str, tmp_path: Any) -> Config:
    return make_config(database_url, tmp_path)


@pytest.fixture
def container(config: Config) -> Iterator[Container]:
    built = bootstrap(config)
    yield built
    built.engine.dispose()


@pytest.fixture
def app(container: Container) -> Any:
    return create_app(container=container)


@pytest.fixture
def client(app: Any) -> Any:
    return app.test_client()


class Editor:
    """An editor as an integrator sees it: credentials, a token, and JSON calls."""

    def __init__(self, client: Any, credentials: Any) -> None:
        self.client = client
        self.credentials = credentials
        self.name = credentials.name
        self.client_id = credentials.client_id
        self.client_secret = credentials.client_secret
        self._token: str | None = None

    def request_token(self, scope: str | None = None, basic: bool = False) -> Any:
        form = {"grant_type": "client_credentials"}
        headers = {}
        if basic:
            raw = f"{self.client_id}:{self.client_secret}".encode()
            headers["Authorization"] = "Basic " + base64.b64encode(raw).decode()
        else:
            form.update(client_id=self.client_id, client_secret=self.client_secret)
        if scope:
            form["scope"] = scope
        return self.client.post("/oauth/token", data=form, headers=headers)

    @property
    def token(self) -> str:
        if self._token is None:
            response = self.request_token()
            assert response.status_code == 200, response.get_json()
            self._token = response.get_json()["access_token"]
        return self._token

    def headers(self, **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}", **extra}

    def post(self, path: str, body: Any, **headers: str) -> Any:
        return self.client.post(path, json=body, headers=self.headers(**headers))

    def get(self, path: str, **headers: str) -> Any:
        return self.client.get(path, headers=self.headers(**headers))

    def create_market(self, **fields: Any) -> Any:
        from tests.support import market_payload

        return self.post("/api/v1/public_markets", {"public_market": market_payload(**fields)})


@pytest.fixture
def make_editor(client: Any, container: Container) -> Any:
    counter = iter(range(1, 1000))

    def make(name: str | None = None, **flags: Any) -> Editor:
        credentials = editors.create_editor(
            container.uow(), container.clock, name or f"Éditeur {next(counter)}", **flags
        )
        return Editor(client, credentials)

    return make


@pytest.fixture
def editor(make_editor: Any) -> Editor:
    return make_editor("Plateforme A")


def finalise_market(
    container: Container, identifier: str, field_keys: list[str] | None = None
) -> None:
    """What the buyer's pages will do; until they exist, the tests finalise directly."""
    with container.uow() as uow:
        market = uow.markets.get(identifier)
        market.finalise(field_keys or [], container.clock.now())
        uow.commit()


def complete_application(container: Container, identifier: str) -> None:
    with container.uow() as uow:
        application = uow.applications.get(identifier)
        application.submit(container.clock.now())
        uow.commit()
