"""Per-editor rate limits (flask-limiter), shared by every worker through Redis when configured.

Three budgets, from the reference: the token endpoint (keyed by client_id, else the address),
the API (per editor) and downloads (per editor, a budget of their own).
"""

from __future__ import annotations

import base64

from flask import Blueprint, Flask, Response, g, request
from flask_limiter import Limiter
from passemarche.config import Config


def _client_address() -> str:
    return request.remote_addr or "unknown"


def editor_key() -> str:
    principal = getattr(g, "principal", None)
    if principal is not None:
        return f"editor:{principal.client_id}"
    return f"ip:{_client_address()}"


def token_client_key() -> str:
    """The client_id the OAuth2 server authenticates (HTTP Basic first, as authlib does, then the
    form), without authenticating it."""
    client_id = None
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "basic":
        try:
            client_id = base64.b64decode(value, validate=True).decode().partition(":")[0]
        except (ValueError, UnicodeDecodeError):
            client_id = None
    client_id = client_id or request.form.get("client_id")
    return f"client:{client_id}" if client_id else f"ip:{_client_address()}"


def address_key() -> str:
    return f"ip:{_client_address()}"


def _authenticated(response: Response) -> bool:
    return response.status_code != 401


def _refused(response: Response) -> bool:
    return response.status_code == 401


def _keep_retry_after_meaningful(response: Response) -> Response:
    """flask-limiter puts Retry-After on every response of a limited route; keep it only where a
    client should wait: a 429 (the limiter's value) or a view's own (documents being generated)."""
    own = g.get("retry_after")
    if own is not None:
        response.headers["Retry-After"] = str(own)
    elif response.status_code not in (429, 503):
        response.headers.pop("Retry-After", None)
    return response


def create_limiter(app: Flask, config: Config) -> Limiter:
    # after_request hooks run in reverse order: registered first, this one runs after the limiter.
    app.after_request(_keep_retry_after_meaningful)
    limiter = Limiter(
        key_func=editor_key,
        storage_uri=config.rate_limit_storage_uri,
        headers_enabled=True,
        key_prefix=config.rate_limit_key_prefix,
        strategy="fixed-window",
    )
    limiter.init_app(app)
    app.extensions["passemarche_limiter"] = limiter
    return limiter


def apply_limits(limiter: Limiter, config: Config, blueprints: dict[str, Blueprint]) -> None:
    # Per client: the requests that got past authentication, so that nobody can exhaust an
    # editor's budget with wrong secrets. Per address: the failed authentications.
    limiter.limit(config.rate_limit_token, key_func=token_client_key, deduct_when=_authenticated)(
        blueprints["oauth"]
    )
    limiter.limit(config.rate_limit_token, key_func=address_key, deduct_when=_refused)(
        blueprints["oauth"]
    )
    api_budget = limiter.shared_limit(config.rate_limit_api, scope="api")
    api_budget(blueprints["markets"])
    api_budget(blueprints["applications"])
    downloads_budget = limiter.shared_limit(config.rate_limit_downloads, scope="downloads")
    downloads_budget(blueprints["downloads"])
