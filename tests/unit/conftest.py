"""Unit tests run on fakes: when they run alone (`make test-unit`), no framework may be loaded."""

from __future__ import annotations

import sys

import pytest

FRAMEWORKS = (
    "flask",
    "werkzeug",
    "sqlalchemy",
    "redis",
    "rq",
    "flask_smorest",
    "authlib",
    "psycopg",
)


@pytest.fixture(scope="session", autouse=True)
def no_framework_when_alone(request: pytest.FixtureRequest):
    yield
    only_unit = all("tests/unit/" in item.nodeid for item in request.session.items)
    if only_unit:
        loaded = sorted(name for name in FRAMEWORKS if name in sys.modules)
        assert loaded == [], f"unit tests loaded frameworks: {loaded}"
