"""Every error has the reference's shape, including the framework's own."""

from tests.integration.conftest import make_config


def test_unknown_routes_are_404_in_the_api_shape(editor):
    response = editor.get("/api/v1/nothing/here")
    assert (response.status_code, response.get_json()) == (404, {"error": "Resource not found"})


def test_a_wrong_method_is_405_with_allow(editor):
    response = editor.client.delete("/api/v1/public_markets", headers=editor.headers())
    assert response.status_code == 405
    assert response.get_json() == {"error": "Method Not Allowed"}
    assert "POST" in response.headers["Allow"]


def test_an_oversized_body_is_413_in_the_api_shape(editor):
    body = {"public_market": {"name": "x" * (2 * 1024 * 1024)}}
    response = editor.post("/api/v1/public_markets", body)
    assert response.status_code == 413
    assert response.get_json()["error"] == "Payload Too Large"
    assert response.get_json()["errors"] == ["The request body must not exceed 1048576 bytes"]


def test_an_unexpected_failure_is_500_in_the_api_shape_and_logged(editor, app, caplog):
    def explode(*args, **kwargs):
        raise RuntimeError("boom")

    app.view_functions["markets.read_market"] = explode
    response = editor.get("/api/v1/public_markets/VR-2026-AAAAAAAAAAAA")
    assert (response.status_code, response.get_json()) == (500, {"error": "Internal Server Error"})
    assert any("unhandled error" in record.message for record in caplog.records)
    assert "boom" not in response.get_data(as_text=True)


def test_the_health_check_answers_without_authentication(client):
    response = client.get("/up")
    assert (response.status_code, response.get_json()) == (200, {"status": "ok"})
    assert "X-RateLimit-Limit" not in response.headers


def test_the_health_check_says_503_when_the_database_or_redis_is_gone(tmp_path):
    from passemarche.entrypoints.app import create_app

    closed_port = "127.0.0.1:9"  # discard port: nothing listens there
    config = make_config(
        f"postgresql+psycopg://postgres@{closed_port}/nothing",
        tmp_path,
        redis_url=f"redis://{closed_port}/0",
    )
    response = create_app(config).test_client().get("/up")
    assert response.status_code == 503
    assert response.get_json() == {
        "status": "unavailable",
        "errors": ["database unavailable", "redis unavailable"],
    }


def test_request_ids_are_echoed_or_generated(client):
    assert (
        client.get("/up", headers={"X-Request-Id": "abc-123"}).headers["X-Request-Id"] == "abc-123"
    )
    generated = client.get("/up", headers={"X-Request-Id": "bad id with spaces"}).headers[
        "X-Request-Id"
    ]
    assert generated != "bad id with spaces" and len(generated) == 32
