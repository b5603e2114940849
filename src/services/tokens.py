"""Access tokens: recording the ones the OAuth2 server issues, and checking bearer tokens."""

from __future__ import annotations

from dataclasses import dataclass

from passemarche.domain.editor import (
    TOKEN_LIFETIME,
    AccessToken,
    Operation,
    normalise_scope,
    scope_allows,
)
from passemarche.domain.errors import InsufficientScope, NotAuthenticated
from passemarche.domain.hashing import hash_secret
from passemarche.services.ports import Clock
from passemarche.services.unit_of_work import AbstractUnitOfWork


@dataclass(frozen=True)
class ClientRecord:
    """What the OAuth2 server needs to authenticate an editor."""

    client_id: str
    client_secret_hash: str
    may_use_api: bool


@dataclass(frozen=True)
class Principal:
    """The editor behind a valid bearer token."""

    client_id: str
    editor_name: str
    scope: str
    can_create_defense_markets: bool

    def require(self, operation: Operation) -> None:
        if not scope_allows(self.scope, operation):
            raise InsufficientScope()


def find_client(uow: AbstractUnitOfWork, client_id: str) -> ClientRecord | None:
    with uow:
        editor = uow.editors.get(client_id)
        if editor is None:
            return None
        return ClientRecord(editor.client_id, editor.client_secret_hash, editor.may_use_api)


def record_issued_token(
    uow: AbstractUnitOfWork, clock: Clock, client_id: str, access_token: str, scope: str | None
) -> None:
    """Store the new token's hash and revoke the editor's previous tokens for the same scopes."""
    now = clock.now()
    scope = normalise_scope(scope)
    with uow:
        for previous in uow.tokens.usable_for(client_id, now):
            if previous.scope == scope:
                previous.revoke(now)
        uow.tokens.add(
            AccessToken(
                token_hash=hash_secret(access_token),
                client_id=client_id,
                scope=scope,
                issued_at=now,
                expires_at=now + TOKEN_LIFETIME,
            )
        )
        uow.commit()


def authenticate(uow: AbstractUnitOfWork, clock: Clock, bearer: str | None) -> Principal:
    """The editor is re-checked on every call: switching it off cuts its tokens at once."""
    if not bearer:
        raise NotAuthenticated()
    with uow:
        found = uow.tokens.get_with_editor(hash_secret(bearer))
        if found is None:
            raise NotAuthenticated()
        token, editor = found
        if not token.is_usable(clock.now()) or not editor.may_use_api:
            raise NotAuthenticated()
        return Principal(
            client_id=editor.client_id,
            editor_name=editor.name,
            scope=token.scope,
            can_create_defense_markets=editor.can_create_defense_markets,
        )
