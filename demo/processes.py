"""Starting the demo's processes (the service, the replicas, the sandbox editor) and stopping
them, whatever happens: each runs in its own process group, its output goes to a log file."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import requests


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """Nothing listens on `port` (a child about to listen there would otherwise fail while
    something else answers in its place)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def _json(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def answers_200(response: requests.Response) -> bool:
    return response.status_code == 200


def json_ok(response: requests.Response) -> bool:
    """`200 {"status": "ok"}`: the sandbox editor's `/up`."""
    return response.status_code == 200 and _json(response) == {"status": "ok"}


def service_is_up(response: requests.Response) -> bool:
    """The service's own `/up` (src/entrypoints/health.py): `200 {"status": "ok"}`, with the
    `X-Request-Id` every answer of the service carries."""
    return json_ok(response) and bool(response.headers.get("X-Request-Id"))


class Process:
    """One child process; `stop()` ends its whole group (gunicorn and its workers too)."""

    def __init__(
        self, name: str, command: Sequence[str], env: dict[str, str], log_path: Path
    ) -> None:
        self.name = name
        self.log_path = log_path
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(log_path, "wb")  # noqa: SIM115  (closed in stop())
        self.process = subprocess.Popen(  # noqa: S603  (our own commands, no shell)
            list(command),
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_until_up(
        self,
        url: str,
        timeout: float = 30.0,
        accept: Callable[[requests.Response], bool] = answers_200,
    ) -> None:
        """Until `url` gives an answer `accept`s (by default a 200) while this child is alive:
        an answer from something else on the port, or after the child died, is not readiness."""
        deadline = time.monotonic() + timeout
        last: object = None
        while time.monotonic() < deadline:
            self._check_alive()
            try:
                response = requests.get(url, timeout=2, allow_redirects=False)
                if accept(response):
                    self._check_alive()  # it may have died while something else answered
                    return
                last = f"HTTP {response.status_code}, not the expected answer"
            except requests.RequestException as error:
                last = type(error).__name__
            time.sleep(0.1)
        self._check_alive()
        raise RuntimeError(f"{self.name} did not answer on {url} ({last}):\n{self.log_tail()}")

    def _check_alive(self) -> None:
        if self.process.poll() is not None:
            raise RuntimeError(
                f"{self.name} exited with {self.process.returncode}:\n{self.log_tail()}"
            )

    def log_tail(self, lines: int = 30) -> str:
        self._log.flush()
        text = self.log_path.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])

    def stop(self) -> None:
        if self.process.poll() is None:
            for sig, wait in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
                try:
                    os.killpg(self.process.pid, sig)
                except ProcessLookupError:
                    break
                try:
                    self.process.wait(timeout=wait)
                    break
                except subprocess.TimeoutExpired:
                    continue
        self._log.close()
