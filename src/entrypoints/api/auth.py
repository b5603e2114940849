"""Bearer-token authentication of API requests, in two hooks around the rate limiter.

`resolve_principal` runs first and only identifies the editor (so rate limits are counted per
editor, and unauthenticated callers per address); `enforce_principal` runs after the limiter and
refuses the request. Both run before any request body is parsed.
"""

from __future__ import annotations

from flask import current_app, g, request
from passemarche.domain.editor import Operation
from passemarche.domain.errors import NotAuthenticated
from passemarche.services import tokens
from passemarche.services.tokens import Principal
from werkzeug.exceptions import UnsupportedMediaType

API_PREFIX = "/api/v1/"
PUBLIC_API_PATHS = frozenset({"/api/v1/openapi.json"})


def _protected() -> bool:
    return request.path.startswith(API_PREFIX) and request.path not in PUBLIC_API_PATHS


def bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


def resolve_principal() -> None:
    g.principal = None
    g.auth_error = None
    if not _protected():
        return
    container = current_app.extensions["passemarche"]
    try:
        g.principal = tokens.authenticate(container.uow(), container.clock, bearer_token())
    except NotAuthenticated as error:
        g.auth_error = error


def enforce_principal() -> None:
    if not _protected():
        return
    if g.auth_error is not None:
        raise g.auth_error
    operation = Operation.READ if request.method in ("GET", "HEAD") else Operation.WRITE
    g.principal.require(operation)
    if request.method == "POST" and request.mimetype != "application/json":
        raise UnsupportedMediaType("Content-Type must be application/json")


def current_principal() -> Principal:
    principal = getattr(g, "principal", None)
    if principal is None:  # a route outside the protected prefix asked for an editor
        raise NotAuthenticated()
    return principal
