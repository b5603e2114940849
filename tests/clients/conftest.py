"""The reference client against the real service: `passemarche serve` in a process of its own
on a temporary SQLite database, the API Entreprise / BODACC replicas and the sandbox editor in
threads, and a fault-injecting proxy of our own in front of the API (429, 503, dropped
connections, truncated downloads). Everything listens on 127.0.0.1 only."""

from __future__ import annotations

import http.client
import json
import os
import sqlite3
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from passemarche_client import PasseMarcheClient, RetryPolicy
from passemarche_client.sandbox_editor import EditorSettings, create_app
from werkzeug.serving import make_server

from demo.processes import Process, free_port, service_is_up

BIN = Path(sys.executable).parent
_SCRUBBED = (
    "DATABASE_URL", "REDIS_URL", "SECRET_KEY", "VAR_DIR", "STORAGE_DIR", "STORAGE_URL",
    "PUBLIC_BASE_URL", "OUTBOX_DIR", "UPLOAD_TMP_DIR", "SMTP_URL", "CLAMD_URL",
    "GUNICORN_CMD_ARGS", "API_ENTREPRISE_BASE_URL", "API_ENTREPRISE_TOKEN", "BODACC_BASE_URL",
)  # fmt: skip


# --- The fault-injecting proxy -----------------------------------------------------------


@dataclass
class Fault:
    """What the proxy does to the next `times` requests matching `method` and `path` (a
    prefix): answer `status` itself, `drop` the connection without forwarding, forward then
    drop (`drop_after`), or forward then send only half the body (`truncate`)."""

    method: str
    path: str
    action: str
    times: int = 1
    status: int = 503
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None


@dataclass
class SeenRequest:
    method: str
    path: str
    headers: dict[str, str]
    fault: str | None


class FaultProxy:
    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.faults: list[Fault] = []
        self.requests: list[SeenRequest] = []
        self.lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"  # one request per connection: simple and explicit

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                fault = proxy._take(self.command, self.path)
                with proxy.lock:
                    proxy.requests.append(
                        SeenRequest(self.command, self.path, dict(self.headers.items()),
                                    fault.action if fault else None)
                    )  # fmt: skip
                if fault is not None and fault.action == "status":
                    payload = json.dumps(fault.body).encode() if fault.body is not None else b""
                    self.send_response(fault.status)
                    for name, value in fault.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                    return
                if fault is not None and fault.action == "drop":
                    self.close_connection = True
                    return
                status, headers, answer = proxy._forward(self.command, self.path,
                                                         dict(self.headers.items()), body)  # fmt: skip
                if fault is not None and fault.action == "drop_after":
                    self.close_connection = True  # the server did the work; the client never knows
                    return
                self.send_response(status)
                for name, value in headers:
                    if name.lower() not in ("transfer-encoding", "connection", "content-length"):
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                if fault is not None and fault.action == "truncate":
                    self.wfile.write(answer[: len(answer) // 2])
                    self.close_connection = True
                    return
                self.wfile.write(answer)

            do_GET = do_POST = do_PUT = do_DELETE = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def add(self, fault: Fault) -> None:
        with self.lock:
            self.faults.append(fault)

    def _take(self, method: str, path: str) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.times > 0 and fault.method == method and path.startswith(fault.path):
                    fault.times -= 1
                    return fault
        return None

    def _forward(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        connection = http.client.HTTPConnection("127.0.0.1", self.upstream_port, timeout=30)
        try:
            headers = {k: v for k, v in headers.items() if k.lower() not in ("connection", "host")}
            headers["Host"] = f"127.0.0.1:{self.upstream_port}"
            connection.request(method, path, body=body or None, headers=headers)
            response = connection.getresponse()
            return response.status, response.getheaders(), response.read()
        finally:
            connection.close()

    def seen(self, method: str, path: str) -> list[SeenRequest]:
        with self.lock:
            return [r for r in self.requests if r.method == method and r.path.startswith(path)]

    def reset(self) -> None:
        with self.lock:
            self.faults.clear()
            self.requests.clear()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# --- The service, the replicas and the sandbox editor -------------------------------------


@dataclass
class RawWebhook:
    headers: dict[str, str]
    body: bytes


@dataclass
class Stack:
    base_url: str
    port: int
    database: Path
    env: dict[str, str]
    editor: dict[str, str]  # the editor whose webhooks the sandbox editor verifies
    editor_state: Any
    raw_webhooks: list[RawWebhook]
    editor_url: str

    def cli(self, *args: str) -> Any:
        completed = subprocess.run(
            [str(BIN / "passemarche"), *args, "--json"],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert completed.returncode == 0, completed.stderr
        return json.loads(completed.stdout)

    def count(self, sql: str, *params: Any) -> int:
        with sqlite3.connect(self.database) as connection:
            return int(connection.execute(sql, params).fetchone()[0])


def _serve_in_thread(app: Any, port: int = 0) -> Any:
    server = make_server("127.0.0.1", port, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    from passemarche.sandbox import create_bodacc_app, create_sandbox_app

    var = tmp_path_factory.mktemp("client-var")
    database = var / "passemarche.sqlite3"
    api = _serve_in_thread(create_sandbox_app("sandbox-token", 40.0))
    bodacc = _serve_in_thread(create_bodacc_app())
    port = free_port()
    editor_port = free_port()
    editor_url = f"http://127.0.0.1:{editor_port}"
    env = {k: v for k, v in os.environ.items() if k not in _SCRUBBED}
    env.update(
        VAR_DIR=str(var),
        DATABASE_URL=f"sqlite:///{database}",
        SECRET_KEY="client-tests",
        PASSEMARCHE_ENV="test",
        PUBLIC_BASE_URL=f"http://127.0.0.1:{port}",
        ALLOW_PRIVATE_WEBHOOK_TARGETS="1",
        WEBHOOK_RETRY_DELAYS="1,2",
        LOG_LEVEL="WARNING",
        API_ENTREPRISE_BASE_URL=f"http://127.0.0.1:{api.server_port}",
        API_ENTREPRISE_TOKEN="sandbox-token",
        BODACC_BASE_URL=f"http://127.0.0.1:{bodacc.server_port}",
        GUNICORN_CMD_ARGS="--no-control-socket",
        PYTHONUNBUFFERED="1",
    )
    for args in (["db", "upgrade"], ["catalogue", "load"]):
        subprocess.run([str(BIN / "passemarche"), *args], env=env, check=True,
                       capture_output=True, timeout=120)  # fmt: skip
    stack = Stack(f"http://127.0.0.1:{port}", port, database, env, {}, None, [], editor_url)
    stack.editor = stack.cli(
        "editor", "create", "--name", "Éditeur bac à sable",
        "--webhook-url", f"{editor_url}/webhooks",
        "--candidate-return-url", f"{editor_url}/candidate",
    )  # fmt: skip
    editor_app = create_app(EditorSettings(webhook_secret=stack.editor["webhook_secret"]))
    stack.editor_state = editor_app.extensions["sandbox_editor"]

    def recording(environ: Any, start_response: Any) -> Any:
        # Keep the exact bytes and headers of each webhook, for replay and tampering tests.
        if environ.get("PATH_INFO") == "/webhooks":
            length = int(environ.get("CONTENT_LENGTH") or 0)
            body = environ["wsgi.input"].read(length)
            headers = {k[5:].replace("_", "-").title(): v for k, v in environ.items()
                       if k.startswith("HTTP_")}  # fmt: skip
            stack.raw_webhooks.append(RawWebhook(headers, body))
            import io

            environ["wsgi.input"] = io.BytesIO(body)
        return editor_app(environ, start_response)

    editor_server = _serve_in_thread(recording, editor_port)
    service = Process(
        "service",
        [str(BIN / "passemarche"), "serve", "--host", "127.0.0.1", "--port", str(port),
         "--workers", "1"],
        env,
        var / "service.log",
    )  # fmt: skip
    try:
        service.wait_until_up(f"{stack.base_url}/up", timeout=60, accept=service_is_up)
        yield stack
    finally:
        service.stop()
        for server in (editor_server, api, bodacc):
            server.shutdown()


@pytest.fixture(scope="module")
def service_without_sources(
    stack: Stack, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    """Another service, on a database of its own, with no data source configured: every answer
    the pre-fill would give is typed by the candidate. Its editor has no webhook URL."""
    var = tmp_path_factory.mktemp("client-var-bare")
    database = var / "passemarche.sqlite3"
    port = free_port()
    env = {k: v for k, v in stack.env.items() if k not in _SCRUBBED}
    env.update(VAR_DIR=str(var), DATABASE_URL=f"sqlite:///{database}",
               PUBLIC_BASE_URL=f"http://127.0.0.1:{port}")  # fmt: skip
    for args in (["db", "upgrade"], ["catalogue", "load"]):
        subprocess.run([str(BIN / "passemarche"), *args], env=env, check=True,
                       capture_output=True, timeout=120)  # fmt: skip
    bare = Stack(f"http://127.0.0.1:{port}", port, database, env, {}, None, [], "")
    bare.editor = bare.cli("editor", "create", "--name", "Éditeur sans webhook")
    service = Process(
        "service without data sources",
        [str(BIN / "passemarche"), "serve", "--host", "127.0.0.1", "--port", str(port),
         "--workers", "1"],
        env,
        var / "service.log",
    )  # fmt: skip
    try:
        service.wait_until_up(f"{bare.base_url}/up", timeout=60, accept=service_is_up)
        yield bare
    finally:
        service.stop()


@pytest.fixture
def proxy(stack: Stack) -> Iterator[FaultProxy]:
    proxy = FaultProxy(stack.port)
    yield proxy
    proxy.close()


FAST = RetryPolicy(max_attempts=4, base_delay=0.05, max_delay=0.2, max_retry_after=5)


@pytest.fixture
def make_client(stack: Stack, proxy: FaultProxy) -> Iterator[Callable[..., PasseMarcheClient]]:
    """A client of the sandbox editor's editor, through the proxy unless `direct=True`."""
    clients: list[PasseMarcheClient] = []

    def make(direct: bool = False, editor: dict[str, str] | None = None,
             base_url: str | None = None, **options: Any) -> PasseMarcheClient:  # fmt: skip
        credentials = editor or stack.editor
        options.setdefault("retry", FAST)
        client = PasseMarcheClient(
            base_url or (stack.base_url if direct else proxy.url),
            credentials["client_id"],
            credentials["client_secret"],
            **options,
        )
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


def market_fields(**overrides: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "name": f"Marché de test {uuid.uuid4().hex[:8]}",
        "lot_name": "Lot 1 - Ordinateurs portables",
        "deadline": "2030-12-31T23:59:59Z",
        "siret": "13002526500013",
        "market_type_codes": ["supplies", "services"],
    }
    fields.update(overrides)
    return fields
