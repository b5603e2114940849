"""Rate limits per editor: headers on every API response, the reference's 429, shared counters."""

import time

import pytest
from passemarche.entrypoints.app import create_app
from passemarche.entrypoints.bootstrap import bootstrap
from passemarche.services import editors

from tests.integration.conftest import Editor, make_config

READ = "/api/v1/public_markets/VR-2026-AAAAAAAAAAAA"


def limited_app(database_url, tmp_path, **limits):
    return create_app(container=bootstrap(make_config(database_url, tmp_path, **limits)))


def editor_on(app, name):
    container = app.extensions["passemarche"]
    credentials = editors.create_editor(container.uow(), container.clock, name)
    return Editor(app.test_client(), credentials)


def test_every_api_response_carries_the_rate_limit_headers(editor):
    for response in (
        editor.create_market(),
        editor.get(READ),
        editor.client.get(READ),  # 401: counted per address
    ):
        assert response.headers["X-RateLimit-Limit"] == "1000"
        assert int(response.headers["X-RateLimit-Remaining"]) < 1000
        assert int(response.headers["X-RateLimit-Reset"]) > time.time()
        assert "Retry-After" not in response.headers


def test_the_token_endpoint_has_its_own_budget_of_60(editor):
    response = editor.request_token()
    assert response.headers["X-RateLimit-Limit"] == "60"
    assert response.headers["X-RateLimit-Remaining"] == "59"


def test_over_the_limit_is_the_reference_429(database_url, tmp_path):
    app = limited_app(database_url, tmp_path, rate_limit_api="3/hour")
    alice, bob = editor_on(app, "Alice"), editor_on(app, "Bob")
    remaining = [alice.get(READ).headers["X-RateLimit-Remaining"] for _ in range(3)]
    assert remaining == ["2", "1", "0"]
    response = alice.get(READ)
    assert response.status_code == 429
    body = response.get_json()
    assert set(body) == {"error", "retry_after"}
    assert body["error"] == "Rate limit exceeded"
    assert 0 < body["retry_after"] <= 3600
    assert int(response.headers["Retry-After"]) == pytest.approx(body["retry_after"], abs=1)
    assert response.headers["X-RateLimit-Remaining"] == "0"
    assert bob.get(READ).status_code == 404, "limits are per editor"


def test_a_new_token_does_not_reset_the_editors_budget(database_url, tmp_path):
    app = limited_app(database_url, tmp_path, rate_limit_api="2/hour")
    alice = editor_on(app, "Alice")
    alice.get(READ), alice.get(READ)
    alice._token = None
    assert alice.get(READ).status_code == 429


def test_downloads_have_their_own_budget(database_url, tmp_path):
    app = limited_app(
        database_url, tmp_path, rate_limit_api="5/hour", rate_limit_downloads="1/hour"
    )
    alice = editor_on(app, "Alice")
    path = "/api/v1/market_applications/FT20260615AAAAAAAA/attestation"
    first = alice.get(path)
    assert first.status_code == 404 and first.headers["X-RateLimit-Limit"] == "1"
    assert alice.get(path).status_code == 429
    assert alice.get(READ).headers["X-RateLimit-Remaining"] == "4"


def test_the_token_endpoint_is_limited_per_client_id(database_url, tmp_path):
    app = limited_app(database_url, tmp_path, rate_limit_token="2/hour")
    alice, bob = editor_on(app, "Alice"), editor_on(app, "Bob")
    assert [alice.request_token().status_code for _ in range(3)] == [200, 200, 429]
    assert alice.request_token(basic=True).status_code == 429, "Basic and form share the budget"
    assert bob.request_token().status_code == 200


@pytest.mark.redis
def test_counters_in_redis_are_shared_by_every_process(database_url, tmp_path, redis_url):
    """Two apps stand for two workers or two hosts: one budget between them."""
    config = make_config(database_url, tmp_path, redis_url=redis_url, rate_limit_api="4/hour")
    first, second = create_app(container=bootstrap(config)), create_app(container=bootstrap(config))
    alice = editor_on(first, "Alice")
    token = alice.token
    on_second = second.test_client()
    statuses = []
    for client in (alice.client, on_second, alice.client, on_second, alice.client, on_second):
        statuses.append(client.get(READ, headers={"Authorization": f"Bearer {token}"}).status_code)
    assert statuses == [404, 404, 404, 404, 429, 429]
