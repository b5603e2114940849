"""Fixtures for the real services (PostgreSQL, Redis): skipped with a one-line reason when they
are not running, mandatory under CI (CI=true), where a missing service fails the run."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from hypothesis import settings

# Timing belongs in benchmarks: a busy CI machine must not fail a property test on its deadline.
settings.register_profile("passemarche", deadline=None)
settings.load_profile("passemarche")

POSTGRES_ADMIN_URL = os.environ.get(
    "TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def service_unavailable(what: str, error: Exception) -> None:
    reason = f"{what} unavailable: {type(error).__name__}: {str(error).splitlines()[0][:120]}"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason} (mandatory under CI)", pytrace=False)
    pytest.skip(reason)


def fresh_postgres_database(prefix: str) -> Iterator[str]:
    """Yields the URL of a new, empty database on the test server, dropped afterwards (skipped,
    or failed under CI, when the server is not there)."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as error:  # noqa: BLE001  (any failure: the server is not there)
        admin.dispose()
        service_unavailable("PostgreSQL at " + POSTGRES_ADMIN_URL, error)
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A database of its own for this test run, migrated to head, dropped at the end."""
    from passemarche.adapters.database import upgrade_database

    for url in fresh_postgres_database("pm_test"):
        upgrade_database(url)
        yield url


@pytest.fixture(scope="session")
def redis_url() -> str:
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except Exception as error:  # noqa: BLE001
        service_unavailable("Redis at " + REDIS_URL, error)
    finally:
        client.close()
    return REDIS_URL
