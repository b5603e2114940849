"""The client against a scripted server: statuses and bodies the real service never sends
(redirects, non-JSON success bodies), Retry-After in its two forms, identifiers that are not
path-safe, and downloads that never clobber a file next to their target."""

from __future__ import annotations

import email.utils
import time

import passemarche_client.errors as errors
import pytest
from passemarche_client import PasseMarcheClient, RetryPolicy
from passemarche_client.retry import is_retryable_status, retry_after_seconds

from tests.clients.scripted_api import Answer, ScriptedApi, scripted_api

MARKETS = "/api/v1/public_markets"
ATTESTATION = "/api/v1/market_applications/APP-1/attestation"
PACKAGE = "/api/v1/market_applications/APP-1/documents_package"
CREATED = {"identifier": "VR-1", "configuration_url": "http://x/c"}
FIELDS = {
    "name": "Marché",
    "deadline": "2030-12-31T23:59:59Z",
    "siret": "13002526500013",
    "market_type_codes": ["supplies"],
}


@pytest.fixture
def api():
    with scripted_api() as server:
        yield server


@pytest.fixture
def sleeps():
    return []


@pytest.fixture
def client(api: ScriptedApi, sleeps):
    policy = RetryPolicy(max_attempts=3, base_delay=0.01, max_delay=0.02, max_retry_after=60)
    with PasseMarcheClient(api.url, "id", "secret", retry=policy, sleep=sleeps.append) as c:
        yield c


# --- 1. Only the expected success statuses are a success ------------------------------------


def test_a_redirect_on_a_download_raises_a_typed_error_and_writes_nothing(api, client, tmp_path):
    api.add("GET", ATTESTATION, Answer(302, b"", {"Location": "http://elsewhere/"}))
    with pytest.raises(errors.ProtocolError) as raised:
        client.download_attestation("APP-1", tmp_path)
    assert raised.value.status == 302
    assert list(tmp_path.iterdir()) == []


def test_a_redirect_on_a_create_raises_a_typed_error(api, client):
    api.add("POST", MARKETS, Answer(301, b"<html>moved</html>", {"Location": "https://x/"}))
    with pytest.raises(errors.ProtocolError) as raised:
        client.create_market(**FIELDS)
    assert raised.value.status == 301
    assert isinstance(raised.value, errors.PasseMarcheError)


def test_a_download_answered_with_another_2xx_is_not_a_success(api, client, tmp_path):
    api.add("GET", PACKAGE, Answer(204, b""))
    with pytest.raises(errors.ProtocolError):
        client.download_documents_package("APP-1", tmp_path)


def test_a_create_answered_with_200_or_201_succeeds(api, client):
    api.add("POST", MARKETS, Answer(201, CREATED), Answer(200, CREATED))
    assert client.create_market(**FIELDS).identifier == "VR-1"
    assert client.create_market(**FIELDS).identifier == "VR-1"


# --- 2. A success body that is not the API's JSON ---------------------------------------------


@pytest.mark.parametrize(
    "answer",
    [
        Answer(201, b"<html>proxy page</html>", {"Content-Type": "text/html"}),
        Answer(201, {"unexpected": True}),
        Answer(201, ["a", "list"]),
    ],
)
def test_a_create_with_an_unreadable_body_raises_protocol_error(api, client, answer):
    api.add("POST", MARKETS, answer)
    with pytest.raises(errors.ProtocolError):
        client.create_market(**FIELDS)


def test_reads_with_an_unreadable_body_raise_protocol_error(api, client):
    api.add("GET", f"{MARKETS}/VR-1", Answer(200, b"not json"))
    api.add("GET", "/api/v1/market_applications/APP-1", Answer(200, {"no": "identifier"}))
    api.add("POST", f"{MARKETS}/VR-1/market_applications", Answer(201, b""))
    with pytest.raises(errors.ProtocolError):
        client.get_market("VR-1")
    with pytest.raises(errors.ProtocolError):
        client.get_application("APP-1")
    with pytest.raises(errors.ProtocolError):
        client.create_application("VR-1", siret="73282932000074")


def test_a_token_endpoint_answering_something_else_raises_protocol_error(sleeps):
    with scripted_api() as api:
        api.add("POST", "/other/oauth/token", Answer(200, b"<html>login</html>"))
        client = PasseMarcheClient(api.url + "/other", "id", "secret", sleep=sleeps.append)
        with pytest.raises(errors.ProtocolError):
            client.token()


# --- 10. Retry statuses and Retry-After --------------------------------------------------------


def test_501_is_not_retried_but_other_5xx_are():
    assert not is_retryable_status(501)
    assert all(is_retryable_status(status) for status in (500, 502, 503, 504, 408, 429))


def test_retry_after_on_a_503_is_honoured(api, client, sleeps):
    api.add("GET", f"{MARKETS}/VR-1", Answer(503, b"", {"Retry-After": "7"}))
    api.add("GET", f"{MARKETS}/VR-1", Answer(200, {**CREATED, "name": "M", "status": "draft"}))
    client.get_market("VR-1")
    assert len(sleeps) == 1 and sleeps[0] >= 7


def test_a_503_retry_after_beyond_the_cap_fails_at_once(api, client, sleeps):
    api.add("GET", f"{MARKETS}/VR-1", Answer(503, b"", {"Retry-After": "3600"}))
    with pytest.raises(errors.ServerError):
        client.get_market("VR-1")
    assert sleeps == []


def test_a_501_fails_at_once(api, client, sleeps):
    api.add("GET", f"{MARKETS}/VR-1", Answer(501, {"error": "Not implemented"}))
    with pytest.raises(errors.ServerError):
        client.get_market("VR-1")
    assert sleeps == []


def test_retry_after_as_an_http_date():
    now = time.time()
    header = email.utils.formatdate(now + 30, usegmt=True)
    assert 28 <= (retry_after_seconds({"Retry-After": header}, None, now=now) or 0) <= 31
    past = email.utils.formatdate(now - 30, usegmt=True)
    assert retry_after_seconds({"Retry-After": past}, None, now=now) == 0
    assert retry_after_seconds({"Retry-After": "not a date"}, {"retry_after": 4}) == 4


# --- Identifiers in paths, downloads next to their target ------------------------------------


def test_identifiers_are_quoted_in_paths(api, client):
    with pytest.raises(errors.NotFound):
        client.get_application("../../oauth/token?x=1")
    assert api.paths[-1] == "/api/v1/market_applications/..%2F..%2Foauth%2Ftoken%3Fx%3D1"


def test_a_download_never_touches_a_file_next_to_its_target(api, client, tmp_path):
    bystander = tmp_path / "attestation.pdf.part"
    bystander.write_bytes(b"someone else's")
    api.add(
        "GET",
        ATTESTATION,
        Answer(
            200, b"%PDF-1.7 body", {"Content-Disposition": 'attachment; filename="attestation.pdf"'}
        ),
    )
    saved = client.download_attestation("APP-1", tmp_path)
    assert saved.path == tmp_path / "attestation.pdf"
    assert saved.path.read_bytes() == b"%PDF-1.7 body"
    assert bystander.read_bytes() == b"someone else's"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["attestation.pdf", "attestation.pdf.part"]
