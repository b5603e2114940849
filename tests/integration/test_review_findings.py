"""Inputs found by a test campaign against the running service: each one used to give a 500, a
wrong status or a way around a limit."""

import base64
import io
import json
import threading

import pytest
from passemarche.entrypoints.api.body import read_limited_body
from passemarche.services import market_configuration
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from tests.integration.test_rate_limits import editor_on, limited_app

URL = "/api/v1/public_markets"


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"deadline": "9999-12-31T23:59:59-05:00"}, "Deadline must be a valid ISO 8601 datetime"),
        ({"deadline": "0001-01-01T00:00:00+05:00"}, "Deadline must be a valid ISO 8601 datetime"),
        ({"name": "a\x00b"}, "Name contains invalid characters"),
        ({"provider_user_id": "\x00"}, "Provider user id contains invalid characters"),
        (
            {"lot_name": None, "lots": [{"name": "x"}] * 101},
            "Lots is too long (maximum is 100 lots)",
        ),
    ],
)
def test_odd_values_are_validation_errors_not_crashes(editor, fields, message):
    response = editor.create_market(**fields)
    assert (response.status_code, response.get_json()) == (422, {"errors": [message]})


def test_a_lone_surrogate_is_refused(editor):
    raw = json.dumps(
        {
            "public_market": {
                "name": "\ud800",
                "deadline": "2030-12-31T23:59:59Z",
                "siret": "13002526500013",
                "market_type_codes": ["works"],
            }
        }
    )
    response = editor.client.post(
        URL, data=raw, headers=editor.headers(**{"Content-Type": "application/json"})
    )
    assert (response.status_code, response.get_json()) == (
        422,
        {"errors": ["Name contains invalid characters"]},
    )


@pytest.mark.parametrize("identifier", ["VR-%00", "nope", "VR-2026-abc", "FT2026"])
def test_identifiers_that_cannot_exist_are_404(editor, identifier):
    assert editor.get(f"{URL}/{identifier}").status_code == 404
    assert editor.get(f"/api/v1/market_applications/{identifier}").status_code == 404


def test_json_nested_too_deeply_is_400(editor):
    raw = '{"public_market":{"x":' + "[" * 100000 + "]" * 100000 + "}}"
    response = editor.client.post(
        URL, data=raw, headers=editor.headers(**{"Content-Type": "application/json"})
    )
    assert response.status_code == 400
    assert response.get_json() == {
        "error": "Bad Request",
        "errors": ["The request body is not valid JSON"],
    }


def test_a_body_without_a_length_is_still_limited():
    environ = EnvironBuilder(method="POST", input_stream=io.BytesIO(b"x" * 5000)).get_environ()
    environ.pop("CONTENT_LENGTH", None)
    environ["wsgi.input_terminated"] = True
    with pytest.raises(RequestEntityTooLarge):
        read_limited_body(Request(environ), 4096)
    environ["wsgi.input"] = io.BytesIO(b"y" * 4096)
    assert read_limited_body(Request(environ), 4096) == b"y" * 4096


def test_undecodable_basic_credentials_are_401_invalid_client(client):
    value = base64.b64encode(b"\xff:\xfe").decode()
    response = client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        headers={"Authorization": f"Basic {value}"},
    )
    assert response.status_code == 401
    assert response.get_json() == {
        "error": "invalid_client",
        "error_description": "Client authentication failed",
    }


def test_a_made_up_form_client_id_does_not_dodge_the_token_budget(database_url, tmp_path):
    app = limited_app(database_url, tmp_path, rate_limit_token="2/hour")
    alice = editor_on(app, "Alice")
    basic = base64.b64encode(f"{alice.client_id}:{alice.client_secret}".encode()).decode()
    statuses = [
        alice.client.post(
            "/oauth/token",
            data={"grant_type": "client_credentials", "client_id": f"bogus{n}"},
            headers={"Authorization": f"Basic {basic}"},
        ).status_code
        for n in range(3)
    ]
    assert statuses == [200, 200, 429]


def test_wrong_secrets_cannot_lock_an_editor_out(database_url, tmp_path):
    app = limited_app(database_url, tmp_path, rate_limit_token="3/hour")
    alice = editor_on(app, "Alice")
    attacker = app.test_client()
    for _ in range(5):
        response = attacker.post(
            "/oauth/token",
            data={
                "grant_type": "client_credentials",
                "client_id": alice.client_id,
                "client_secret": "guess",
            },
            environ_base={"REMOTE_ADDR": "203.0.113.7"},
        )
    assert response.status_code == 429, "failed attempts are limited per address"
    assert alice.request_token().status_code == 200, "the editor itself still gets its tokens"


def test_two_simultaneous_finalisations_send_one_webhook(editor, container):
    from passemarche.adapters.catalogue_csv import read_catalogue_file
    from passemarche.services.catalogue import load_catalogue

    from tests.unit.test_catalogue import CATALOGUE

    parsed = read_catalogue_file(CATALOGUE)
    load_catalogue(
        container.uow(), container.clock, parsed.categories, parsed.subcategories, parsed.attributes
    )

    class Recording:
        calls = []

        def enqueue(self, job, *args, delay=None):
            self.calls.append(job)

    identifier = editor.create_market().get_json()["identifier"]
    outcomes = []
    barrier = threading.Barrier(4)

    def finalise():
        barrier.wait()
        try:
            market_configuration.finalise_configuration(
                container.uow(), container.clock, Recording(), identifier
            )
            outcomes.append("done")
        except Exception as error:  # noqa: BLE001  (the losers' error is what is checked)
            outcomes.append(type(error).__name__)

    threads = [threading.Thread(target=finalise) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes.count("done") == 1, outcomes
    assert set(outcomes) <= {"done", "MarketAlreadyCompleted"}, outcomes
    with container.uow() as uow:
        assert len(uow.webhooks.list()) == 1


def test_a_market_past_its_deadline_cannot_be_finalised(editor, container):
    from datetime import timedelta

    from passemarche.domain.errors import Forbidden

    identifier = editor.create_market().get_json()["identifier"]

    class AfterTheDeadline:
        def now(self):
            return container.clock.now() + timedelta(days=365 * 10)

    with pytest.raises(Forbidden):
        market_configuration.finalise_configuration(
            container.uow(), AfterTheDeadline(), None, identifier
        )


def test_production_needs_a_public_base_url(tmp_path):
    from passemarche.config import Config, ConfigError

    env = {"PASSEMARCHE_ENV": "production", "SECRET_KEY": "k", "DATABASE_URL": "postgresql://x/y"}
    with pytest.raises(ConfigError, match="PUBLIC_BASE_URL"):
        Config.from_env(env)
    assert Config.from_env({**env, "PUBLIC_BASE_URL": "https://pm.example"}).public_base_url


def test_if_none_match_star_and_lists(editor, container):
    from passemarche.domain.application import DocumentKind, document_storage_key

    from tests.integration.conftest import complete_application, finalise_market

    market = editor.create_market().get_json()["identifier"]
    finalise_market(container, market)
    application = editor.post(
        f"{URL}/{market}/market_applications", {"market_application": {}}
    ).get_json()["identifier"]
    complete_application(container, application)
    container.storage.put(
        document_storage_key(DocumentKind.ATTESTATION, application), iter([b"%PDF-1.7"])
    )
    path = f"/api/v1/market_applications/{application}/attestation"
    etag = editor.get(path).headers["ETag"]
    assert editor.get(path, **{"If-None-Match": f'"other", {etag}'}).status_code == 304
    assert editor.get(path, **{"If-None-Match": "*"}).status_code == 304
    assert editor.get(path, **{"If-None-Match": '"other"'}).status_code == 200
