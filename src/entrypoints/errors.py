"""The one place where errors become HTTP responses.

Domain errors map to a status through `STATUS_BY_ERROR`; HTTP errors raised by Flask, webargs or
flask-limiter are reshaped into the reference's `{error, errors}` body. Pages (outside the API)
get a short French HTML page instead.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from flask import Flask, Response, current_app, g, jsonify, request
from flask_limiter import RateLimitExceeded
from passemarche.domain import errors as domain
from werkzeug.exceptions import HTTPException, InternalServerError

log = logging.getLogger("passemarche.errors")

STATUS_BY_ERROR: dict[type[domain.DomainError], int] = {
    domain.ValidationFailed: 422,
    domain.FieldRejected: 422,
    domain.NotFound: 404,
    domain.Forbidden: 403,
    domain.ApplicationNotCompleted: 422,
    domain.DocumentNotAvailable: 404,
    domain.MarketAlreadyCompleted: 422,
    domain.IdempotencyKeyReused: 422,
    domain.NotAuthenticated: 401,
    domain.InsufficientScope: 403,
    domain.EditorAlreadyExists: 422,
}

JSON_MIMETYPE = "application/json; charset=utf-8"

# Generation is a background job: a client told "not available" should come back soon.
DOCUMENT_RETRY_AFTER_SECONDS = 30

_HTTP_MESSAGES = {
    400: "Bad Request",
    401: "Not authorized",
    403: "Forbidden",
    404: "Resource not found",
    405: "Method Not Allowed",
    406: "Not Acceptable",
    413: "Payload Too Large",
    415: "Unsupported Media Type",
    429: "Rate limit exceeded",
    500: "Internal Server Error",
}


def status_for(error: domain.DomainError) -> int:
    for cls in type(error).__mro__:
        if cls in STATUS_BY_ERROR:
            return STATUS_BY_ERROR[cls]  # type: ignore[index]
    return 422


def domain_error_body(error: domain.DomainError) -> dict[str, Any]:
    if isinstance(error, domain.ValidationFailed):
        return {"errors": error.messages}
    if isinstance(error, domain.FieldRejected):
        return {"errors": {error.field: [error.message]}}
    if isinstance(error, domain.Forbidden) and error.reasons:
        return {"error": error.message, "errors": error.reasons}
    return {"error": error.message}


def _is_api_request() -> bool:
    return request.path.startswith(("/api/", "/oauth/")) or request.path == "/up"


def _json(body: dict[str, Any], status: int, headers: dict[str, str] | None = None) -> Response:
    response = jsonify(body)
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def handle_domain_error(error: domain.DomainError) -> Response | tuple[str, int]:
    status = status_for(error)
    if not _is_api_request():
        return _html_error(status)
    headers: dict[str, str] = {}
    if isinstance(error, domain.NotAuthenticated):
        headers["WWW-Authenticate"] = 'Bearer realm="passemarche"'
    if isinstance(error, domain.DocumentNotAvailable):
        headers["Retry-After"] = str(DOCUMENT_RETRY_AFTER_SECONDS)
        g.retry_after = DOCUMENT_RETRY_AFTER_SECONDS
    return _json(domain_error_body(error), status, headers)


def handle_http_exception(error: HTTPException) -> Response | tuple[str, int]:
    status = error.code or 500
    if isinstance(error, InternalServerError):
        original = getattr(error, "original_exception", None)
        if original is not None:
            log.error("unhandled error", exc_info=original)
    if not _is_api_request():
        return _html_error(status)
    body: dict[str, Any] = {"error": _HTTP_MESSAGES.get(status, error.name)}
    headers: dict[str, str] = {}
    if isinstance(error, RateLimitExceeded):
        body["retry_after"] = _retry_after_seconds()
    elif status in (400, 422) and _webargs_messages(error) is not None:
        # Only the request envelope is checked by schemas: its failures are malformed requests.
        status = 400
        body = {"error": "Bad Request", "errors": _flatten(_webargs_messages(error))}
    elif status == 413:
        limit = request.max_content_length or 0
        body["errors"] = [f"The request body must not exceed {limit} bytes"]
    elif status == 405 and error.valid_methods:  # type: ignore[attr-defined]
        headers["Allow"] = ", ".join(error.valid_methods)  # type: ignore[attr-defined]
    elif status in (400, 415) and error.description and not _is_default_description(error):
        body["errors"] = [error.description]
    return _json(body, status, headers)


def _webargs_messages(error: HTTPException) -> Any:
    data = getattr(error, "data", None)
    return data.get("messages") if isinstance(data, dict) else None


def _flatten(messages: Any, path: tuple[str, ...] = ()) -> list[str]:
    """webargs nests messages by location and field; the API lists them as sentences."""
    if isinstance(messages, dict):
        out: list[str] = []
        for key, value in messages.items():
            inner = path if key in ("json", "form", "_schema") else (*path, str(key))
            out.extend(_flatten(value, inner))
        return out
    if isinstance(messages, list):
        out = []
        for item in messages:
            out.extend(_flatten(item, path))
        return out
    text = str(messages)
    if text == "Missing data for required field.":
        text = "is required"
    elif text in ("Invalid input type.", "Not a valid mapping type.", "Field may not be null."):
        text = "must be a JSON object"
    elif text.startswith("Invalid JSON"):
        return ["The request body is not valid JSON"]
    return [f"{'.'.join(path)} {text}" if path else text]


def _is_default_description(error: HTTPException) -> bool:
    return error.description == type(error).description


def _retry_after_seconds() -> int:
    limiter = current_app.extensions.get("passemarche_limiter")
    current = limiter.current_limit if limiter is not None else None
    if current is None:
        return 3600
    return max(1, int(current.reset_at - time.time()))


_HTML = """<!doctype html>
<html lang="fr"><head><meta charset="utf-8"><title>{title} – Passe Marché</title></head>
<body><main><h1>{title}</h1><p>{text}</p></main></body></html>"""

_HTML_MESSAGES = {
    400: ("Requête invalide", "La demande n’a pas pu être comprise. Veuillez réessayer."),
    403: ("Accès refusé", "Ce lien n’est pas valide ou ne vous donne pas accès à cette page."),
    404: ("Page introuvable", "La page demandée n’existe pas."),
    405: ("Méthode non autorisée", "Cette action n’est pas possible sur cette page."),
    413: ("Fichier trop volumineux", "Le fichier envoyé dépasse la taille autorisée."),
    429: ("Trop de requêtes", "Veuillez patienter quelques instants avant de réessayer."),
}


def _html_error(status: int, title: str | None = None, text: str | None = None) -> tuple[str, int]:
    """The French error page: `error.html` when the web foundation is registered (see
    `passemarche.entrypoints.web`), else a bare page, which is also the fallback if rendering
    fails (an error page must not fail in turn)."""
    from flask import render_template
    from jinja2 import TemplateError
    from markupsafe import escape
    from werkzeug.routing import BuildError

    default_title, default_text = _HTML_MESSAGES.get(
        status, ("Une erreur est survenue", "Veuillez réessayer plus tard.")
    )
    title, text = title or default_title, text or default_text
    if "passemarche_web" in current_app.extensions:
        try:
            return render_template("error.html", status=status, title=title, text=text), status
        except (TemplateError, BuildError):
            log.exception("error page could not be rendered")
    return _HTML.format(title=escape(title), text=escape(text)), status


def register_error_handlers(app: Flask) -> None:
    app.register_error_handler(domain.DomainError, handle_domain_error)
    app.register_error_handler(HTTPException, handle_http_exception)
