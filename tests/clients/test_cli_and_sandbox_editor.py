"""The command-line tool and the sandbox editor's pages, against the real service."""

from __future__ import annotations

import json
import re

import pytest
from passemarche_client.cli import main
from passemarche_client.sandbox_editor import EditorSettings, create_app
from passemarche_client.webhooks import sign_webhook

from tests.clients.conftest import market_fields


@pytest.fixture
def api_env(stack, monkeypatch):
    monkeypatch.setenv("PASSEMARCHE_BASE_URL", stack.base_url)
    monkeypatch.setenv("PASSEMARCHE_CLIENT_ID", stack.editor["client_id"])
    monkeypatch.setenv("PASSEMARCHE_CLIENT_SECRET", stack.editor["client_secret"])


def run(capsys, *args):
    code = main(list(args))
    out = capsys.readouterr()
    return code, json.loads(out.out) if out.out.strip() else None, out.err


def test_token_and_create_market_print_json(api_env, capsys):
    code, token, _ = run(capsys, "token")
    assert code == 0 and token["token_type"] == "Bearer" and token["access_token"]
    fields = market_fields()
    code, market, logs = run(
        capsys, "-v", "create-market", "--name", fields["name"], "--deadline", fields["deadline"],
        "--siret", fields["siret"], "--type", "supplies", "--lot-name", "Lot 1",
    )  # fmt: skip
    assert code == 0 and market["identifier"].startswith("VR-") and market["replayed"] is False
    logged = [json.loads(line) for line in logs.splitlines()]
    assert [(e["method"], e["path"], e["status"]) for e in logged] == [
        ("POST", "/oauth/token", 200), ("POST", "/api/v1/public_markets", 201),
    ]  # fmt: skip
    code, read, _ = run(capsys, "get-market", market["identifier"])
    assert code == 0 and read["status"] == "draft"


def test_api_refusals_exit_1_with_the_api_errors(api_env, capsys):
    code, answer, _ = run(capsys, "create-market", "--name", "x", "--deadline", "2001-01-01",
                          "--siret", "13002526500013", "--type", "supplies")  # fmt: skip
    assert code == 1
    assert answer["status"] == 422 and answer["errors"]
    code, answer, _ = run(capsys, "download-attestation", "FT20300101AAAAAAAA")
    assert (code, answer["status"], answer["error"]) == (1, 404, "Resource not found")


def test_missing_settings_exit_2(monkeypatch, capsys):
    for name in ("PASSEMARCHE_BASE_URL", "PASSEMARCHE_CLIENT_ID", "PASSEMARCHE_CLIENT_SECRET"):
        monkeypatch.delenv(name, raising=False)
    assert main(["token"]) == 2
    assert "PASSEMARCHE_BASE_URL" in capsys.readouterr().err


def test_verify_webhook_accepts_a_genuine_one_and_refuses_a_tampered_one(tmp_path, capsys):
    body = b'{"event": "market.completed", "market": {"identifier": "VR-2030-ABCDEFGHIJKL"}}'
    headers = sign_webhook("s3cret", body, "msg_1")
    (tmp_path / "body.json").write_bytes(body)
    args = ["verify-webhook", "--secret", "s3cret", "--body", str(tmp_path / "body.json")]
    for name, value in headers.items():
        args += ["--header", f"{name}: {value}"]
    code, answer, _ = run(capsys, *args)
    assert (code, answer) == (0, {"valid": True, "event": "market.completed",
                                  "webhook_id": "msg_1"})  # fmt: skip
    (tmp_path / "body.json").write_bytes(body.replace(b"ABC", b"XYZ"))
    code, answer, _ = run(capsys, *args)
    assert code == 1 and answer["valid"] is False


def test_the_sandbox_editor_creates_a_market_and_links_to_the_buyer_pages(stack):
    app = create_app(EditorSettings(webhook_secret="s", base_url=stack.base_url,
                                    client_id=stack.editor["client_id"],
                                    client_secret=stack.editor["client_secret"]))  # fmt: skip
    browser = app.test_client()
    home = browser.get("/").get_data(as_text=True)
    assert "Aucun webhook" in home
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', home).group(1)
    assert browser.post("/markets", data={"name": "x"}).status_code == 400  # no CSRF token
    created = browser.post("/markets", data={
        "csrf_token": csrf, "name": "Marché de la démo", "deadline": "2030-12-31T23:59:59Z",
        "siret": "13002526500013", "market_type_codes": "supplies",
    }, follow_redirects=True).get_data(as_text=True)  # fmt: skip
    assert re.search(r"Marché VR-\d{4}-[A-Z0-9]{12} créé", created)
    assert "/buyer/public_markets/VR-" in created and "Configurer le marché" in created
    refused = browser.post("/markets", data={"csrf_token": csrf, "name": ""},
                           follow_redirects=True).get_data(as_text=True)  # fmt: skip
    assert "Refusé par l’API" in refused and "Name can&#39;t be blank" in refused


def test_the_sandbox_editor_lists_verified_and_refused_webhooks():
    app = create_app(EditorSettings(webhook_secret="s"))
    browser = app.test_client()
    body = b'{"event": "market.completed", "market": {"identifier": "VR-2030-ABCDEFGHIJKL"}}'
    assert browser.post("/webhooks", data=body, headers=sign_webhook("s", body, "m1")).json == {
        "status": "received"
    }
    assert (
        browser.post("/webhooks", data=body, headers=sign_webhook("x", body, "m2")).status_code
        == 401
    )
    listed = browser.get("/api/webhooks").json["webhooks"]
    assert [(w["webhook_id"], w["verified"]) for w in listed] == [("m1", True), ("m2", False)]
    page = browser.get("/").get_data(as_text=True)
    assert "VR-2030-ABCDEFGHIJKL" in page and "refusée" in page and "vérifiée" in page


def test_the_sandbox_editor_processes_the_retry_of_a_webhook_it_failed_to_store(monkeypatch):
    app = create_app(EditorSettings(webhook_secret="s"))
    state = app.extensions["sandbox_editor"]
    browser = app.test_client()
    body = b'{"event": "market.completed", "market": {"identifier": "VR-2030-ABCDEFGHIJKL"}}'
    stored = state.record

    def failing_once(webhook):
        monkeypatch.setattr(state, "record", stored)
        raise OSError("disk full")

    monkeypatch.setattr(state, "record", failing_once)
    assert (
        browser.post("/webhooks", data=body, headers=sign_webhook("s", body, "m1")).status_code
        == 500
    )
    # The service retries the same webhook-id: processed this time, then a duplicate.
    retried = browser.post("/webhooks", data=body, headers=sign_webhook("s", body, "m1"))
    assert retried.json == {"status": "received"}
    again = browser.post("/webhooks", data=body, headers=sign_webhook("s", body, "m1"))
    assert again.json == {"status": "duplicate"}
    listed = browser.get("/api/webhooks").json["webhooks"]
    assert [(w["webhook_id"], w["verified"]) for w in listed] == [("m1", True)]


def test_the_sandbox_editor_says_when_the_service_cannot_be_reached():
    import socket

    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    app = create_app(EditorSettings(webhook_secret="s", base_url=f"http://127.0.0.1:{port}",
                                    client_id="id", client_secret="secret"))  # fmt: skip
    browser = app.test_client()
    home = browser.get("/").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', home).group(1)
    page = browser.post(
        "/markets/VR-2026-AAAAAAAAAAAA/applications",
        data={"csrf_token": csrf},
        follow_redirects=True,
    )
    assert page.status_code == 200
    assert "Le service n’a pas pu être joint" in page.get_data(as_text=True)
