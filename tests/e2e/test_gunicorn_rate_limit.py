"""The per-editor API rate limit is global across gunicorn workers (counted in Redis).

The real server (`passemarche serve`: gunicorn, 2 gthread workers, PostgreSQL, Redis) is called
over HTTP, one new TCP connection per call so that both workers take calls. The proof that the
counter is shared: a worker that has itself served fewer calls than the limit refuses one with a
429 — with a counter per process it would have accepted it.
"""

from __future__ import annotations

import json
import uuid
from collections import Counter
from typing import Any
from urllib.parse import urlencode

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.postgres, pytest.mark.redis]

LIMIT = 5
MARKET = {
    "public_market": {
        "name": "x",
        "deadline": "2030-12-31T23:59:59Z",
        "siret": "13002526500013",
        "market_type_codes": ["supplies"],
    }
}
# Refused calls made, at most, while waiting for the second worker to answer one.
MAX_EXTRA_CALLS = 100


def access_token(server: Any, credentials: dict[str, str]) -> str:
    form = {
        "grant_type": "client_credentials",
        "client_id": credentials["client_id"],
        "client_secret": credentials["client_secret"],
    }
    response = server.request(
        "POST",
        "/oauth/token",
        body=urlencode(form).encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status == 200, response.body
    return str(response.json()["access_token"])


def create_market(server: Any, token: str) -> tuple[str, Any]:
    """POST /api/v1/public_markets with a request id of ours, to find the worker in the log."""
    request_id = uuid.uuid4().hex
    response = server.request(
        "POST",
        "/api/v1/public_markets",
        body=json.dumps(MARKET).encode(),
        headers={
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/json",
            "X-Request-Id": request_id,
        },
    )
    return request_id, response


def assert_rate_limited(response: Any) -> None:
    assert response.status == 429, (response.status, response.body)
    body = response.json()
    assert set(body) == {"error", "retry_after"}, body
    assert body["error"] == "Rate limit exceeded"
    assert type(body["retry_after"]) is int and 0 < body["retry_after"] <= 3600, body
    assert response.headers.get("retry-after", "").isdigit(), response.headers
    assert 0 < int(response.headers["retry-after"]) <= 3600
    assert response.headers.get("x-ratelimit-limit") == str(LIMIT)
    assert response.headers.get("x-ratelimit-remaining") == "0"


def test_api_rate_limit_is_shared_by_gunicorn_workers(passemarche_cli, start_server):
    run = uuid.uuid4().hex[:8]
    editor_a = passemarche_cli("editor", "create", "--name", f"e2e A {run}")
    editor_b = passemarche_cli("editor", "create", "--name", f"e2e B {run}")
    server = start_server(workers=2, RATE_LIMIT_API=f"{LIMIT}/hour")
    token = access_token(server, editor_a)

    statuses: dict[str, int] = {}  # request id -> status, in call order

    # The budget: LIMIT calls accepted, the remaining count going down to 0.
    for call in range(LIMIT):
        request_id, response = create_market(server, token)
        statuses[request_id] = response.status
        assert response.status == 201, (call, response.status, response.body)
        assert response.json()["identifier"].startswith("VR-")
        assert response.headers.get("x-ratelimit-limit") == str(LIMIT)
        assert response.headers.get("x-ratelimit-remaining") == str(LIMIT - 1 - call)
        assert "retry-after" not in response.headers

    # Then refused, whichever worker answers.
    for _ in range(4):
        request_id, response = create_market(server, token)
        statuses[request_id] = response.status
        assert_rate_limited(response)

    def proof(pids: dict[str, int]) -> tuple[int, int] | None:
        """A (pid, calls it accepted) that refused a call while it had accepted < LIMIT itself."""
        accepted = Counter(pids[rid] for rid, status in statuses.items() if status == 201)
        for rid, status in statuses.items():
            if status == 429 and accepted[pids[rid]] < LIMIT:
                return pids[rid], accepted[pids[rid]]
        return None

    pids = server.pids_for(list(statuses))
    assert len(pids) == len(statuses), "a request is missing from the server's log"
    extra = 0
    while proof(pids) is None and extra < MAX_EXTRA_CALLS:
        # Everything landed on one worker so far: more (refused) calls until the other answers.
        request_id, response = create_market(server, token)
        statuses[request_id] = response.status
        assert_rate_limited(response)
        pids.update(server.pids_for([request_id]))
        assert request_id in pids, "a request is missing from the server's log"
        extra += 1

    by_pid = Counter(pids.values())
    assert len(by_pid) >= 2, f"every call was served by one worker: {dict(by_pid)}"
    found = proof(pids)
    assert found is not None, statuses
    assert list(statuses.values()).count(201) == LIMIT

    # The budget is the editor's: another editor still gets its own.
    other_id, response = create_market(server, access_token(server, editor_b))
    assert response.status == 201, response.body
    assert response.headers.get("x-ratelimit-remaining") == str(LIMIT - 1)
