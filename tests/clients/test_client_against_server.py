"""The reference client against the real service, with faults forced by the proxy."""

from __future__ import annotations

import logging
import time
import zipfile

import pytest
import requests
from passemarche_client import (
    Forbidden,
    NotFound,
    RetryPolicy,
    ServerError,
    TransportError,
    Unauthorized,
    ValidationError,
)
from passemarche_client.sandbox_editor import wait_for_webhook
from passemarche_client.webhooks import (
    ReplayedWebhook,
    ReplayGuard,
    WebhookVerificationError,
    verify_webhook,
)

from demo.pages import apply_to_market, configure_market
from tests.clients.conftest import Fault, market_fields

MARKETS = "/api/v1/public_markets"


def test_the_token_is_cached_then_renewed_once_when_the_api_refuses_it(
    stack, proxy, make_client, caplog
):
    client = make_client()
    first = client.token()
    assert client.token() is first
    market = client.create_market(**market_fields())
    # A newer token for the same scopes revokes this one: the next call gets a 401.
    revoke = requests.post(
        f"{stack.base_url}/oauth/token",
        data={"grant_type": "client_credentials", "client_id": stack.editor["client_id"],
              "client_secret": stack.editor["client_secret"], "scope": "api_access"},
        timeout=10,
    )  # fmt: skip
    assert revoke.status_code == 200
    proxy.reset()
    with caplog.at_level(logging.INFO, logger="passemarche_client"):
        assert client.get_market(market.identifier).identifier == market.identifier
    assert client.token() is not first
    calls = [r.api_call for r in caplog.records if hasattr(r, "api_call")]
    statuses = [(c["method"], c["path"], c["status"]) for c in calls]
    path = f"{MARKETS}/{market.identifier}"
    assert statuses == [("GET", path, 401), ("POST", "/oauth/token", 200), ("GET", path, 200)]


def test_a_second_refusal_of_a_fresh_token_raises_unauthorized(stack, proxy, make_client):
    client = make_client()
    proxy.add(Fault("GET", MARKETS, "status", times=2, status=401,
                    body={"error": "Not authorized"}))  # fmt: skip
    with pytest.raises(Unauthorized) as raised:
        client.get_market("VR-2030-AAAAAAAAAAAA")
    assert raised.value.error == "Not authorized"
    assert len(proxy.seen("POST", "/oauth/token")) == 2  # the first token, then one renewal


def test_a_forced_429_is_waited_out_then_retried_with_the_same_idempotency_key(proxy, make_client):
    client = make_client()
    client.token()
    proxy.add(Fault("POST", MARKETS, "status", status=429, headers={"Retry-After": "1"},
                    body={"error": "Rate limit exceeded", "retry_after": 1}))  # fmt: skip
    started = time.monotonic()
    market = client.create_market(**market_fields())
    assert time.monotonic() - started >= 1.0
    assert market.identifier.startswith("VR-")
    posts = proxy.seen("POST", MARKETS)
    assert [p.fault for p in posts] == ["status", None]
    keys = {p.headers["Idempotency-Key"] for p in posts}
    assert len(keys) == 1


def test_the_429_body_alone_gives_the_wait(proxy, make_client):
    client = make_client(retry=RetryPolicy(max_attempts=2, base_delay=0.01, max_retry_after=5))
    client.token()
    proxy.add(Fault("GET", MARKETS, "status", status=429,
                    body={"error": "Rate limit exceeded", "retry_after": 1}))  # fmt: skip
    started = time.monotonic()
    with pytest.raises(NotFound):
        client.get_market("VR-2030-AAAAAAAAAAAA")
    assert time.monotonic() - started >= 1.0


def test_a_429_longer_than_the_client_accepts_fails_at_once(proxy, make_client):
    client = make_client()
    client.token()
    proxy.add(Fault("GET", MARKETS, "status", status=429, headers={"Retry-After": "3600"},
                    body={"error": "Rate limit exceeded", "retry_after": 3600}))  # fmt: skip
    from passemarche_client import RateLimited

    with pytest.raises(RateLimited) as raised:
        client.get_market("VR-2030-AAAAAAAAAAAA")
    assert raised.value.retry_after == 3600
    assert raised.value.error == "Rate limit exceeded"
    assert len(proxy.seen("GET", MARKETS)) == 1


def test_503_twice_then_200_succeeds(stack, proxy, make_client):
    client = make_client()
    market = client.create_market(**market_fields())
    proxy.add(Fault("GET", f"{MARKETS}/{market.identifier}", "status", times=2, status=503,
                    body={"error": "Service Unavailable"}))  # fmt: skip
    read = client.get_market(market.identifier)
    assert read.identifier == market.identifier
    assert read.status == "draft"
    assert [r.fault for r in proxy.seen("GET", f"{MARKETS}/")] == ["status", "status", None]


def test_5xx_every_time_raises_after_the_last_attempt(proxy, make_client):
    client = make_client(retry=RetryPolicy(max_attempts=3, base_delay=0.01))
    client.token()
    proxy.add(Fault("GET", MARKETS, "status", times=10, status=502, body={"error": "Bad Gateway"}))
    with pytest.raises(ServerError) as raised:
        client.get_market("VR-2030-AAAAAAAAAAAA")
    assert raised.value.status == 502
    assert len(proxy.seen("GET", MARKETS)) == 3


def test_a_422_raises_with_the_api_errors_and_is_not_retried(proxy, make_client):
    client = make_client()
    client.token()
    with pytest.raises(ValidationError) as raised:
        client.create_market(**market_fields(name=" ", deadline="2001-01-01T00:00:00Z"))
    assert raised.value.status == 422
    assert raised.value.errors == ["Name can't be blank", "Deadline must be in the future"]
    assert len(proxy.seen("POST", MARKETS)) == 1
    with pytest.raises(ValidationError) as invalid_siret:
        client.create_market(**market_fields(siret="12345678901234"))
    assert invalid_siret.value.errors == {
        "siret": ["Le numéro de SIRET saisi est invalide ou non reconnu"]
    }
    assert invalid_siret.value.messages == ["Le numéro de SIRET saisi est invalide ou non reconnu"]


def test_404_and_403_raise_typed_errors_without_retry(proxy, make_client):
    client = make_client()
    with pytest.raises(NotFound) as unknown:
        client.get_market("VR-2030-AAAAAAAAAAAA")
    assert unknown.value.error == "Resource not found"
    draft = client.create_market(**market_fields())
    proxy.reset()
    with pytest.raises(Forbidden) as forbidden:
        client.create_application(draft.identifier, siret="73282932000074")
    assert forbidden.value.error == "Forbidden"
    assert len(proxy.seen("POST", MARKETS)) == 1


def test_a_dropped_connection_on_a_create_is_retried_and_creates_one_market(
    stack, proxy, make_client
):
    client = make_client()
    client.token()
    fields = market_fields()
    # The service creates the market, then the connection drops before the client hears of it.
    proxy.add(Fault("POST", MARKETS, "drop_after"))
    market = client.create_market(**fields)
    assert market.replayed is True  # the second attempt got the first one's answer
    posts = proxy.seen("POST", MARKETS)
    assert [p.fault for p in posts] == ["drop_after", None]
    assert posts[0].headers["Idempotency-Key"] == posts[1].headers["Idempotency-Key"]
    assert stack.count("SELECT count(*) FROM markets WHERE name = ?", fields["name"]) == 1


def test_a_connection_dropped_before_the_server_is_retried(proxy, make_client):
    client = make_client()
    proxy.add(Fault("POST", "/oauth/token", "drop", times=2))
    assert client.token().access_token
    assert [r.fault for r in proxy.seen("POST", "/oauth/token")] == ["drop", "drop", None]


def test_an_unreachable_server_raises_a_transport_error_after_the_retries(make_client):
    from passemarche_client import PasseMarcheClient

    from demo.processes import free_port

    client = PasseMarcheClient(f"http://127.0.0.1:{free_port()}", "id", "secret",
                               retry=RetryPolicy(max_attempts=2, base_delay=0.01))  # fmt: skip
    with pytest.raises(TransportError):
        client.token()


def test_logs_hold_each_call_and_never_a_secret(stack, proxy, make_client, caplog):
    client = make_client()
    proxy.add(Fault("POST", MARKETS, "status", status=503, body={"error": "Service Unavailable"}))
    with caplog.at_level(logging.INFO, logger="passemarche_client"):
        client.create_market(**market_fields())
    calls = [r.api_call for r in caplog.records if hasattr(r, "api_call")]
    assert [(c["method"], c["path"], c["status"], c["attempt"]) for c in calls] == [
        ("POST", "/oauth/token", 200, 1),
        ("POST", MARKETS, 503, 1),
        ("POST", MARKETS, 201, 2),
    ]
    assert all(isinstance(c["duration_ms"], float) for c in calls)
    text = caplog.text + repr(client) + repr(client.token())
    for secret in (stack.editor["client_secret"], client.token().access_token):
        assert secret not in text


def test_the_whole_workflow_with_webhooks_and_streamed_downloads(
    stack, proxy, make_client, tmp_path
):
    client = make_client()
    market = client.create_market(**market_fields())
    configure_market(market.configuration_url)
    market_webhook = wait_for_webhook(stack.editor_state, "market.completed", 30,
                                      market_identifier=market.identifier)  # fmt: skip
    assert market_webhook.payload["market"]["identifier"] == market.identifier
    assert client.get_market(market.identifier).is_completed

    application = client.create_application(market.identifier, siret="13002526500013")
    with pytest.raises(ValidationError) as early:
        client.download_attestation(application.identifier, tmp_path)
    assert early.value.error == "Application not completed"
    apply_to_market(application.application_url)
    wait_for_webhook(stack.editor_state, "market_application.completed", 60,
                     application_identifier=application.identifier)  # fmt: skip

    # The first download is cut halfway: the client notices and downloads again.
    proxy.add(Fault("GET", f"/api/v1/market_applications/{application.identifier}/attestation",
                    "truncate"))  # fmt: skip
    attestation = client.download_attestation(application.identifier, tmp_path, wait=60)
    assert attestation.path == tmp_path / f"attestation_{application.identifier}.pdf"
    assert attestation.path.read_bytes().startswith(b"%PDF-")
    assert attestation.size == attestation.path.stat().st_size
    assert attestation.content_type == "application/pdf"
    assert not list(tmp_path.glob("*.part"))
    package = client.download_documents_package(application.identifier, tmp_path / "dossier.zip")
    with zipfile.ZipFile(package.path) as archive:
        assert archive.testzip() is None
        assert any(name.startswith("documents/") for name in archive.namelist())
    assert client.get_application(application.identifier).attestation_available

    # The webhooks as received: genuine, then rejected when replayed or tampered with.
    secret = stack.editor["webhook_secret"]
    raw = next(w for w in stack.raw_webhooks if market.identifier.encode() in w.body)
    guard = ReplayGuard()
    event = verify_webhook(secret, raw.headers, raw.body, replay_guard=guard)
    assert event.event == "market.completed"
    guard.mark_processed(event.webhook_id)
    with pytest.raises(ReplayedWebhook):
        verify_webhook(secret, raw.headers, raw.body, replay_guard=guard)
    with pytest.raises(WebhookVerificationError):
        verify_webhook(secret, raw.headers, raw.body.replace(b"completed", b"c0mpleted"))
    stale = int(raw.headers["Webhook-Timestamp"]) + 301
    with pytest.raises(WebhookVerificationError, match="replay window"):
        verify_webhook(secret, raw.headers, raw.body, now=stale)
    # The sandbox editor acknowledges a replay without listing it twice, refuses a forgery.
    before = len(stack.editor_state.webhooks)
    replay = requests.post(f"{stack.editor_url}/webhooks", data=raw.body, headers=raw.headers,
                           timeout=10)  # fmt: skip
    assert (replay.status_code, replay.json()) == (200, {"status": "duplicate"})
    forged = requests.post(f"{stack.editor_url}/webhooks", data=raw.body + b" ",
                           headers=raw.headers, timeout=10)  # fmt: skip
    assert forged.status_code == 401
    listed = requests.get(f"{stack.editor_url}/api/webhooks", timeout=10).json()["webhooks"]
    assert len(listed) == before + 1 and listed[-1]["verified"] is False


def test_without_data_sources_the_candidate_types_everything_and_polling_replaces_webhooks(
    service_without_sources, make_client, tmp_path
):
    client = make_client(
        base_url=service_without_sources.base_url, editor=service_without_sources.editor
    )
    market = client.create_market(**market_fields())
    configure_market(market.configuration_url, ask_everything=True)
    assert client.get_market(market.identifier).is_completed
    application = client.create_application(market.identifier)  # the SIRET typed on the page
    walker = apply_to_market(application.application_url)
    assert [s.url.rsplit("/", 1)[-1] for s in walker.steps][0] == "company_identification"
    deadline = time.monotonic() + 60
    while not client.get_application(application.identifier).attestation_available:
        assert time.monotonic() < deadline, "the documents were not generated"
        time.sleep(0.2)
    read = client.get_application(application.identifier)
    assert read.is_completed and read.siret == "13002526500013"
    package = client.download_documents_package(application.identifier, f"{tmp_path}/out/")
    with zipfile.ZipFile(package.path) as archive:
        uploaded = [n for n in archive.namelist() if n.startswith("documents/user_")]
    assert uploaded  # the candidate's own files, one per file input


def test_wrong_credentials_raise_unauthorized_with_the_oauth_error_and_are_not_retried(
    stack, proxy, make_client
):
    client = make_client(editor={"client_id": stack.editor["client_id"], "client_secret": "x"})
    with pytest.raises(Unauthorized) as raised:
        client.get_market("VR-2030-AAAAAAAAAAAA")
    assert raised.value.error == "invalid_client"
    assert raised.value.messages == ["Client authentication failed"]
    assert len(proxy.seen("POST", "/oauth/token")) == 1
    assert proxy.seen("GET", MARKETS) == []
