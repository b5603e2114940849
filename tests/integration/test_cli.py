"""The `passemarche` console script, run for real in a subprocess, as an administrator runs it.

Each test gets its own SQLite file (a copy of one migrated once for the module) and its own
VAR_DIR; one test drives the PostgreSQL database of the run, with editor names of its own.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from passemarche.entrypoints.app import create_app

from tests.integration.conftest import make_config

CREDENTIAL_KEYS = {"name", "client_id", "client_secret", "webhook_secret"}
SUMMARY_KEYS = {
    "name",
    "client_id",
    "authorized",
    "active",
    "can_create_defense_markets",
    "webhook_url",
    "buyer_return_url",
    "candidate_return_url",
}
# Only what a process needs to start: nothing of the caller's own configuration leaks in.
INHERITED_VARIABLES = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT")


def console_script() -> str:
    beside_python = Path(sys.executable).parent / "passemarche"
    if beside_python.exists():
        return str(beside_python)
    found = shutil.which("passemarche")
    assert found, "the passemarche console script is not installed"
    return found


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str

    @property
    def json(self) -> Any:
        assert self.returncode == 0, self.stderr
        return json.loads(self.stdout)


class Cli:
    """`passemarche …` against one database, with a VAR_DIR of its own."""

    def __init__(self, database_url: str, var_dir: Path) -> None:
        self.database_url = database_url
        self.var_dir = var_dir
        self.var_dir.mkdir(parents=True, exist_ok=True)

    def __call__(self, *args: str) -> Result:
        (result,) = self.together(args)
        return result

    def together(self, *commands: tuple[str, ...]) -> list[Result]:
        """Independent commands, run at the same time (each one is a process start: slow)."""
        env = {name: os.environ[name] for name in INHERITED_VARIABLES if name in os.environ}
        env.update(DATABASE_URL=self.database_url, VAR_DIR=str(self.var_dir))
        processes = [
            subprocess.Popen(  # noqa: S603  (our own console script)
                [console_script(), *args],
                env=env,
                cwd=self.var_dir,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for args in commands
        ]
        results = []
        for process in processes:
            stdout, stderr = process.communicate(timeout=60)
            results.append(Result(process.returncode, stdout, stderr))
        return results

    def ok(self, *args: str) -> Result:
        result = self(*args)
        assert result.returncode == 0, (args, result.stdout, result.stderr)
        return result

    def create(self, name: str, *flags: str) -> dict[str, Any]:
        return self.ok("editor", "create", "--name", name, "--json", *flags).json

    def listed(self) -> dict[str, dict[str, Any]]:
        return {entry["name"]: entry for entry in self.ok("editor", "list", "--json").json}


@pytest.fixture(scope="module")
def migrated_sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One `db upgrade` for the module; every test starts from a copy of its result."""
    directory = tmp_path_factory.mktemp("cli-template")
    path = directory / "template.sqlite3"
    Cli(f"sqlite:///{path}", directory / "var").ok("db", "upgrade")
    return path


@pytest.fixture
def sqlite_path(migrated_sqlite_template: Path, tmp_path: Path) -> Path:
    path = tmp_path / "passemarche.sqlite3"
    with closing(sqlite3.connect(migrated_sqlite_template)) as source:
        with closing(sqlite3.connect(path)) as target:
            source.backup(target)
    return path


@pytest.fixture
def cli(sqlite_path: Path, tmp_path: Path) -> Cli:
    return Cli(f"sqlite:///{sqlite_path}", tmp_path / "var")


def rows(path: Path, sql: str) -> list[tuple[Any, ...]]:
    with closing(sqlite3.connect(path)) as connection:
        return connection.execute(sql).fetchall()


def every_stored_value(path: Path, *tables: str) -> list[str]:
    return [
        str(value)
        for table in tables
        for row in rows(path, f"SELECT * FROM {table}")  # noqa: S608
        for value in row
        if value is not None
    ]


@pytest.fixture
def api(sqlite_path: Path, tmp_path: Path) -> Iterator[Any]:
    """The real application's test client, on the database the CLI writes to."""
    app = create_app(make_config(f"sqlite:///{sqlite_path}", tmp_path / "app"))
    yield app.test_client()
    app.extensions["passemarche"].engine.dispose()


def request_token(api: Any, client_id: str, secret: str) -> Any:
    form = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret}
    return api.post("/oauth/token", data=form)


def read_unknown_market(api: Any, token: str) -> Any:
    """Any authenticated call: 404 with a usable token, 401 with a revoked one."""
    return api.get(
        "/api/v1/public_markets/VR-2030-AAAAAAAAAAAA", headers={"Authorization": f"Bearer {token}"}
    )


# --- db upgrade ---------------------------------------------------------------------------


def test_db_upgrade_builds_the_schema_and_running_it_again_changes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "fresh.sqlite3"
    cli = Cli(f"sqlite:///{path}", tmp_path / "var")

    first = cli("db", "upgrade")
    second = cli("db", "upgrade")

    assert first.returncode == 0, first.stderr
    assert second.returncode == 0, second.stderr
    assert first.stdout == second.stdout == ""
    tables = {name for (name,) in rows(path, "SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"editors", "access_tokens", "markets", "applications", "lots"} <= tables
    assert len(rows(path, "SELECT version_num FROM alembic_version")) == 1
    assert (tmp_path / "var" / "secret_key").exists(), "VAR_DIR is where local files belong"


# --- editor create ------------------------------------------------------------------------


def test_editor_create_json_prints_exactly_one_object_with_the_credentials(cli: Cli) -> None:
    result, other_result = cli.together(
        ("editor", "create", "--name", "Plateforme A", "--json"),
        ("editor", "create", "--name", "Plateforme B", "--json"),
    )

    assert result.returncode == other_result.returncode == 0, result.stderr + other_result.stderr
    other = other_result.json
    lines = result.stdout.splitlines()
    assert len(lines) == 1, result.stdout
    credentials = json.loads(lines[0])
    assert isinstance(credentials, dict)
    assert set(credentials) == CREDENTIAL_KEYS
    assert credentials["name"] == "Plateforme A"
    for key in ("client_id", "client_secret", "webhook_secret"):
        assert isinstance(credentials[key], str) and len(credentials[key]) >= 16, key
        assert credentials[key] != other[key], f"two editors share a {key}"
    assert credentials["client_secret"] != credentials["webhook_secret"]


def test_every_creation_flag_shows_up_in_editor_list_and_defaults_are_safe(cli: Cli) -> None:
    flagged, plain = (
        result.json
        for result in cli.together(
            (
                *("editor", "create", "--name", "Plateforme A", "--json"),
                *("--webhook-url", "https://plateforme-a.example/webhooks"),
                *("--buyer-return-url", "https://plateforme-a.example/acheteur"),
                *("--candidate-return-url", "https://plateforme-a.example/candidat"),
                *("--defense", "--inactive", "--unauthorized"),
            ),
            ("editor", "create", "--name", "Plateforme B", "--json"),
        )
    )

    listed = cli.listed()

    assert listed["Plateforme A"] == {
        "name": "Plateforme A",
        "client_id": flagged["client_id"],
        "authorized": False,
        "active": False,
        "can_create_defense_markets": True,
        "webhook_url": "https://plateforme-a.example/webhooks",
        "buyer_return_url": "https://plateforme-a.example/acheteur",
        "candidate_return_url": "https://plateforme-a.example/candidat",
    }
    assert listed["Plateforme B"] == {
        "name": "Plateforme B",
        "client_id": plain["client_id"],
        "authorized": True,
        "active": True,
        "can_create_defense_markets": False,
        "webhook_url": None,
        "buyer_return_url": None,
        "candidate_return_url": None,
    }


def test_editor_list_never_shows_a_secret_or_a_hash(cli: Cli, sqlite_path: Path) -> None:
    created = cli.create("Plateforme A", "--webhook-url", "https://plateforme-a.example/hook")
    rotated = cli.ok("editor", "rotate-secret", "Plateforme A", "--json").json
    (secret_hash, webhook_secret) = rows(
        sqlite_path, "SELECT client_secret_hash, webhook_secret FROM editors"
    )[0]

    as_json, as_text = cli.together(("editor", "list", "--json"), ("editor", "list"))

    assert [set(entry) for entry in as_json.json] == [SUMMARY_KEYS]
    hidden = {
        created["client_secret"],
        created["webhook_secret"],
        rotated["client_secret"],
        secret_hash,
        webhook_secret,
    }
    for output in (as_json.stdout, as_text.stdout):
        assert "Plateforme A" in output
        assert "secret" not in output.lower()
        assert "hash" not in output.lower()
        for value in hidden:
            assert value not in output


def test_creating_an_editor_with_a_name_already_taken_fails_clearly(cli: Cli) -> None:
    first = cli.create("Plateforme A")

    duplicate = cli("editor", "create", "--name", "Plateforme A", "--json")

    assert duplicate.returncode != 0
    assert duplicate.stdout == ""
    assert "already exists" in duplicate.stderr
    assert "Traceback" not in duplicate.stderr
    assert [entry["client_id"] for entry in cli.listed().values()] == [first["client_id"]]


def test_a_blank_name_or_an_invalid_url_is_refused_and_no_editor_is_created(cli: Cli) -> None:
    attempts = {
        ("--name", "  "): "Name can't be blank",
        ("--webhook-url", "ftp://plateforme-a.example/hook"): "Webhook url must be an http",
        ("--buyer-return-url", "plateforme-a.example/retour"): "Buyer return url must be an http",
        ("--candidate-return-url", "https://"): "Candidate return url must be an http",
    }

    results = cli.together(
        *(
            ("editor", "create", *(() if flag == "--name" else ("--name", "A")), flag, value)
            for flag, value in attempts
        )
    )

    for ((flag, value), message), result in zip(attempts.items(), results, strict=True):
        assert result.returncode != 0, (flag, value)
        assert result.stdout == "", (flag, value)
        assert message in result.stderr, (flag, value, result.stderr)
        assert "Traceback" not in result.stderr
    assert cli.listed() == {}


# --- editor update ------------------------------------------------------------------------


def test_editor_update_switches_each_flag_and_leaves_the_others_alone(cli: Cli) -> None:
    created = cli.create("Plateforme A", "--webhook-url", "https://plateforme-a.example/hook")

    def update(*flags: str) -> dict[str, Any]:
        summary = cli.ok("editor", "update", "Plateforme A", *flags, "--json").json
        assert set(summary) == SUMMARY_KEYS
        assert summary["client_id"] == created["client_id"]
        assert summary["webhook_url"] == "https://plateforme-a.example/hook"
        return summary

    def flags(summary: dict[str, Any]) -> tuple[bool, bool, bool]:
        return summary["active"], summary["authorized"], summary["can_create_defense_markets"]

    assert flags(update("--inactive")) == (False, True, False)
    assert flags(update("--active", "--unauthorized", "--defense")) == (True, False, True)
    assert flags(update("--authorized", "--no-defense", "--inactive")) == (False, True, False)


def test_an_empty_url_clears_it_and_a_new_one_replaces_it(cli: Cli) -> None:
    cli.create(
        "Plateforme A",
        "--webhook-url",
        "https://plateforme-a.example/hook",
        "--buyer-return-url",
        "https://plateforme-a.example/acheteur",
    )

    updated = cli.ok(
        "editor",
        "update",
        "Plateforme A",
        "--webhook-url",
        "",
        "--candidate-return-url",
        "https://b.example/c",
    )

    assert "Plateforme A" in updated.stdout
    stored = cli.listed()["Plateforme A"]
    assert stored["webhook_url"] is None
    assert stored["buyer_return_url"] == "https://plateforme-a.example/acheteur"
    assert stored["candidate_return_url"] == "https://b.example/c"


def test_editor_update_refuses_an_invalid_url_and_changes_nothing(cli: Cli) -> None:
    cli.create("Plateforme A", "--webhook-url", "https://plateforme-a.example/hook")

    refused = cli("editor", "update", "Plateforme A", "--inactive", "--webhook-url", "ftp://x")

    assert refused.returncode != 0
    assert "Webhook url must be an http or https URL" in refused.stderr
    stored = cli.listed()["Plateforme A"]
    assert stored["webhook_url"] == "https://plateforme-a.example/hook"
    assert stored["active"] is True


def test_updating_or_rotating_an_unknown_editor_fails_clearly(cli: Cli) -> None:
    commands = (
        ("editor", "update", "Inconnu", "--inactive"),
        ("editor", "rotate-secret", "Inconnu", "--json"),
    )

    for command, result in zip(commands, cli.together(*commands), strict=True):
        assert result.returncode != 0, command
        assert result.stdout == "", command
        assert "No editor named 'Inconnu'" in result.stderr, command
        assert "Traceback" not in result.stderr, command


# --- secrets ------------------------------------------------------------------------------


def test_rotate_secret_gives_a_new_secret_and_only_the_new_one_works(cli: Cli, api: Any) -> None:
    created = cli.create("Plateforme A")
    issued = request_token(api, created["client_id"], created["client_secret"])
    assert issued.status_code == 200, issued.get_json()
    old_token = issued.get_json()["access_token"]
    assert read_unknown_market(api, old_token).status_code == 404

    rotated = cli.ok("editor", "rotate-secret", "Plateforme A", "--json")

    assert len(rotated.stdout.splitlines()) == 1
    new = rotated.json
    assert set(new) == {"name", "client_id", "client_secret"}
    assert new["name"] == "Plateforme A"
    assert new["client_id"] == created["client_id"]
    assert new["client_secret"] != created["client_secret"]
    assert read_unknown_market(api, old_token).status_code == 401, "old tokens are revoked"
    with_old = request_token(api, created["client_id"], created["client_secret"])
    assert with_old.status_code == 401
    assert with_old.get_json()["error"] == "invalid_client"
    with_new = request_token(api, created["client_id"], new["client_secret"])
    assert with_new.status_code == 200, with_new.get_json()
    assert read_unknown_market(api, with_new.get_json()["access_token"]).status_code == 404


def test_secrets_and_tokens_are_stored_only_as_hashes(
    cli: Cli, api: Any, sqlite_path: Path
) -> None:
    created = cli.create("Plateforme A")
    issued = request_token(api, created["client_id"], created["client_secret"])
    assert issued.status_code == 200, issued.get_json()
    rotated = cli.ok("editor", "rotate-secret", "Plateforme A", "--json").json

    stored = every_stored_value(sqlite_path, "editors", "access_tokens")

    in_clear = {
        "client secret": created["client_secret"],
        "rotated client secret": rotated["client_secret"],
        "access token": issued.get_json()["access_token"],
    }
    for what, secret in in_clear.items():
        assert not [value for value in stored if secret in value], f"{what} stored in clear"
    token_hashes = rows(sqlite_path, "SELECT token_hash FROM access_tokens")
    secret_hashes = rows(sqlite_path, "SELECT client_secret_hash FROM editors")
    assert len(token_hashes) == 1 and token_hashes[0][0]
    assert len(secret_hashes) == 1 and secret_hashes[0][0]


# --- PostgreSQL ---------------------------------------------------------------------------


@pytest.mark.postgres
def test_the_cli_manages_editors_on_postgresql(postgres_url: str, tmp_path: Path) -> None:
    cli = Cli(postgres_url, tmp_path / "var")
    name = f"Plateforme PG {uuid.uuid4().hex[:8]}"

    cli.ok("db", "upgrade")  # the run's database is already at head: nothing to do
    created = cli.create(name, "--webhook-url", "https://pg.example/hook", "--defense")
    listing, duplicate = cli.together(
        ("editor", "list", "--json"), ("editor", "create", "--name", name, "--json")
    )
    updated = cli.ok("editor", "update", name, "--inactive", "--webhook-url", "", "--json").json
    rotated = cli.ok("editor", "rotate-secret", name, "--json").json

    assert set(created) == CREDENTIAL_KEYS
    (listed,) = [entry for entry in listing.json if entry["name"] == name]
    assert listed["client_id"] == created["client_id"]
    assert listed["can_create_defense_markets"] is True
    assert listed["webhook_url"] == "https://pg.example/hook"
    assert created["client_secret"] not in listing.stdout
    assert created["webhook_secret"] not in listing.stdout
    assert duplicate.returncode != 0
    assert "already exists" in duplicate.stderr
    assert (updated["active"], updated["webhook_url"]) == (False, None)
    assert rotated["client_id"] == created["client_id"]
    assert rotated["client_secret"] != created["client_secret"]
