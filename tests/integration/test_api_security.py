"""What one editor may see of another, and how tokens stop working."""

import pytest
from passemarche.domain.application import DocumentKind, document_storage_key
from passemarche.services import editors
from passemarche.services.editors import EditorChanges

from tests.integration.conftest import complete_application, finalise_market


@pytest.fixture
def alice_world(make_editor, container):
    alice = make_editor("Alice")
    market = alice.create_market().get_json()["identifier"]
    finalise_market(container, market)
    application = alice.post(
        f"/api/v1/public_markets/{market}/market_applications", {"market_application": {}}
    ).get_json()["identifier"]
    complete_application(container, application)
    for kind in DocumentKind:
        container.storage.put(document_storage_key(kind, application), iter([b"secret"]))
    return alice, market, application


def test_another_editor_gets_404_on_everything_of_alices(alice_world, make_editor):
    alice, market, application = alice_world
    bob = make_editor("Bob")
    not_found = {"error": "Resource not found"}
    for response in (
        bob.get(f"/api/v1/public_markets/{market}"),
        bob.post(
            f"/api/v1/public_markets/{market}/market_applications", {"market_application": {}}
        ),
        bob.get(f"/api/v1/market_applications/{application}"),
        bob.get(f"/api/v1/market_applications/{application}/attestation"),
        bob.get(f"/api/v1/market_applications/{application}/documents_package"),
    ):
        assert (response.status_code, response.get_json()) == (404, not_found)
    assert alice.get(f"/api/v1/market_applications/{application}/attestation").data == b"secret"


@pytest.mark.parametrize("change", [EditorChanges(active=False), EditorChanges(authorized=False)])
def test_a_deactivated_editors_token_stops_working_at_once(editor, container, change):
    assert editor.get("/api/v1/public_markets/VR-2026-AAAAAAAAAAAA").status_code == 404
    editors.update_editor(container.uow(), container.clock, editor.name, change)
    response = editor.get("/api/v1/public_markets/VR-2026-AAAAAAAAAAAA")
    assert (response.status_code, response.get_json()) == (401, {"error": "Not authorized"})
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_rotating_the_secret_cuts_existing_tokens(editor, container):
    assert editor.create_market().status_code == 201
    editors.rotate_secret(container.uow(), container.clock, editor.name)
    assert editor.create_market().status_code == 401


@pytest.mark.parametrize(
    "authorization",
    [None, "", "Bearer", "Bearer ", "Bearer nope", "Basic Zm9vOmJhcg==", "Token abc"],
)
def test_missing_or_bad_tokens_are_401_not_authorized(client, authorization):
    headers = {"Authorization": authorization} if authorization is not None else {}
    response = client.get("/api/v1/public_markets/VR-2026-AAAAAAAAAAAA", headers=headers)
    assert (response.status_code, response.get_json()) == (401, {"error": "Not authorized"})


def test_authentication_comes_before_the_body_is_read(client):
    response = client.post(
        "/api/v1/public_markets", data=b"{broken", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 401


def test_a_read_only_token_cannot_write_and_a_write_only_token_cannot_read(editor):
    read = editor.request_token(scope="api_read").get_json()["access_token"]
    write = editor.request_token(scope="api_write").get_json()["access_token"]
    body = {"public_market": {"name": "x"}}
    response = editor.client.post(
        "/api/v1/public_markets", json=body, headers={"Authorization": f"Bearer {read}"}
    )
    assert (response.status_code, response.get_json()) == (403, {"error": "Forbidden"})
    response = editor.client.get(
        "/api/v1/public_markets/VR-2026-AAAAAAAAAAAA", headers={"Authorization": f"Bearer {write}"}
    )
    assert (response.status_code, response.get_json()) == (403, {"error": "Forbidden"})
    response = editor.client.get(
        "/api/v1/public_markets/VR-2026-AAAAAAAAAAAA", headers={"Authorization": f"Bearer {read}"}
    )
    assert response.status_code == 404


def test_configuration_url_tokens_differ_per_market_and_do_not_reveal_the_secret(editor, container):
    first = editor.create_market().get_json()["configuration_url"]
    second = editor.create_market().get_json()["configuration_url"]
    assert first.split("token=")[1] != second.split("token=")[1]
    assert container.config.secret_key not in first
