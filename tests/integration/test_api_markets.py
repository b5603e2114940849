"""POST /api/v1/public_markets and GET /api/v1/public_markets/{identifier}."""

import re

import pytest
from passemarche.domain.identifiers import MARKET_IDENTIFIER

from tests.integration.conftest import finalise_market

URL = "/api/v1/public_markets"


def test_a_market_is_created_with_its_configuration_url(editor):
    response = editor.create_market()
    assert response.status_code == 201
    assert response.content_type == "application/json; charset=utf-8"
    body = response.get_json()
    assert list(body) == ["identifier", "configuration_url"]
    assert MARKET_IDENTIFIER.match(body["identifier"])
    assert re.fullmatch(
        rf"http://localhost/buyer/public_markets/{body['identifier']}/setup\?token=[A-Za-z0-9_-]{{43}}",
        body["configuration_url"],
    )


def test_the_configured_public_base_url_is_used(make_editor, container, app):
    container.config = container.config.but(public_base_url="https://passemarche.example.fr")
    response = make_editor().create_market()
    assert response.get_json()["configuration_url"].startswith(
        "https://passemarche.example.fr/buyer/public_markets/"
    )


def test_the_market_reads_back(editor):
    identifier = editor.create_market(
        lot_name=None,
        lots=[{"name": "Lot A", "cpv_code": "30213100-6"}, {"name": "Lot B"}],
        lot_limit=1,
    ).get_json()["identifier"]
    response = editor.get(f"{URL}/{identifier}")
    assert response.status_code == 200
    body = response.get_json()
    assert body["identifier"] == identifier
    assert body["status"] == "draft"
    assert body["deadline"] == "2030-12-31T23:59:59.000Z"
    assert body["market_type_codes"] == ["supplies", "services"]
    assert body["lots"] == [
        {"number": 1, "name": "Lot A", "cpv_code": "30213100-6"},
        {"number": 2, "name": "Lot B", "cpv_code": None},
    ]
    assert body["lot_limit"] == 1
    assert body["field_keys"] == []
    assert body["completed_at"] is None
    assert body["webhook_status"] is None


def test_a_finalised_market_reads_completed(editor, container):
    identifier = editor.create_market().get_json()["identifier"]
    finalise_market(container, identifier, ["siret", "company_name"])
    body = editor.get(f"{URL}/{identifier}").get_json()
    assert body["status"] == "completed"
    assert body["field_keys"] == ["siret", "company_name"]
    assert body["completed_at"].endswith("Z")


def test_blank_fields_get_the_reference_messages_all_at_once(editor):
    response = editor.post(
        URL, {"public_market": {"siret": "13002526500013", "name": " ", "market_type_codes": []}}
    )
    assert response.status_code == 422
    assert response.get_json() == {
        "errors": [
            "Name can't be blank",
            "Deadline can't be blank",
            "Market type codes can't be blank",
        ]
    }


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"market_type_codes": ["defense"]}, "Market type codes defense cannot be used alone"),
        ({"deadline": "31/12/2030"}, "Deadline must be a valid ISO 8601 datetime"),
        ({"deadline": "2020-01-01T00:00:00Z"}, "Deadline must be in the future"),
        ({"name": "x" * 256}, "Name is too long (maximum is 255 characters)"),
        ({"siret": None}, "Siret can't be blank"),
    ],
)
def test_each_rule_has_its_reference_message(editor, fields, message):
    response = editor.create_market(**fields)
    assert response.status_code == 422
    assert response.get_json() == {"errors": [message]}


def test_an_invalid_siret_is_the_object_form_alone(editor):
    response = editor.create_market(siret="12345678901234", name="")
    assert response.status_code == 422
    assert response.get_json() == {
        "errors": {"siret": ["Le numéro de SIRET saisi est invalide ou non reconnu"]}
    }


def test_defense_markets_need_prior_authorization(editor, make_editor):
    response = editor.create_market(market_type_codes=["supplies", "defense"])
    assert response.status_code == 403
    assert response.get_json() == {
        "error": "Forbidden",
        "errors": ["Defense markets require prior authorization"],
    }
    allowed = make_editor(can_create_defense_markets=True)
    assert allowed.create_market(market_type_codes=["supplies", "defense"]).status_code == 201


def test_unknown_fields_cannot_set_identifier_owner_or_status(editor, make_editor, container):
    other = make_editor()
    response = editor.create_market(
        identifier="VR-2026-CHOSENBYME00",
        editor_client_id=other.client_id,
        status="completed",
        field_keys=["x"],
        created_at="2020-01-01T00:00:00Z",
    )
    assert response.status_code == 201
    identifier = response.get_json()["identifier"]
    assert identifier != "VR-2026-CHOSENBYME00"
    body = editor.get(f"{URL}/{identifier}").get_json()
    assert body["status"] == "draft" and body["field_keys"] == []
    assert other.get(f"{URL}/{identifier}").status_code == 404


@pytest.mark.parametrize(
    "raw, content_type",
    [
        (b"{not json", "application/json"),
        (b"[1, 2]", "application/json"),
        (b'{"name": "no envelope"}', "application/json"),
        (b'{"public_market": "a string"}', "application/json"),
        (b"", "application/json"),
    ],
)
def test_malformed_bodies_are_400_bad_request(editor, raw, content_type):
    response = editor.client.post(
        URL, data=raw, headers=editor.headers(**{"Content-Type": content_type})
    )
    assert response.status_code == 400
    body = response.get_json()
    assert body["error"] == "Bad Request"
    assert isinstance(body["errors"], list) and body["errors"]
    assert set(body) == {"error", "errors"}


def test_a_non_json_content_type_is_415(editor):
    response = editor.client.post(
        URL,
        data="name=x",
        headers=editor.headers(**{"Content-Type": "application/x-www-form-urlencoded"}),
    )
    assert response.status_code == 415
    assert response.get_json()["error"] == "Unsupported Media Type"


class TestIdempotency:
    def test_the_same_key_and_body_replays_the_first_response(self, editor):
        first = editor.create_market()
        body = {
            "public_market": {
                "name": "Idem",
                "deadline": "2030-12-31T23:59:59Z",
                "siret": "13002526500013",
                "market_type_codes": ["works"],
            }
        }
        one = editor.post(URL, body, **{"Idempotency-Key": "abc-123"})
        two = editor.post(URL, body, **{"Idempotency-Key": "abc-123"})
        assert one.status_code == two.status_code == 201
        assert one.get_json() == two.get_json()
        assert two.headers["Idempotent-Replayed"] == "true"
        assert "Idempotent-Replayed" not in one.headers
        assert first.get_json()["identifier"] != one.get_json()["identifier"]

    def test_the_same_key_with_another_body_is_422(self, editor):
        body = {
            "public_market": {
                "name": "A",
                "deadline": "2030-12-31T23:59:59Z",
                "siret": "13002526500013",
                "market_type_codes": ["works"],
            }
        }
        assert editor.post(URL, body, **{"Idempotency-Key": "k"}).status_code == 201
        body["public_market"]["name"] = "B"
        response = editor.post(URL, body, **{"Idempotency-Key": "k"})
        assert response.status_code == 422
        assert response.get_json() == {"error": "Idempotency-Key reused with a different request"}

    def test_keys_are_scoped_per_editor(self, editor, make_editor):
        other = make_editor()
        body = {
            "public_market": {
                "name": "A",
                "deadline": "2030-12-31T23:59:59Z",
                "siret": "13002526500013",
                "market_type_codes": ["works"],
            }
        }
        one = editor.post(URL, body, **{"Idempotency-Key": "shared"})
        two = other.post(URL, body, **{"Idempotency-Key": "shared"})
        assert one.get_json()["identifier"] != two.get_json()["identifier"]

    def test_an_unusable_key_is_400(self, editor):
        response = editor.post(URL, {"public_market": {}}, **{"Idempotency-Key": "x" * 256})
        assert response.status_code == 400
        assert response.get_json()["error"] == "Bad Request"
