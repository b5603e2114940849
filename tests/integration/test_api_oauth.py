"""POST /oauth/token, to the letter of the reference."""

import base64

import pytest
from passemarche.services import editors
from passemarche.services.editors import EditorChanges


def test_client_credentials_in_the_form_give_a_bearer_token(editor):
    response = editor.request_token(scope="api_access")
    assert response.status_code == 200
    body = response.get_json()
    assert list(body) == ["access_token", "token_type", "expires_in", "scope"]
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 86400
    assert body["scope"] == "api_access"
    assert len(body["access_token"]) >= 43
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Pragma"] == "no-cache"
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"


def test_http_basic_authentication_works_too_and_the_scope_defaults(editor):
    response = editor.request_token(basic=True)
    assert response.status_code == 200
    assert response.get_json()["scope"] == "api_access"


def test_an_unknown_client_or_a_wrong_secret_is_401_client_authentication_failed(editor, client):
    expected = {"error": "invalid_client", "error_description": "Client authentication failed"}
    for form in (
        {"client_id": "nobody", "client_secret": "x"},
        {"client_id": editor.client_id, "client_secret": "wrong"},
        {"client_id": editor.client_id},
        {},
    ):
        response = client.post("/oauth/token", data={"grant_type": "client_credentials", **form})
        assert response.status_code == 401, form
        assert response.get_json() == expected
    wrong_basic = base64.b64encode(f"{editor.client_id}:wrong".encode()).decode()
    response = client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        headers={"Authorization": f"Basic {wrong_basic}"},
    )
    assert (response.status_code, response.get_json()) == (401, expected)


@pytest.mark.parametrize("change", [EditorChanges(active=False), EditorChanges(authorized=False)])
def test_an_editor_switched_off_gets_401_not_authorized_or_active(editor, container, change):
    editors.update_editor(container.uow(), container.clock, editor.name, change)
    response = editor.request_token()
    assert response.status_code == 401
    assert response.get_json() == {
        "error": "invalid_client",
        "error_description": "Editor is not authorized or active",
    }


def test_a_switched_off_editor_with_a_wrong_secret_learns_nothing_more(editor, container, client):
    editors.update_editor(
        container.uow(), container.clock, editor.name, EditorChanges(active=False)
    )
    response = client.post(
        "/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": editor.client_id,
            "client_secret": "x",
        },
    )
    assert response.get_json()["error_description"] == "Client authentication failed"


@pytest.mark.parametrize("grant_type", ["password", "authorization_code", "refresh_token", "nope"])
def test_other_grant_types_are_400_unsupported_grant_type(editor, client, grant_type):
    response = client.post(
        "/oauth/token",
        data={
            "grant_type": grant_type,
            "client_id": editor.client_id,
            "client_secret": editor.client_secret,
        },
    )
    assert response.status_code == 400
    assert response.get_json() == {
        "error": "unsupported_grant_type",
        "error_description": "The authorization grant type is not supported",
    }


def test_a_missing_grant_type_is_400_invalid_request(editor, client):
    response = client.post(
        "/oauth/token", data={"client_id": editor.client_id, "client_secret": editor.client_secret}
    )
    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_request"


def test_an_unknown_scope_is_400_invalid_scope(editor):
    response = editor.request_token(scope="admin")
    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_scope"


def test_a_new_token_revokes_the_previous_one(editor):
    first = editor.request_token().get_json()["access_token"]
    second = editor.request_token().get_json()["access_token"]
    headers = {"Authorization": f"Bearer {first}"}
    assert (
        editor.client.get(
            "/api/v1/public_markets/VR-2026-AAAAAAAAAAAA", headers=headers
        ).status_code
        == 401
    )
    headers = {"Authorization": f"Bearer {second}"}
    assert (
        editor.client.get(
            "/api/v1/public_markets/VR-2026-AAAAAAAAAAAA", headers=headers
        ).status_code
        == 404
    )


def test_tokens_are_stored_hashed(editor, container):
    token = editor.token
    with container.engine.connect() as connection:
        from sqlalchemy import text

        stored = [
            row[0] for row in connection.execute(text("SELECT token_hash FROM access_tokens"))
        ]
        secrets = [
            row[0] for row in connection.execute(text("SELECT client_secret_hash FROM editors"))
        ]
    assert token not in stored and len(stored) == 1
    assert editor.client_secret not in secrets
