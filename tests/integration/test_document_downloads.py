"""Documents an API points at are not fetched blindly (SSRF): only on the API's own origin, or
https on a public address of an api.gouv.fr host; redirects are followed by hand and each hop is
checked; the bearer token only goes to the API's origin. Over real HTTP on 127.0.0.1."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from flask import Flask, Response, redirect, request
from passemarche.adapters.data_sources import http as source_http
from passemarche.adapters.data_sources.http import (
    HttpSettings,
    RefusalLog,
    SourceHttp,
    document_url_refusal,
    origin_of,
)
from passemarche.sandbox import serve_in_thread
from passemarche.sandbox.api_entreprise import SAMPLE_PDF
from werkzeug.serving import make_server


def _server(app: Flask) -> Iterator[str]:
    server = make_server("127.0.0.1", 0, app, threaded=True)
    serve_in_thread(server)
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.fixture
def elsewhere() -> Iterator[Any]:
    """Another local server: what an attacker would like us to fetch. Records what it saw."""
    app = Flask("elsewhere")
    app.config["seen"] = []

    @app.get("/secret.pdf")
    def secret() -> Response:
        app.config["seen"].append(request.headers.get("Authorization"))
        return Response(SAMPLE_PDF, mimetype="application/pdf")

    for url in _server(app):
        yield url, app.config["seen"]


@pytest.fixture
def api(elsewhere: Any) -> Iterator[str]:
    other, _seen = elsewhere
    app = Flask("api")

    @app.get("/documents/a.pdf")
    def document() -> Response:
        return Response(SAMPLE_PDF, mimetype="application/pdf")

    @app.get("/moved")
    def moved() -> Any:
        return redirect("/documents/a.pdf")

    @app.get("/away")
    def away() -> Any:
        return redirect(f"{other}/secret.pdf")

    @app.get("/loop")
    def loop() -> Any:
        return redirect("/loop")

    yield from _server(app)


def http() -> SourceHttp:
    settings = HttpSettings(connect_timeout=2, read_timeout=2, retry_delay=0)
    return SourceHttp("test", requests.Session(), settings, refusals=RefusalLog())


TOKEN = {"Authorization": "Bearer secret-token"}


def test_a_document_on_the_apis_origin_is_fetched_and_a_redirect_there_followed(api):
    for path in ("/documents/a.pdf", "/moved"):
        result = http().download(api + path, "doc", TOKEN, trusted_origin=origin_of(api))
        assert result.document is not None, result.refusal
        assert result.document.content.startswith(b"%PDF")


def test_another_host_is_refused_without_being_contacted(api, elsewhere):
    other, seen = elsewhere
    result = http().download(other + "/secret.pdf", "doc", TOKEN, trusted_origin=origin_of(api))
    assert result.document is None
    assert result.refusal == "a document elsewhere than the API must be https"
    assert seen == []


def test_a_redirect_to_another_host_is_refused_before_following_it(api, elsewhere):
    _other, seen = elsewhere
    result = http().download(api + "/away", "doc", TOKEN, trusted_origin=origin_of(api))
    assert result.document is None and result.refusal is not None
    assert seen == []  # never reached, so no token either


def test_endless_redirects_stop(api):
    result = http().download(api + "/loop", "doc", TOKEN, trusted_origin=origin_of(api))
    assert result.refusal == "too many redirects"


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("file:///etc/passwd", "not an http(s) URL"),
        ("http://storage.entreprise.api.gouv.fr/a.pdf", "must be https"),
        ("https://evil.example/a.pdf", "document host not allowed"),
        ("https://api.gouv.fr.evil.example/a.pdf", "document host not allowed"),
    ],
)
def test_urls_outside_the_rule_are_refused(url, reason):
    refusal = document_url_refusal(url, ("https", "entreprise.api.gouv.fr", 443))
    assert refusal is not None and reason in refusal


@pytest.mark.parametrize(
    ("address", "allowed"),
    [
        ("185.24.186.10", True),
        ("10.0.0.5", False),
        ("127.0.0.1", False),
        ("169.254.169.254", False),
    ],
)
def test_an_api_gouv_host_must_resolve_to_public_addresses(monkeypatch, address, allowed):
    def resolve(host: str, port: Any, *args: Any, **kwargs: Any) -> list[Any]:
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]

    monkeypatch.setattr(source_http.socket, "getaddrinfo", resolve)
    refusal = document_url_refusal("https://storage.entreprise.api.gouv.fr/a.pdf", None)
    assert (refusal is None) is allowed, refusal
