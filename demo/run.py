"""`make demo`: the whole editor workflow, headless, on a fresh clone.

Starts, as subprocesses on 127.0.0.1: the service on its embedded default (SQLite, in-process
jobs) with its own VAR_DIR (`var/demo/`, wiped first), the API Entreprise and BODACC replicas
(the pre-fill's data sources) and the sandbox editor (the webhook receiver). Then, with the
reference client: token → market → buyer pages → `market.completed` → application → candidate
pages with an upload → `market_application.completed` → attestation and package downloaded into
`demo-output/`. Each step is printed with its duration; any failure exits non-zero, and every
subprocess is stopped on the way out (Ctrl-C included).

Ports: DEMO_PORT (service), DEMO_EDITOR_PORT, DEMO_API_ENTREPRISE_PORT, DEMO_BODACC_PORT; free
ports by default (a port already in use stops the demo before anything starts). DEMO_KEEP=1
leaves everything running at the end (the sandbox editor's page then lists the webhooks and
links to the documents) until Ctrl-C. The children get only PATH, HOME, LANG, LC_ALL and TMPDIR
of the shell's environment, plus the demo's own settings. Ctrl-C, SIGTERM and SIGHUP (the
terminal closed) stop every child.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import sys
import time
import zipfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import requests
from passemarche.sandbox.bodacc import RECORDS_PATH as BODACC_RECORDS_PATH
from passemarche_client import PasseMarcheClient
from passemarche_client.errors import PasseMarcheError
from passemarche_client.models import Download

from demo.pages import DEMO_SIRET, PageFlowError, apply_to_market, configure_market
from demo.processes import Process, free_port, json_ok, port_is_free, service_is_up

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
VAR_DIR = ROOT / "var" / "demo"
OUTPUT_DIR = ROOT / "demo-output"
BUYER_SIRET = "13002526500013"
WEBHOOK_TIMEOUT = 60.0
DOCUMENTS_TIMEOUT = 120.0
# The only variables of the developer's shell the children get: anything else (their database,
# their services, their secrets, Python start-up hooks) stays out of the demo.
INHERITED = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR")
SANDBOX_TOKEN = "sandbox-token"  # noqa: S105  (the replica's token, given to both sides)
STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP, signal.SIGINT)
T = TypeVar("T")


class DemoFailed(RuntimeError):
    pass


class Steps:
    """Prints each step with its duration; the first failure stops the demo."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.count = 0
        self._details: list[str] = []
        self._running = False

    def run(self, title: str, action: Callable[[], T]) -> T:
        self.count += 1
        print(f"[{self.count:2d}] {title} …", end=" ", flush=True)
        started = time.monotonic()
        self._details, self._running = [], True
        try:
            result = action()
        except BaseException:
            self._running = False
            print(f"FAILED ({time.monotonic() - started:.2f} s)", flush=True)
            self._flush()
            raise
        self._running = False
        print(f"ok ({time.monotonic() - started:.2f} s)", flush=True)
        self._flush()
        return result

    def detail(self, text: str) -> None:
        """Printed under the step running (or at once between steps)."""
        self._details.append(text)
        if not self._running:
            self._flush()

    def _flush(self) -> None:
        for line in self._details:
            print(f"       {line}", flush=True)
        self._details = []


def _port(name: str) -> int:
    value = os.environ.get(name)
    return int(value) if value else free_port()


def demo_env(
    shell: Mapping[str, str], var_dir: Path, base_url: str, api_port: int, bodacc_port: int
) -> dict[str, str]:
    """The children's environment: the allowlisted variables of `shell`, then the demo's own."""
    env = {name: shell[name] for name in INHERITED if name in shell}
    env.update(
        VAR_DIR=str(var_dir),
        DATABASE_URL=f"sqlite:///{var_dir / 'passemarche.sqlite3'}",
        PUBLIC_BASE_URL=base_url,
        ALLOW_PRIVATE_WEBHOOK_TARGETS="1",
        WEBHOOK_RETRY_DELAYS="2,5,10",
        API_ENTREPRISE_BASE_URL=f"http://127.0.0.1:{api_port}",
        API_ENTREPRISE_TOKEN=SANDBOX_TOKEN,
        BODACC_BASE_URL=f"http://127.0.0.1:{bodacc_port}",
        PYTHONUNBUFFERED="1",
        GUNICORN_CMD_ARGS="--no-control-socket",
    )
    return env


def replicas_command(api_port: int, bodacc_port: int) -> list[str]:
    """The API Entreprise and BODACC replicas, with the token the service is given (explicit:
    never the replica's default, nor SANDBOX_API_ENTREPRISE_TOKEN from anywhere)."""
    return [
        str(BIN / "python"),
        "-m",
        "passemarche.sandbox",
        "--api-port",
        str(api_port),
        "--bodacc-port",
        str(bodacc_port),
        "--token",
        SANDBOX_TOKEN,
    ]


def bodacc_is_up(response: requests.Response) -> bool:
    """The BODACC replica's records endpoint: 200 with its JSON."""
    try:
        return response.status_code == 200 and "total_count" in response.json()
    except ValueError:
        return False


def ensure_port_free(port: int, what: str) -> None:
    if not port_is_free(port):
        raise DemoFailed(f"port {port} ({what}) is already in use: free it or choose another")


def check_documents(attestation: Path, package: Path) -> list[str]:
    """The PDF and the ZIP are sound, and the ZIP holds a document the pre-fill fetched from
    the API Entreprise replica (`documents/api_…`); their members."""
    if not attestation.read_bytes().startswith(b"%PDF-"):
        raise DemoFailed(f"{attestation} is not a PDF")
    with zipfile.ZipFile(package) as archive:
        if archive.testzip() is not None:
            raise DemoFailed(f"{package} is corrupt")
        members = archive.namelist()
    if not any(name.startswith("documents/api_") for name in members):
        raise DemoFailed(
            f"{package} has no documents/api_… member: the pre-fill from the API Entreprise "
            f"replica did not happen (see the service's log)"
        )
    return members


def _cli(env: dict[str, str], *args: str) -> str:
    import subprocess

    completed = subprocess.run(  # noqa: S603  (our own command)
        [str(BIN / "passemarche"), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if completed.returncode != 0:
        raise DemoFailed(f"passemarche {' '.join(args)}: {completed.stderr.strip()[-2000:]}")
    return completed.stdout


def _webhooks(editor_url: str) -> list[dict[str, Any]]:
    response = requests.get(f"{editor_url}/api/webhooks", timeout=10)
    response.raise_for_status()
    return list(response.json()["webhooks"])


def _wait_for_webhook(editor_url: str, event: str, key: str, identifier: str) -> dict[str, Any]:
    deadline = time.monotonic() + WEBHOOK_TIMEOUT
    while time.monotonic() < deadline:
        for webhook in _webhooks(editor_url):
            payload = webhook.get("payload") or {}
            found = (payload.get(key) or {}).get("identifier")
            if webhook["verified"] and webhook["event"] == event and found == identifier:
                return webhook
        time.sleep(0.2)
    refused = [w for w in _webhooks(editor_url) if not w["verified"]]
    raise DemoFailed(
        f"no verified {event} for {identifier} within {WEBHOOK_TIMEOUT:.0f} s"
        + (f" (refused: {[w['reason'] for w in refused]})" if refused else "")
    )


@contextmanager
def _processes() -> Iterator[list[Process]]:
    started: list[Process] = []
    try:
        yield started
    finally:
        # A second Ctrl-C (or SIGHUP after SIGTERM) must not cut the stopping short.
        previous = {signum: signal.signal(signum, signal.SIG_IGN) for signum in STOP_SIGNALS}
        try:
            for process in reversed(started):
                process.stop()
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)


def main() -> int:
    steps = Steps()
    if VAR_DIR.exists():
        shutil.rmtree(VAR_DIR)
    VAR_DIR.mkdir(parents=True)
    if OUTPUT_DIR.exists():
        shutil.rmtree(OUTPUT_DIR)
    OUTPUT_DIR.mkdir()
    logs = VAR_DIR / "logs"
    port, editor_port = _port("DEMO_PORT"), _port("DEMO_EDITOR_PORT")
    api_port, bodacc_port = _port("DEMO_API_ENTREPRISE_PORT"), _port("DEMO_BODACC_PORT")
    base_url = f"http://127.0.0.1:{port}"
    editor_url = f"http://127.0.0.1:{editor_port}"
    env = demo_env(os.environ, VAR_DIR, base_url, api_port, bodacc_port)
    for checked, what in (
        (port, "service"),
        (editor_port, "sandbox editor"),
        (api_port, "API Entreprise replica"),
        (bodacc_port, "BODACC replica"),
    ):
        ensure_port_free(checked, what)
    print(f"Passe Marché demo: service {base_url}, sandbox editor {editor_url}")
    print(f"Logs under {logs.relative_to(ROOT)}/, documents into {OUTPUT_DIR.relative_to(ROOT)}/")

    with _processes() as running:
        steps.run("Database migrations", lambda: _cli(env, "db", "upgrade"))
        steps.run("Attribute catalogue", lambda: _cli(env, "catalogue", "load"))
        editor = steps.run(
            "Demo editor (webhooks to the sandbox editor)",
            lambda: json.loads(
                _cli(
                    env,
                    "editor",
                    "create",
                    "--name",
                    "demo",
                    "--webhook-url",
                    f"{editor_url}/webhooks",
                    "--buyer-return-url",
                    f"{editor_url}/buyer",
                    "--candidate-return-url",
                    f"{editor_url}/candidate",
                    "--json",
                )
            ),
        )

        def start_replicas() -> None:
            process = Process(
                "replicas", replicas_command(api_port, bodacc_port), env, logs / "sandbox.log"
            )
            running.append(process)
            process.wait_until_up(
                f"http://127.0.0.1:{bodacc_port}{BODACC_RECORDS_PATH}", accept=bodacc_is_up
            )

        def start_editor() -> None:
            editor_env = {
                **env,
                "PASSEMARCHE_WEBHOOK_SECRET": editor["webhook_secret"],
                "PASSEMARCHE_BASE_URL": base_url,
                "PASSEMARCHE_CLIENT_ID": editor["client_id"],
                "PASSEMARCHE_CLIENT_SECRET": editor["client_secret"],
            }
            process = Process(
                "sandbox editor",
                [
                    str(BIN / "python"),
                    "-m",
                    "passemarche_client.sandbox_editor",
                    "--port",
                    str(editor_port),
                ],
                editor_env,
                logs / "sandbox-editor.log",
            )
            running.append(process)
            process.wait_until_up(f"{editor_url}/up", accept=json_ok)

        def start_service() -> None:
            process = Process(
                "service",
                [str(BIN / "passemarche"), "serve", "--host", "127.0.0.1", "--port", str(port)],
                env,
                logs / "service.log",
            )
            running.append(process)
            # Only then are the editor's credentials sent to it.
            process.wait_until_up(f"{base_url}/up", timeout=60, accept=service_is_up)

        steps.run("API Entreprise and BODACC replicas", start_replicas)
        steps.run("Sandbox editor", start_editor)
        steps.run("Passe Marché service", start_service)

        client = PasseMarcheClient(base_url, editor["client_id"], editor["client_secret"])
        token = steps.run("OAuth token", client.token)
        steps.detail(f"{token.token_type}, {token.expires_in} s, scope {token.scope}")
        deadline = (datetime.now(UTC) + timedelta(days=60)).strftime("%Y-%m-%dT23:59:59Z")
        market = steps.run(
            "Create the market",
            lambda: client.create_market(
                name="Fourniture de matériel informatique (démo)",
                lot_name="Lot 1 - Ordinateurs portables",
                deadline=deadline,
                siret=BUYER_SIRET,
                market_type_codes=["supplies", "services"],
                provider_user_id="demo-acheteur",
            ),
        )
        steps.detail(market.identifier)

        def on_step(path: str, seconds: float) -> None:
            steps.detail(f"{path.rsplit('/', 1)[-1]:<28} {seconds:.2f} s")

        steps.run(
            "Buyer pages (configuration → finalisation)",
            lambda: configure_market(
                market.configuration_url, ask_everything=True, on_step=on_step
            ),
        )
        market_webhook = steps.run(
            "Webhook market.completed received and verified",
            lambda: _wait_for_webhook(editor_url, "market.completed", "market", market.identifier),
        )
        application = steps.run(
            "Create the application",
            lambda: client.create_application(
                market.identifier, siret=DEMO_SIRET, provider_user_id="demo-candidat"
            ),
        )
        steps.detail(application.identifier)
        steps.run(
            "Candidate pages (identification → submission, with uploads)",
            lambda: apply_to_market(application.application_url, on_step=on_step),
        )
        application_webhook = steps.run(
            "Webhook market_application.completed received and verified",
            lambda: _wait_for_webhook(
                editor_url,
                "market_application.completed",
                "market_application",
                application.identifier,
            ),
        )
        attestation = steps.run(
            "Download the attestation",
            lambda: client.download_attestation(
                application.identifier, OUTPUT_DIR, wait=DOCUMENTS_TIMEOUT
            ),
        )
        package = steps.run(
            "Download the documents package",
            lambda: client.download_documents_package(
                application.identifier, OUTPUT_DIR, wait=DOCUMENTS_TIMEOUT
            ),
        )

        members = steps.run(
            "Check the PDF and the ZIP (with a document the pre-fill fetched)",
            lambda: check_documents(attestation.path, package.path),
        )
        client.close()
        _summary(steps, market_webhook, application_webhook, attestation, package, members)
        if os.environ.get("DEMO_KEEP") == "1":
            print(f"\nStill running (DEMO_KEEP=1): sandbox editor {editor_url}/ , "
                  f"service {base_url}. Ctrl-C stops everything.", flush=True)  # fmt: skip
            while True:
                time.sleep(3600)
    return 0


def _summary(
    steps: Steps,
    market_webhook: dict[str, Any],
    application_webhook: dict[str, Any],
    attestation: Download,
    package: Download,
    members: list[str],
) -> None:
    """The webhooks and the documents, once every step passed."""
    elapsed = time.monotonic() - steps.started
    print()
    print(f"Demo finished in {elapsed:.1f} s.")
    print("Webhooks verified by the sandbox editor (both signatures, replay window):")
    for webhook in (market_webhook, application_webhook):
        payload = webhook["payload"]
        subject = payload.get("market") or payload.get("market_application") or {}
        print(
            f"  - {webhook['event']:<30} id {webhook['webhook_id']}  {subject.get('identifier')}"
            f"  (received {webhook['received_at']})"
        )
    print("Documents:")
    for saved in (attestation, package):
        print(f"  - {saved.path.relative_to(ROOT)} ({saved.size} bytes, {saved.content_type})")
    uploaded = [m for m in members if m.startswith("documents/user_")]
    fetched = [m for m in members if m.startswith("documents/api_")]
    print(
        f"    ZIP: {len(members)} members, {len(uploaded)} uploaded by the candidate, "
        f"{len(fetched)} fetched from the API Entreprise replica"
    )


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # SIGTERM and SIGHUP too: unwind, so that every child is stopped


def install_signal_handlers() -> None:
    """The children run in sessions of their own (a Ctrl-C reaches only the demo, which stops
    them in order), so no signal reaches them when the terminal closes: the demo must."""
    for signum in STOP_SIGNALS:
        signal.signal(signum, _interrupt)


def entrypoint() -> int:
    install_signal_handlers()
    # The client library prints nothing by itself: its warnings (a call retried) are shown here.
    logging.basicConfig(level=logging.WARNING, format="       %(name)s: %(message)s")
    try:
        return main()
    except KeyboardInterrupt:
        print("\nInterrupted: every process was stopped.", file=sys.stderr)
        return 130
    except (DemoFailed, PageFlowError, PasseMarcheError, RuntimeError, OSError) as error:
        print(f"\nDemo failed: {error}", file=sys.stderr)
        print(f"Logs: {(VAR_DIR / 'logs').relative_to(ROOT)}/", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(entrypoint())
