"""End-to-end fixtures: the real `passemarche` command and gunicorn, in processes of their own,
on PostgreSQL and Redis (the session fixtures of tests/conftest.py), reached over real HTTP."""

from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

# The console script installed next to the interpreter running the tests (the project's venv).
PASSEMARCHE = Path(sys.executable).with_name("passemarche")
if not PASSEMARCHE.exists():  # an interpreter outside the venv: whatever is on the PATH
    PASSEMARCHE = Path(shutil.which("passemarche") or PASSEMARCHE)
STARTUP_TIMEOUT = 20.0
# Variables of the developer's shell that would change what the server under test does.
_SCRUBBED = (
    "DATABASE_URL",
    "REDIS_URL",
    "SECRET_KEY",
    "VAR_DIR",
    "STORAGE_DIR",
    "PUBLIC_BASE_URL",
    "TRUST_PROXY_HEADERS",
    "WEB_CONCURRENCY",
    "GUNICORN_CMD_ARGS",
)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Response:
    status: int
    headers: dict[str, str]  # names lower-cased
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def http_request(
    port: int,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 10.0,
) -> Response:
    """One request on a connection of its own, closed afterwards (`Connection: close`), so that
    gunicorn hands every call to whichever worker accepts the new connection."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request(
            method, path, body=body, headers={**(headers or {}), "Connection": "close"}
        )
        response = connection.getresponse()
        payload = response.read()
        return Response(response.status, {k.lower(): v for k, v in response.getheaders()}, payload)
    finally:
        connection.close()


class Server:
    """`passemarche serve` (which execs gunicorn) in its own process group; stderr, where the app
    writes one JSON line per request, goes to a file read by `log_lines`."""

    def __init__(self, env: dict[str, str], log_path: Path, workers: int) -> None:
        self.env = env
        self.port = free_port()
        self.log_path = log_path
        self._log = open(log_path, "wb")  # closed in stop()
        self.process = subprocess.Popen(
            [
                str(PASSEMARCHE),
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--workers",
                str(workers),
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=self._log,
            start_new_session=True,  # its own process group: stop() ends gunicorn and workers
        )

    def request(self, method: str, path: str, **options: Any) -> Response:
        return http_request(self.port, method, path, **options)

    def wait_until_up(self) -> None:
        """GET /up == 200, answered by *this* server (its request id shows up in our log): the
        port was free when chosen, but another process could have taken it since."""
        deadline = time.monotonic() + STARTUP_TIMEOUT
        last: object = None
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(
                    f"the server exited with {self.process.returncode}:\n{self.log_text()}"
                )
            request_id = uuid.uuid4().hex
            try:
                response = self.request(
                    "GET", "/up", headers={"X-Request-Id": request_id}, timeout=2
                )
            except OSError as error:
                last = error
                time.sleep(0.1)
                continue
            last = f"{response.status} {response.body[:200]!r}"
            if response.status == 200 and self.pids_for([request_id], timeout=2):
                return
            time.sleep(0.1)
        raise AssertionError(f"the server did not come up ({last}):\n{self.log_text()}")

    def log_text(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")

    def log_lines(self) -> list[dict[str, Any]]:
        """The JSON lines of the log (gunicorn's own lines are plain text and skipped)."""
        lines = []
        for raw in self.log_text().splitlines():
            if raw.startswith("{"):
                try:
                    lines.append(json.loads(raw))
                except ValueError:
                    continue
        return lines

    def pids_for(self, request_ids: list[str], timeout: float = 5.0) -> dict[str, int]:
        """The pid of the worker that logged each request id (waiting a little for the lines)."""
        wanted = set(request_ids)
        deadline = time.monotonic() + timeout
        while True:
            found = {
                line["request_id"]: int(line["pid"])
                for line in self.log_lines()
                if line.get("request_id") in wanted and "pid" in line
            }
            if len(found) == len(wanted) or time.monotonic() >= deadline:
                return found
            time.sleep(0.05)

    def stop(self) -> None:
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(self.process.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.process.wait(timeout=5)
        self._log.close()


def process_env(tmp_path: Path, **values: str) -> dict[str, str]:
    """The environment of a process under test: the shell's, minus what would change what the
    server does, plus its own var/, rate-limit key prefix and `values` (its database…)."""
    env = {k: v for k, v in os.environ.items() if k not in _SCRUBBED}
    env.update(
        SECRET_KEY="test",
        VAR_DIR=str(tmp_path / "var"),
        PASSEMARCHE_ENV="test",
        RATE_LIMIT_KEY_PREFIX=f"e2e-{uuid.uuid4().hex[:12]}",
        LOG_LEVEL="INFO",
        PYTHONUNBUFFERED="1",
        # gunicorn 27 opens a control socket under ~/.gunicorn by default, shared by every
        # gunicorn of the user: a test server has no business there.
        GUNICORN_CMD_ARGS="--no-control-socket",
    )
    env.update(values)
    return env


@pytest.fixture
def server_env(postgres_url: str, redis_url: str, tmp_path: Path) -> dict[str, str]:
    """The environment of every process of one test, on PostgreSQL and Redis."""
    return process_env(tmp_path, DATABASE_URL=postgres_url, REDIS_URL=redis_url)


@pytest.fixture
def passemarche_cli(server_env: dict[str, str]) -> Callable[..., Any]:
    """Run `passemarche <args> --json` and return the one JSON document it prints."""

    def run(*args: str, env: dict[str, str] | None = None) -> Any:
        completed = subprocess.run(
            [str(PASSEMARCHE), *args, "--json"],
            env=env or server_env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert completed.returncode == 0, completed.stderr
        return json.loads(completed.stdout)

    return run


@pytest.fixture
def start_server(server_env: dict[str, str], tmp_path: Path) -> Iterator[Callable[..., Server]]:
    """Start `passemarche serve` (gunicorn) with extra environment; every server is stopped at
    teardown, whatever the test did."""
    servers: list[Server] = []

    def start(workers: int = 2, **env: str) -> Server:
        server = Server({**server_env, **env}, tmp_path / f"server-{len(servers)}.log", workers)
        servers.append(server)
        server.wait_until_up()
        return server

    yield start
    for server in servers:
        server.stop()


# The browser fixtures, defined once for every e2e module: one Playwright driver per session
# (two at once would clash: the sync API refuses to start inside a running one).
from tests.e2e.browser import browser_console, browser_page, playwright_driver  # noqa: E402, F401
