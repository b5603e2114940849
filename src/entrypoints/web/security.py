"""Security of the web pages: CSRF protection, the session cookie and the response headers.

- **CSRF**: every POST/PUT/PATCH/DELETE on a page route must carry the session's token, in the
  form field `csrf_token` (templates: `{{ macros.csrf_field() }}`, or `{{ csrf_token() }}`) or
  the header `X-CSRF-Token`; otherwise the French "Formulaire expiré" page answers 400. The API,
  `/oauth/` and `/up` are exempt: they authenticate with bearer tokens or client credentials,
  never with the cookie. Requests matching no route are left to the 404/405 that follows.
- **Session cookie**: HttpOnly, SameSite=Lax, Secure and `__Host-` prefixed in production,
  expiring after `Config.session_lifetime_hours` (default 8) of inactivity.
- **Headers**: on pages, a Content-Security-Policy allowing no inline script or style,
  `X-Frame-Options: DENY`, `Referrer-Policy: same-origin` and `Cache-Control: no-store` (pages
  show personal data) unless the view set its own; `X-Content-Type-Options: nosniff` on every
  response and HSTS in production. The API's JSON responses keep their own caching headers.

A view refuses with a French page by raising a `PageError` subclass (title and text of its own);
`passemarche.entrypoints.errors` renders it like every other error page.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable
from datetime import timedelta

from flask import Flask, Response, request, session
from passemarche.entrypoints.errors import _html_error, _is_api_request
from werkzeug.exceptions import HTTPException

CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
_CSRF_SESSION_KEY = "csrf"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

DEFAULT_SESSION_LIFETIME_HOURS = 8
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",  # the DSFR stylesheet draws a few shapes with data: SVGs
        "font-src 'self'",
        "object-src 'none'",
        "frame-ancestors 'none'",
        "form-action 'self'",
        "base-uri 'self'",
    )
)
HSTS = "max-age=31536000"


class PageError(HTTPException):
    """A refusal whose French page says why (its `title` and `text`), not only the status.
    Subclasses set `code`; the base has none, so that one error handler catches them all."""

    title = "Une erreur est survenue"
    text = "Veuillez réessayer plus tard."

    def __init__(self, title: str | None = None, text: str | None = None) -> None:
        super().__init__()
        if title is not None:
            self.title = title
        if text is not None:
            self.text = text
        self.description = self.text


class CsrfRejected(PageError):
    code = 400
    title = "Formulaire expiré"
    text = (
        "Ce formulaire n’a pas pu être pris en compte : votre session a peut-être expiré. "
        "Revenez à la page précédente, rechargez-la, puis envoyez le formulaire à nouveau."
    )


def csrf_token() -> str:
    """The session's CSRF token, created on first use (a Jinja global)."""
    token = session.get(_CSRF_SESSION_KEY)
    if not isinstance(token, str) or not token:
        token = secrets.token_urlsafe(32)
        session[_CSRF_SESSION_KEY] = token
        session.permanent = True
    return token


def _csrf_exempt() -> bool:
    # No route: the 404/405 that follows is the right answer, whatever the token.
    return request.method not in UNSAFE_METHODS or _is_api_request() or request.url_rule is None


def protect_from_csrf() -> None:
    if _csrf_exempt():
        return
    expected = session.get(_CSRF_SESSION_KEY)
    sent = request.form.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER)
    if not isinstance(expected, str) or not expected or not sent:
        raise CsrfRejected()
    if not hmac.compare_digest(sent.encode("utf-8"), expected.encode("utf-8")):
        raise CsrfRejected()


def _production(app: Flask) -> bool:
    return bool(app.extensions["passemarche"].config.is_production)


def configure_session(app: Flask) -> None:
    config = app.extensions["passemarche"].config
    production = _production(app)
    hours = getattr(config, "session_lifetime_hours", DEFAULT_SESSION_LIFETIME_HOURS)
    app.config.update(
        # `__Host-`: the browser refuses the cookie unless Secure, for this host only, on path /.
        SESSION_COOKIE_NAME="__Host-passemarche" if production else "passemarche",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=production,
        SESSION_COOKIE_PATH="/",
        SESSION_COOKIE_DOMAIN=None,
        PERMANENT_SESSION_LIFETIME=timedelta(hours=hours),
    )


def security_headers(production: bool) -> Callable[[Response], Response]:
    def add_headers(response: Response) -> Response:
        headers = response.headers
        headers.setdefault("X-Content-Type-Options", "nosniff")
        if production:
            headers.setdefault("Strict-Transport-Security", HSTS)
        if _is_api_request():
            return response
        headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Referrer-Policy", "same-origin")
        if "Cache-Control" not in headers:
            headers["Cache-Control"] = "no-store"
        return response

    return add_headers


def render_page_error(error: PageError) -> tuple[str, int]:
    return _html_error(error.code or 400, error.title, error.text)


def register_security(app: Flask) -> None:
    configure_session(app)
    app.before_request(protect_from_csrf)
    app.after_request(security_headers(_production(app)))
    app.register_error_handler(PageError, render_page_error)
    app.jinja_env.globals["csrf_token"] = csrf_token
    app.jinja_env.globals["CSRF_FIELD"] = CSRF_FIELD
