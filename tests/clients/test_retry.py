"""Waits between attempts: exponential, jittered, floored by Retry-After, bounded."""

from __future__ import annotations

import random

from passemarche_client.auth import TokenCache
from passemarche_client.errors import RateLimited, ValidationError, error_for
from passemarche_client.models import Token
from passemarche_client.retry import RetryPolicy, is_retryable_status, retry_after_seconds


def policy(**options):
    return RetryPolicy(rng=random.Random(7), **options)


def test_waits_grow_exponentially_within_their_jitter_and_stop_at_the_last_attempt():
    retry = policy(max_attempts=5, base_delay=1, max_delay=100, jitter=0.5)
    waits = [retry.delay_before_retry(attempt) for attempt in range(1, 5)]
    for attempt, wait in enumerate(waits, start=1):
        assert 0.5 * 2 ** (attempt - 1) <= wait <= 2 ** (attempt - 1)
    assert retry.delay_before_retry(5) is None


def test_jitter_spreads_the_waits():
    retry = RetryPolicy(base_delay=1, jitter=0.5)
    assert len({round(retry.backoff(3), 6) for _ in range(20)}) > 1


def test_waits_are_capped():
    assert policy(base_delay=1, max_delay=4, max_attempts=20).delay_before_retry(10) <= 4


def test_retry_after_is_a_floor_and_a_too_long_one_is_not_waited_for():
    retry = policy(base_delay=0.5, max_retry_after=60)
    assert 7 <= retry.delay_before_retry(1, retry_after=7) <= 7.5
    assert retry.delay_before_retry(1, retry_after=3600) is None


def test_retry_after_comes_from_the_header_else_the_429_body():
    assert retry_after_seconds({"Retry-After": "12"}, {"retry_after": 99}) == 12
    assert retry_after_seconds({}, {"error": "Rate limit exceeded", "retry_after": 30}) == 30
    # An HTTP date is read against the clock (see test_client_edge_cases for the arithmetic).
    assert retry_after_seconds({"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}, None) == 0
    assert retry_after_seconds({"Retry-After": "soon"}, None) is None


def test_only_429_408_and_5xx_are_retried():
    assert all(is_retryable_status(s) for s in (408, 429, 500, 502, 503, 504))
    assert not any(is_retryable_status(s) for s in (400, 401, 403, 404, 409, 413, 415, 422))


def test_errors_carry_the_api_error_and_errors():
    error = error_for(422, {"errors": ["Siret is invalid"]}, "req-1")
    assert isinstance(error, ValidationError)
    assert (error.error, error.errors, error.request_id) == (None, ["Siret is invalid"], "req-1")
    limited = error_for(429, {"error": "Rate limit exceeded", "retry_after": 5}, retry_after=5)
    assert isinstance(limited, RateLimited) and limited.retry_after == 5
    oauth = error_for(401, {"error": "invalid_client",
                            "error_description": "Client authentication failed"})  # fmt: skip
    assert oauth.messages == ["Client authentication failed"]


def test_the_token_is_renewed_shortly_before_it_expires():
    now = [0.0]
    issued: list[Token] = []

    def fetch() -> Token:
        issued.append(Token(f"t{len(issued)}", "Bearer", 3600, "api_access", now[0] + 3600))
        return issued[-1]

    cache = TokenCache(fetch, renew_before=300, clock=lambda: now[0])
    assert cache.get().access_token == "t0"
    now[0] = 3299
    assert cache.get().access_token == "t0"
    now[0] = 3300
    assert cache.get().access_token == "t1"
    cache.invalidate(issued[0])  # an old token refused: the newer one stays
    assert cache.get().access_token == "t1"
    cache.invalidate(issued[1])
    assert cache.get().access_token == "t2"


def test_a_destination_ending_with_a_slash_is_a_folder(tmp_path):
    from passemarche_client.client import _folder_or_file

    folder = _folder_or_file(f"{tmp_path}/downloads/")
    assert folder.is_dir() and folder.name == "downloads"
    assert not _folder_or_file(tmp_path / "file.pdf").exists()
