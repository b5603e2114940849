"""Webhooks over real HTTP: a receiver listening on 127.0.0.1 gets the POSTs the real sender
makes, run by the in-process job queue with a retry schedule short enough for a test.

The receiver checks both signatures over the bytes it received with its own code, as an
editor's server would; it never calls ours.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from passemarche.adapters.job_queue import InProcessJobQueue
from passemarche.adapters.webhook_sender import RequestsWebhookSender, WebhookTargetGuard
from passemarche.config import Config, ConfigError
from passemarche.domain.market import Market, parse_market_spec
from passemarche.domain.webhook import (
    DEFAULT_RETRY_DELAYS,
    WebhookDelivery,
    WebhookEvent,
    market_completed_payload,
)
from passemarche.entrypoints.bootstrap import Container, bootstrap
from passemarche.services import editors, webhooks

from tests.integration.conftest import make_config
from tests.support import market_payload

RETRY_DELAYS = (0.2, 0.6)  # far enough apart that "growing" survives a loaded machine
SETTLE_SECONDS = 15


# --- a webhook receiver, as an editor runs one ------------------------------------------


@dataclass
class Received:
    path: str
    headers: dict[str, str]  # names in lower case
    body: bytes
    at: float  # time.monotonic()


class Receiver:
    """A real HTTP server on 127.0.0.1: answers each POST with the next scripted status (200
    once the script is used up) and records what it got."""

    def __init__(self, *statuses: int, answer_after: float = 0.0, on_request: Any = None):
        self.statuses = list(statuses)
        self.answer_after = answer_after
        self.on_request = on_request
        self.received: list[Received] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                headers = {name.lower(): value for name, value in self.headers.items()}
                receiver.received.append(Received(self.path, headers, body, time.monotonic()))
                if receiver.on_request is not None:
                    receiver.on_request()
                time.sleep(receiver.answer_after)
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                if 300 <= status < 400:
                    self.send_header("Location", "/elsewhere")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}/webhooks/passemarche?token=editor-side"

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def verify_reference_signature(secret: str, received: Received) -> bool:
    expected = "sha256=" + hmac.new(secret.encode(), received.body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, received.headers["x-webhook-signature-sha256"])


def verify_standard_signature(secret: str, received: Received, tolerance: int = 300) -> bool:
    """Standard Webhooks: HMAC of "{id}.{timestamp}.{body}", timestamp within `tolerance`."""
    message_id = received.headers["webhook-id"]
    timestamp = received.headers["webhook-timestamp"]
    if abs(time.time() - int(timestamp)) > tolerance:
        return False
    content = message_id.encode() + b"." + timestamp.encode() + b"." + received.body
    digest = hmac.new(secret.encode(), content, hashlib.sha256).digest()
    expected = base64.b64encode(digest).decode()
    offered = [s.split(",", 1)[1] for s in received.headers["webhook-signature"].split(" ")]
    return any(hmac.compare_digest(expected, candidate) for candidate in offered)


def closed_port_url() -> str:
    """A URL on 127.0.0.1 where nothing listens (the editor's server is down)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/webhooks"


# --- the service under test, wired as in production ---------------------------------------


@pytest.fixture
def config(database_url: str, tmp_path: Any) -> Any:
    return make_config(
        database_url,
        tmp_path,
        allow_private_webhook_targets=True,
        webhook_retry_delays=RETRY_DELAYS,
    )


@pytest.fixture
def container(config: Any) -> Iterator[Container]:
    built = bootstrap(config)
    yield built
    built.jobs.shutdown()  # type: ignore[attr-defined]
    built.engine.dispose()


def finalise_and_notify(container: Container, identifier: str) -> str:
    """What the buyer's finalisation does: the delivery is recorded with the market's change,
    and its job enqueued once that has committed."""
    now = container.clock.now()
    with container.uow() as uow:
        market = uow.markets.get(identifier)
        market.finalise(["siret"], now)
        delivery = WebhookDelivery.new(
            WebhookEvent.MARKET_COMPLETED,
            market.editor_client_id,
            market.identifier,
            market_completed_payload(market, now),
            now,
        )
        uow.webhooks.add(delivery)
        market.webhook_status = "pending"
        uow.commit()
    container.jobs.enqueue("deliver_webhook", delivery.id)
    return delivery.id


def settle(container: Container) -> None:
    assert container.jobs.drain(SETTLE_SECONDS), "jobs still running"  # type: ignore[attr-defined]


def delivery(container: Container, delivery_id: str) -> webhooks.DeliveryView:
    return webhooks.get_delivery(container.uow(), delivery_id)


def add_market(container: Container, webhook_url: str) -> str:
    """An editor with this webhook URL and a draft market of theirs, straight in the database."""
    credentials = editors.create_editor(
        container.uow(), container.clock, "Plateforme locale", webhook_url=webhook_url
    )
    spec = parse_market_spec(market_payload(), container.clock.now())
    market = Market.create(
        "VR-2026-LOCAL0000001", credentials.client_id, spec, container.clock.now()
    )
    with container.uow() as uow:
        uow.markets.add(market)
        uow.commit()
    return market.identifier


def market_for(make_editor: Any, url: str) -> tuple[Any, str]:
    editor = make_editor(webhook_url=url)
    response = editor.create_market()
    assert response.status_code == 201, response.get_json()
    return editor, response.get_json()["identifier"]


# --- delivery ---------------------------------------------------------------------------


def test_a_finalised_market_reaches_the_editor_signed_both_ways_and_reads_delivered(
    make_editor: Any, container: Container
) -> None:
    with Receiver(200) as receiver:
        editor, identifier = market_for(make_editor, receiver.url)
        delivery_id = finalise_and_notify(container, identifier)
        settle(container)

    (received,) = receiver.received
    secret = editor.credentials.webhook_secret
    assert received.path == "/webhooks/passemarche?token=editor-side"
    assert received.headers["content-type"] == "application/json"
    assert received.headers["user-agent"] == "PasseMarche-Webhook/1.0"
    assert received.headers["webhook-id"] == delivery_id
    assert verify_reference_signature(secret, received)
    assert verify_standard_signature(secret, received)
    assert not verify_reference_signature(secret + "x", received)
    payload = json.loads(received.body)
    assert payload["event"] == "market.completed"
    assert payload["market"]["identifier"] == identifier
    assert payload["market"]["field_keys"] == ["siret"]
    read = editor.get(f"/api/v1/public_markets/{identifier}").get_json()
    assert (read["status"], read["webhook_status"]) == ("completed", "delivered")


def test_500_500_200_is_delivered_on_the_third_attempt_after_growing_delays(
    make_editor: Any, container: Container
) -> None:
    with Receiver(500, 500, 200) as receiver:
        editor, identifier = market_for(make_editor, receiver.url)
        delivery_id = finalise_and_notify(container, identifier)
        settle(container)

    attempts = receiver.received
    assert len(attempts) == 3
    first_gap, second_gap = (b.at - a.at for a, b in zip(attempts, attempts[1:]))
    assert first_gap >= RETRY_DELAYS[0] * 0.8, "each delay is honoured, give or take its jitter"
    assert second_gap >= RETRY_DELAYS[1] * 0.8
    assert first_gap < second_gap, (first_gap, second_gap)
    assert {a.headers["webhook-id"] for a in attempts} == {delivery_id}
    assert {a.body for a in attempts} == {attempts[0].body}
    assert all(verify_standard_signature(editor.credentials.webhook_secret, a) for a in attempts)
    result = delivery(container, delivery_id)
    assert (result.status, result.attempts, result.last_status_code) == ("delivered", 3, 200)
    read = editor.get(f"/api/v1/public_markets/{identifier}").get_json()
    assert read["webhook_status"] == "delivered"


def test_410_fails_after_one_attempt(make_editor: Any, container: Container) -> None:
    with Receiver(410) as receiver:
        editor, identifier = market_for(make_editor, receiver.url)
        delivery_id = finalise_and_notify(container, identifier)
        settle(container)

    assert len(receiver.received) == 1
    result = delivery(container, delivery_id)
    assert (result.status, result.attempts, result.last_status_code) == ("failed", 1, 410)
    assert editor.get(f"/api/v1/public_markets/{identifier}").get_json()["webhook_status"] == (
        "failed"
    )


def test_a_receiver_that_is_down_is_retried_until_the_schedule_ends(
    make_editor: Any, container: Container
) -> None:
    _, identifier = market_for(make_editor, closed_port_url())
    delivery_id = finalise_and_notify(container, identifier)
    settle(container)

    result = delivery(container, delivery_id)
    assert (result.status, result.attempts) == ("failed", len(RETRY_DELAYS) + 1)
    assert result.last_status_code is None
    assert result.last_error == "connection failed: Connection refused"


def test_the_market_shows_processing_while_the_editor_is_answering(
    make_editor: Any, container: Container
) -> None:
    seen: list[str | None] = []

    def look_at_the_market() -> None:
        with container.uow() as uow:
            seen.append(uow.markets.get(identifier).webhook_status)

    with Receiver(200, on_request=look_at_the_market) as receiver:
        _, identifier = market_for(make_editor, receiver.url)
        finalise_and_notify(container, identifier)
        settle(container)

    assert seen == ["processing"]


def test_a_failed_delivery_retried_from_the_confirmation_page_is_sent_again(
    make_editor: Any, container: Container
) -> None:
    with Receiver(404, 200) as receiver:
        _, identifier = market_for(make_editor, receiver.url)
        delivery_id = finalise_and_notify(container, identifier)
        settle(container)
        assert delivery(container, delivery_id).status == "failed"

        webhooks.retry_latest_for(container.uow(), container.clock, container.jobs, identifier)
        settle(container)

    assert [r.headers["webhook-id"] for r in receiver.received] == [delivery_id, delivery_id]
    assert delivery(container, delivery_id).status == "delivered"


# --- where webhooks may go --------------------------------------------------------------


def test_a_loopback_target_is_refused_unless_private_targets_are_allowed(
    database_url: str, tmp_path: Any
) -> None:
    strict = bootstrap(make_config(database_url, tmp_path))  # private targets not allowed
    try:
        with Receiver(200) as receiver:
            identifier = add_market(strict, receiver.url)
            delivery_id = finalise_and_notify(strict, identifier)
            settle(strict)
    finally:
        strict.jobs.shutdown()  # type: ignore[attr-defined]

    assert receiver.received == []
    result = delivery(strict, delivery_id)
    strict.engine.dispose()
    assert (result.status, result.attempts) == ("failed", 1)
    assert result.last_error == "Webhook host 127.0.0.1 is a loopback address"


def test_the_guard_resolves_names_and_refuses_non_public_addresses() -> None:
    strict = WebhookTargetGuard(require_https=False, allow_private=False)
    relaxed = WebhookTargetGuard(require_https=False, allow_private=True)

    assert strict.refusal("http://localhost:8000/hooks") in {
        "Webhook host localhost resolves to 127.0.0.1, which is a loopback address",
        "Webhook host localhost resolves to ::1, which is a loopback address",
    }
    assert strict.refusal("http://[::1]/hooks") == "Webhook host ::1 is a loopback address"
    assert strict.refusal("http://169.254.169.254/latest/meta-data") == (
        "Webhook host 169.254.169.254 is a link-local address"
    )
    assert relaxed.refusal("http://localhost:8000/hooks") is None


def test_production_requires_https_even_for_allowed_private_targets() -> None:
    production = WebhookTargetGuard(require_https=True, allow_private=True)

    assert production.refusal("http://127.0.0.1/hooks") == "Webhook URL must use https"
    assert production.refusal("https://127.0.0.1/hooks") is None


def test_a_name_that_does_not_resolve_now_is_left_to_fail_as_a_network_error() -> None:
    def unresolvable(host: str, port: int) -> list[str]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    guard = WebhookTargetGuard(require_https=False, allow_private=False, resolver=unresolvable)

    assert guard.refusal("http://hooks.invalid/") is None


# --- the sender -------------------------------------------------------------------------


def test_the_sender_does_not_follow_redirects() -> None:
    with Receiver(302) as receiver:
        outcome = RequestsWebhookSender().send(receiver.url, b"{}", {"X-Test": "1"})

    assert outcome.status_code == 302
    assert [r.path for r in receiver.received] == ["/webhooks/passemarche?token=editor-side"]


def test_the_sender_reports_a_slow_receiver_as_an_error_without_raising() -> None:
    with Receiver(200, answer_after=1.0) as receiver:
        outcome = RequestsWebhookSender(read_timeout=0.2).send(receiver.url, b"{}", {})

    assert outcome.status_code is None
    assert outcome.error == "no response within 0.2 s"
    assert outcome.retryable


def test_the_senders_errors_never_quote_the_url() -> None:
    url = closed_port_url() + "?token=secret-editor-token"

    outcome = RequestsWebhookSender().send(url, b"{}", {})

    assert outcome.error == "connection failed: Connection refused"
    assert "secret-editor-token" not in outcome.error


# --- configuration ----------------------------------------------------------------------


def test_the_environment_sets_retry_delays_private_targets_and_the_job_queue(
    tmp_path: Any,
) -> None:
    env = {"VAR_DIR": str(tmp_path), "SECRET_KEY": "k"}
    default = Config.from_env(env)
    configured = Config.from_env(
        {
            **env,
            "WEBHOOK_RETRY_DELAYS": "5, 60,3600",
            "ALLOW_PRIVATE_WEBHOOK_TARGETS": "1",
            "JOB_QUEUE": "webhooks",
        }
    )

    assert default.webhook_retry_delays == DEFAULT_RETRY_DELAYS
    assert default.allow_private_webhook_targets is False
    assert default.job_queue == "default"
    assert configured.webhook_retry_delays == (5, 60, 3600)
    assert configured.allow_private_webhook_targets is True
    assert configured.job_queue == "webhooks"


@pytest.mark.parametrize("value", ["10,soon", "-1", "nan", "inf"])
def test_retry_delays_must_be_finite_non_negative_seconds(tmp_path: Any, value: str) -> None:
    with pytest.raises(ConfigError):
        Config.from_env({"VAR_DIR": str(tmp_path), "WEBHOOK_RETRY_DELAYS": value})


def test_without_redis_jobs_run_in_process_with_the_configured_schedule(
    container: Container,
) -> None:
    assert isinstance(container.jobs, InProcessJobQueue)
    assert container.retry_schedule.delays == RETRY_DELAYS
