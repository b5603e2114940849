"""Capability links: the buyer's `configuration_url` and the candidate's `application_url`.

The API hands out `<base>/buyer/public_markets/<id>/setup?token=<t>`, where `t` is
`container.signer.sign("buyer", <id>)`. Whoever holds the link may work on that market, and on
that market only. The first request with `?token=` is checked against the signer; on success the
session remembers the grant `(purpose, identifier)` and the browser is redirected to the same URL
without the token, so that it leaves the address bar, the history and later `Referer` headers.
Later requests only need the grant in the session (a signed cookie, expiring with the session).

Use the decorator on every page of the area; it reads the identifier from the view arguments:

    from passemarche.entrypoints.web.capabilities import BUYER, capability_required

    @blp.route("/buyer/public_markets/<identifier>/setup", methods=["GET", "POST"])
    @capability_required(BUYER)                # or capability_required(BUYER, arg="market_id")
    def setup(identifier: str) -> ResponseReturnValue:
        ...                                    # reached only with a valid grant

A GET with `?token=` (any page of the area, not only the first) verifies it and answers the
redirect; a wrong or empty token is the 403 page "Lien invalide ou expiré"; no token and no
grant is the 403 page "Accès non autorisé", which tells to use the link received from the
platform. POSTs never carry the token: they need the grant (and the CSRF token).

The same checks as plain functions, for a view that needs them elsewhere:
`open_capability(purpose, identifier)` returns the redirect to answer (token present) or `None`
(grant present), and raises otherwise; `require_capability(purpose, identifier)` only checks the
grant; `has_capability(...)` tells without raising.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar, cast
from urllib.parse import urlencode

from flask import current_app, redirect, request, session
from flask.typing import ResponseReturnValue
from passemarche.entrypoints.api.urls import BUYER_PURPOSE, CANDIDATE_PURPOSE
from passemarche.entrypoints.web.security import PageError
from werkzeug.wrappers import Response

BUYER = BUYER_PURPOSE
CANDIDATE = CANDIDATE_PURPOSE
TOKEN_PARAMETER = "token"  # noqa: S105  (a query parameter's name)
_GRANTS_SESSION_KEY = "grants"
# The session is a cookie (4 kB at most): keep the latest grants only.
MAX_GRANTS = 20

View = TypeVar("View", bound=Callable[..., ResponseReturnValue])


class InvalidCapabilityLink(PageError):
    code = 403
    title = "Lien invalide ou expiré"
    text = (
        "Ce lien n’est pas valide ou a expiré. Retournez sur la plateforme depuis laquelle vous "
        "êtes arrivé et utilisez le lien qu’elle vous propose."
    )


class CapabilityMissing(PageError):
    code = 403
    title = "Accès non autorisé"
    text = (
        "Pour accéder à cette page, utilisez le lien reçu depuis votre plateforme de marchés "
        "publics. Si vous l’avez déjà utilisé, votre session a peut-être expiré : ouvrez-le à "
        "nouveau depuis la plateforme."
    )


def _grant_key(purpose: str, identifier: str) -> str:
    return f"{purpose}:{identifier}"


def _grants() -> list[str]:
    grants = session.get(_GRANTS_SESSION_KEY)
    return [g for g in grants if isinstance(g, str)] if isinstance(grants, list) else []


def has_capability(purpose: str, identifier: str) -> bool:
    return _grant_key(purpose, identifier) in _grants()


def grant_capability(purpose: str, identifier: str) -> None:
    key = _grant_key(purpose, identifier)
    grants = [g for g in _grants() if g != key] + [key]
    session[_GRANTS_SESSION_KEY] = grants[-MAX_GRANTS:]
    session.permanent = True


def require_capability(purpose: str, identifier: str) -> None:
    if not has_capability(purpose, identifier):
        raise CapabilityMissing()


def _url_without_token() -> str:
    kept = [(k, v) for k, v in request.args.items(multi=True) if k != TOKEN_PARAMETER]
    # A relative URL: the address the browser asked for, whatever the Host header says.
    return request.path + (f"?{urlencode(kept)}" if kept else "")


def open_capability(purpose: str, identifier: str) -> Response | None:
    """The redirect to answer when a GET carries `?token=` (valid: the grant is recorded);
    `None` when the session already holds the grant; raises the 403 page otherwise."""
    if request.method in ("GET", "HEAD") and TOKEN_PARAMETER in request.args:
        token = request.args.get(TOKEN_PARAMETER, "")
        signer = current_app.extensions["passemarche"].signer
        # The signer compares str digests, which must be ASCII: anything else is simply wrong.
        if not token or not token.isascii() or not signer.verify(purpose, identifier, token):
            raise InvalidCapabilityLink()
        grant_capability(purpose, identifier)
        return redirect(_url_without_token(), code=303)
    require_capability(purpose, identifier)
    return None


def capability_required(purpose: str, arg: str = "identifier") -> Callable[[View], View]:
    """Decorate a view: `open_capability(purpose, <the view argument named arg>)` first."""

    def decorate(view: View) -> View:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> ResponseReturnValue:
            answer = open_capability(purpose, str(kwargs[arg]))
            if answer is not None:
                return answer
            return view(*args, **kwargs)

        return cast(View, wrapper)

    return decorate
