"""A scripted HTTP server on 127.0.0.1 standing in for the API, for the client's edge cases
(redirects, non-JSON bodies, Retry-After forms) the real service never produces."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

TOKEN_BODY = {
    "access_token": "scripted-token",
    "token_type": "Bearer",
    "expires_in": 3600,
    "scope": "api_access",
}


@dataclass
class Answer:
    status: int = 200
    body: bytes | Any = b""
    headers: dict[str, str] = field(default_factory=dict)

    def encoded(self) -> tuple[bytes, dict[str, str]]:
        headers = dict(self.headers)
        if isinstance(self.body, bytes):
            return self.body, headers
        headers.setdefault("Content-Type", "application/json")
        return json.dumps(self.body).encode(), headers


class ScriptedApi:
    """Answers `POST /oauth/token` with a token, and any other request with the next answer
    queued for its method and path (404 when none is left). Records every path asked for."""

    def __init__(self) -> None:
        self.answers: dict[tuple[str, str], list[Answer]] = {}
        self.paths: list[str] = []
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                api.paths.append(self.path)
                if self.command == "POST" and self.path == "/oauth/token":
                    answer = Answer(200, TOKEN_BODY)
                else:
                    queue = api.answers.get((self.command, self.path)) or []
                    answer = queue.pop(0) if queue else Answer(404, {"error": "Not found"})
                payload, headers = answer.encoded()
                self.send_response(answer.status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    def add(self, method: str, path: str, *answers: Answer) -> None:
        self.answers.setdefault((method, path), []).extend(answers)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@contextmanager
def scripted_api() -> Iterator[ScriptedApi]:
    api = ScriptedApi()
    try:
        yield api
    finally:
        api.close()
