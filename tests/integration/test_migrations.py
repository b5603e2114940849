"""Alembic owns the schema: what the migrations build is exactly `orm.metadata`, on SQLite and on
PostgreSQL, and every migration can be undone and redone.

PostgreSQL gets a database of its own here (created and dropped by the test), so downgrading never
disturbs the database the rest of the run shares.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from passemarche.adapters.database import (
    alembic_config,
    create_database_engine,
    downgrade_database,
    upgrade_database,
)
from passemarche.adapters.orm import metadata
from sqlalchemy import inspect

from tests.conftest import fresh_postgres_database

ORM_TABLES = set(metadata.tables)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database with nothing in it yet."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'migrations.sqlite3'}"
        return
    yield from fresh_postgres_database("pm_migrations")


def schema_differences(url: str) -> list[Any]:
    """What autogenerate would write to bring the database to `orm.metadata`: nothing, we hope."""
    engine = create_database_engine(url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(
                connection,
                opts={"compare_type": True, "compare_server_default": True},
            )
            return compare_metadata(context, metadata)
    finally:
        engine.dispose()


def table_names(url: str) -> set[str]:
    engine = create_database_engine(url)
    try:
        with engine.connect() as connection:
            return set(inspect(connection).get_table_names())
    finally:
        engine.dispose()


def current_revisions(url: str) -> set[str]:
    engine = create_database_engine(url)
    try:
        with engine.connect() as connection:
            return set(MigrationContext.configure(connection).get_current_heads())
    finally:
        engine.dispose()


def named_constraints(url: str) -> dict[str, set[tuple[str, str | None]]]:
    """Primary keys, foreign keys, unique constraints and indexes, by table, with their names."""
    engine = create_database_engine(url)
    try:
        with engine.connect() as connection:
            inspector = inspect(connection)
            found: dict[str, set[tuple[str, str | None]]] = {}
            for table in ORM_TABLES:
                names: set[tuple[str, str | None]] = {
                    ("pk", inspector.get_pk_constraint(table).get("name"))
                }
                names |= {("fk", fk.get("name")) for fk in inspector.get_foreign_keys(table)}
                names |= {("uq", uq.get("name")) for uq in inspector.get_unique_constraints(table)}
                names |= {
                    ("ix", ix.get("name"))
                    for ix in inspector.get_indexes(table)
                    if not ix.get("duplicates_constraint")  # PostgreSQL's index behind a UNIQUE
                }
                found[table] = names
            return found
    finally:
        engine.dispose()


def expected_constraints() -> dict[str, set[tuple[str, str | None]]]:
    expected: dict[str, set[tuple[str, str | None]]] = {}
    for name, table in metadata.tables.items():
        names: set[tuple[str, str | None]] = {("pk", table.primary_key.name)}
        names |= {("fk", fk.name) for fk in table.foreign_key_constraints}
        names |= {
            ("uq", constraint.name)
            for constraint in table.constraints
            if constraint.__class__.__name__ == "UniqueConstraint"
        }
        names |= {("ix", index.name) for index in table.indexes}
        expected[name] = names
    return expected


def head_revision() -> str:
    heads = ScriptDirectory.from_config(alembic_config("sqlite://")).get_heads()
    assert len(heads) == 1, f"the migrations have several heads: {heads}"
    return heads[0]


def test_the_migrations_form_a_single_line_of_history() -> None:
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))

    assert len(script.get_heads()) == 1
    assert len(script.get_bases()) == 1


def test_upgrade_to_head_builds_exactly_the_schema_of_the_orm(empty_database: str) -> None:
    upgrade_database(empty_database)

    assert schema_differences(empty_database) == []
    assert table_names(empty_database) == ORM_TABLES | {"alembic_version"}
    assert current_revisions(empty_database) == {head_revision()}


def test_constraints_and_indexes_carry_the_names_of_the_naming_convention(
    empty_database: str,
) -> None:
    upgrade_database(empty_database)

    assert named_constraints(empty_database) == expected_constraints()


def test_upgrading_a_database_already_at_head_changes_nothing(empty_database: str) -> None:
    upgrade_database(empty_database)

    upgrade_database(empty_database)

    assert current_revisions(empty_database) == {head_revision()}
    assert schema_differences(empty_database) == []


def test_downgrade_to_base_removes_every_table_and_upgrade_rebuilds_them(
    empty_database: str,
) -> None:
    upgrade_database(empty_database)

    downgrade_database(empty_database, "base")

    assert table_names(empty_database) == {"alembic_version"}
    assert current_revisions(empty_database) == set()

    upgrade_database(empty_database)

    assert table_names(empty_database) == ORM_TABLES | {"alembic_version"}
    assert schema_differences(empty_database) == []
    assert current_revisions(empty_database) == {head_revision()}


def test_each_migration_can_be_undone_and_redone_one_step_at_a_time(empty_database: str) -> None:
    script = ScriptDirectory.from_config(alembic_config(empty_database))
    revisions = list(reversed(list(script.walk_revisions())))  # base first

    for revision in revisions:
        upgrade_database(empty_database, revision.revision)
        downgrade_database(empty_database, revision.down_revision or "base")
        upgrade_database(empty_database, revision.revision)

        assert current_revisions(empty_database) == {revision.revision}
    assert schema_differences(empty_database) == []
