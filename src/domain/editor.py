"""Editors: the procurement platforms that call the API, and their access tokens."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from passemarche.domain.hashing import secret_matches


@dataclass(eq=False)
class Editor:
    client_id: str
    name: str
    client_secret_hash: str
    created_at: datetime
    authorized: bool = True
    active: bool = True
    can_create_defense_markets: bool = False
    webhook_url: str | None = None
    webhook_secret: str | None = None
    buyer_return_url: str | None = None
    candidate_return_url: str | None = None

    @property
    def may_use_api(self) -> bool:
        return self.authorized and self.active

    def check_secret(self, secret: str) -> bool:
        return secret_matches(secret, self.client_secret_hash)


class Scope(StrEnum):
    ACCESS = "api_access"
    READ = "api_read"
    WRITE = "api_write"


SUPPORTED_SCOPES = tuple(s.value for s in Scope)
DEFAULT_SCOPE = Scope.ACCESS.value
TOKEN_LIFETIME = timedelta(seconds=86400)


class Operation(StrEnum):
    READ = "read"
    WRITE = "write"


def normalise_scope(scope: str | None) -> str:
    """Space-separated scopes, deduplicated and sorted; empty means the default scope."""
    parts = sorted(set((scope or "").split()))
    return " ".join(parts) if parts else DEFAULT_SCOPE


@dataclass(eq=False)
class AccessToken:
    token_hash: str
    client_id: str
    scope: str
    issued_at: datetime
    expires_at: datetime
    revoked_at: datetime | None = None

    def is_usable(self, now: datetime) -> bool:
        return self.revoked_at is None and now < self.expires_at

    def revoke(self, now: datetime) -> None:
        if self.revoked_at is None:
            self.revoked_at = now

    def allows(self, operation: Operation) -> bool:
        return scope_allows(self.scope, operation)


def scope_allows(scope: str, operation: Operation) -> bool:
    """`api_access` allows everything; `api_read` the GET endpoints; `api_write` the POSTs."""
    scopes = set(scope.split())
    if Scope.ACCESS.value in scopes:
        return True
    needed = Scope.READ if operation is Operation.READ else Scope.WRITE
    return needed.value in scopes


def build_return_url(base: str, **params: str) -> str:
    """The editor's return URL with our identifiers appended; its own query parameters are kept
    (ours replace any of the same name)."""
    parts = urlsplit(base)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in params]
    query.extend(params.items())
    return urlunsplit(parts._replace(query=urlencode(query)))
