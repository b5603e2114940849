"""`make demo`'s own safety: the environment its children get, the replica's token, the check
that the pre-fill happened, the readiness check (never a foreign server on the port), and every
child stopped when the terminal closes."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

import demo.run as demo_run
from demo import processes
from demo.processes import Process

ROOT = Path(__file__).resolve().parents[2]


# --- 7. The children's environment, the replica's token, the pre-fill check -----------------


def test_children_get_an_allowlist_of_the_shell_plus_the_demo_settings():
    shell = {
        "PATH": "/usr/bin",
        "HOME": "/home/dev",
        "LANG": "fr_FR.UTF-8",
        "AWS_SECRET_ACCESS_KEY": "leak-me",
        "DATABASE_URL": "postgresql://prod/db",
        "PASSEMARCHE_CLIENT_SECRET": "dev-secret",
        "SENTRY_DSN": "https://sentry/1",
        "PYTHONSTARTUP": "/home/dev/evil.py",
    }
    env = demo_run.demo_env(shell, Path("/tmp/var-demo"), "http://127.0.0.1:1", 2, 3)
    assert {"PATH", "HOME", "LANG"} <= env.keys()
    for leaked in ("AWS_SECRET_ACCESS_KEY", "PASSEMARCHE_CLIENT_SECRET", "SENTRY_DSN",
                   "PYTHONSTARTUP"):  # fmt: skip
        assert leaked not in env
    assert env["DATABASE_URL"] == "sqlite:////tmp/var-demo/passemarche.sqlite3"
    assert env["API_ENTREPRISE_TOKEN"] == demo_run.SANDBOX_TOKEN
    assert all(isinstance(value, str) for value in env.values())


def test_the_replicas_are_started_with_the_token_the_service_is_given():
    command = demo_run.replicas_command(8091, 8092)
    assert command[command.index("--token") + 1] == demo_run.SANDBOX_TOKEN == "sandbox-token"
    assert command[command.index("--api-port") + 1] == "8091"


def _documents(tmp_path: Path, members: list[str]) -> tuple[Path, Path]:
    pdf = tmp_path / "attestation.pdf"
    pdf.write_bytes(b"%PDF-1.7\n")
    package = tmp_path / "package.zip"
    with zipfile.ZipFile(package, "w") as archive:
        for name in members:
            archive.writestr(name, b"x")
    return pdf, package


def test_the_demo_fails_when_nothing_was_pre_filled(tmp_path):
    pdf, package = _documents(tmp_path, ["attestation.pdf", "documents/user_1_kbis.pdf"])
    with pytest.raises(demo_run.DemoFailed, match="documents/api_"):
        demo_run.check_documents(pdf, package)
    pdf, package = _documents(tmp_path, ["documents/user_1.pdf", "documents/api_kbis.pdf"])
    assert "documents/api_kbis.pdf" in demo_run.check_documents(pdf, package)


# --- 8. Readiness: the service's own answer, from our own live child --------------------------


@contextmanager
def foreign_server(status: int, body: Any, headers: dict[str, str] | None = None) -> Iterator[int]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            payload = json.dumps(body).encode() if not isinstance(body, bytes) else body
            self.send_response(status)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    ).start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def sleeper(tmp_path) -> Iterator[Process]:
    process = Process("sleeper", [sys.executable, "-c", "import time; time.sleep(30)"],
                      {"PATH": os.environ.get("PATH", "")}, tmp_path / "sleeper.log")  # fmt: skip
    yield process
    process.stop()


@pytest.mark.parametrize(
    ("status", "body", "headers"),
    [
        (404, b"<html>another app</html>", {}),
        (200, {"hello": "world"}, {"X-Request-Id": "r"}),
        (200, {"status": "ok"}, {}),  # the sandbox editor's /up: not the service
    ],
)
def test_a_foreign_server_on_the_port_is_not_taken_for_the_service(sleeper, status, body, headers):
    with foreign_server(status, body, headers) as port:
        with pytest.raises(RuntimeError, match="did not answer"):
            sleeper.wait_until_up(
                f"http://127.0.0.1:{port}/up", timeout=0.25, accept=processes.service_is_up
            )


def test_any_non_200_is_not_ready_by_default(sleeper):
    with foreign_server(404, {"error": "not here"}) as port:
        with pytest.raises(RuntimeError, match="did not answer"):
            sleeper.wait_until_up(f"http://127.0.0.1:{port}/up", timeout=0.25)


def test_the_service_answer_is_accepted_from_a_live_child(sleeper):
    with foreign_server(200, {"status": "ok"}, {"X-Request-Id": "abc"}) as port:
        sleeper.wait_until_up(
            f"http://127.0.0.1:{port}/up", timeout=2, accept=processes.service_is_up
        )


def test_a_dead_child_is_never_ready_even_when_something_answers(tmp_path):
    dead = Process("dead", [sys.executable, "-c", "pass"], {}, tmp_path / "dead.log")
    dead.process.wait(timeout=10)
    with foreign_server(200, {"status": "ok"}, {"X-Request-Id": "abc"}) as port:
        with pytest.raises(RuntimeError, match="exited"):
            dead.wait_until_up(
                f"http://127.0.0.1:{port}/up", timeout=2, accept=processes.service_is_up
            )
    dead.stop()


def test_a_port_already_in_use_stops_the_demo_before_starting_anything():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        with pytest.raises(demo_run.DemoFailed, match="already in use"):
            demo_run.ensure_port_free(sock.getsockname()[1], "service")
    demo_run.ensure_port_free(processes.free_port(), "service")


# --- 9. Closing the terminal stops every child --------------------------------------------------

CHILD_SCRIPT = """
import sys, time
from pathlib import Path
from demo.processes import Process
from demo.run import _processes, install_signal_handlers

install_signal_handlers()
try:
    with _processes() as running:
        child = Process("sleeper", [sys.executable, "-c", "import time; time.sleep(60)"], {},
                        Path(sys.argv[1]))
        running.append(child)
        print(child.process.pid, flush=True)
        time.sleep(60)
except KeyboardInterrupt:
    sys.exit(130)
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.parametrize("signum", [signal.SIGHUP, signal.SIGTERM, signal.SIGINT])
def test_a_signal_to_the_demo_stops_its_children(tmp_path, signum):
    demo_process = subprocess.Popen(
        [sys.executable, "-c", CHILD_SCRIPT, str(tmp_path / "child.log")],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    child_pid = 0
    try:
        assert demo_process.stdout is not None
        child_pid = int(demo_process.stdout.readline())
        assert _alive(child_pid)
        demo_process.send_signal(signum)
        assert demo_process.wait(timeout=15) == 130
        deadline = time.monotonic() + 5
        while _alive(child_pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _alive(child_pid), f"child {child_pid} still running after {signum!r}"
    finally:
        if demo_process.poll() is None:
            demo_process.kill()
            demo_process.wait()
        if child_pid and _alive(child_pid):
            os.kill(child_pid, signal.SIGKILL)
