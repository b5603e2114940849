"""Administration of editors: creation, listing, flags and secret rotation (used by the CLI)."""

from __future__ import annotations

from dataclasses import dataclass, fields
from urllib.parse import urlsplit

from passemarche.domain.editor import Editor
from passemarche.domain.errors import EditorAlreadyExists, NotFound, ValidationFailed
from passemarche.domain.hashing import hash_secret
from passemarche.domain.identifiers import new_client_id, new_secret
from passemarche.domain.validation import Messages
from passemarche.services.ports import Clock
from passemarche.services.unit_of_work import AbstractUnitOfWork


@dataclass(frozen=True)
class EditorCredentials:
    """Shown once, at creation or rotation: only hashes of the client secret are kept."""

    name: str
    client_id: str
    client_secret: str
    webhook_secret: str | None


@dataclass(frozen=True)
class EditorSummary:
    name: str
    client_id: str
    authorized: bool
    active: bool
    can_create_defense_markets: bool
    webhook_url: str | None
    buyer_return_url: str | None
    candidate_return_url: str | None


@dataclass(frozen=True)
class EditorChanges:
    """Fields to change; None leaves a field as it is, "" clears a URL."""

    authorized: bool | None = None
    active: bool | None = None
    can_create_defense_markets: bool | None = None
    webhook_url: str | None = None
    buyer_return_url: str | None = None
    candidate_return_url: str | None = None


_URL_FIELDS = {
    "webhook_url": "Webhook url",
    "buyer_return_url": "Buyer return url",
    "candidate_return_url": "Candidate return url",
}


def create_editor(
    uow: AbstractUnitOfWork,
    clock: Clock,
    name: str,
    *,
    webhook_url: str | None = None,
    buyer_return_url: str | None = None,
    candidate_return_url: str | None = None,
    can_create_defense_markets: bool = False,
    active: bool = True,
    authorized: bool = True,
) -> EditorCredentials:
    errors = Messages()
    clean_name = errors.required_string("Name", name)
    urls = {
        key: _check_url(errors, label, value)
        for key, label, value in (
            ("webhook_url", "Webhook url", webhook_url),
            ("buyer_return_url", "Buyer return url", buyer_return_url),
            ("candidate_return_url", "Candidate return url", candidate_return_url),
        )
    }
    if errors:
        raise ValidationFailed(errors.items)
    assert clean_name is not None
    client_secret, webhook_secret = new_secret(), new_secret()
    with uow:
        if uow.editors.get_by_name(clean_name) is not None:
            raise EditorAlreadyExists()
        editor = Editor(
            client_id=new_client_id(),
            name=clean_name,
            client_secret_hash=hash_secret(client_secret),
            created_at=clock.now(),
            authorized=authorized,
            active=active,
            can_create_defense_markets=can_create_defense_markets,
            webhook_secret=webhook_secret,
            **urls,
        )
        uow.editors.add(editor)
        uow.commit()
        return EditorCredentials(clean_name, editor.client_id, client_secret, webhook_secret)


def list_editors(uow: AbstractUnitOfWork) -> list[EditorSummary]:
    with uow:
        return [_summary(editor) for editor in uow.editors.list()]


def update_editor(
    uow: AbstractUnitOfWork, clock: Clock, name: str, changes: EditorChanges
) -> EditorSummary:
    """Change an editor's settings. Switching it off (not active, or not authorized) revokes its
    tokens: switching it on again later does not revive them (a new token must be asked for)."""
    errors = Messages()
    values = {}
    for change in fields(changes):
        value = getattr(changes, change.name)
        if value is None:
            continue
        if change.name in _URL_FIELDS:
            value = _check_url(errors, _URL_FIELDS[change.name], value)
        values[change.name] = value
    if errors:
        raise ValidationFailed(errors.items)
    with uow:
        editor = _by_name(uow, name)
        for key, value in values.items():
            setattr(editor, key, value)
        if changes.active is False or changes.authorized is False:
            now = clock.now()
            for token in uow.tokens.usable_for(editor.client_id, now):
                token.revoke(now)
        uow.commit()
        return _summary(editor)


def rotate_secret(uow: AbstractUnitOfWork, clock: Clock, name: str) -> EditorCredentials:
    """A new client secret; every token issued with the old one is revoked at once."""
    client_secret = new_secret()
    now = clock.now()
    with uow:
        editor = _by_name(uow, name)
        editor.client_secret_hash = hash_secret(client_secret)
        for token in uow.tokens.usable_for(editor.client_id, now):
            token.revoke(now)
        uow.commit()
        return EditorCredentials(editor.name, editor.client_id, client_secret, None)


def _by_name(uow: AbstractUnitOfWork, name: str) -> Editor:
    editor = uow.editors.get_by_name(name.strip())
    if editor is None:
        raise NotFound(f"No editor named {name!r}")
    return editor


def _check_url(errors: Messages, label: str, value: str | None) -> str | None:
    if value is None or value.strip() == "":
        return None
    value = value.strip()
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        errors.add(f"{label} must be an http or https URL")
        return None
    return value


def _summary(editor: Editor) -> EditorSummary:
    return EditorSummary(
        name=editor.name,
        client_id=editor.client_id,
        authorized=editor.authorized,
        active=editor.active,
        can_create_defense_markets=editor.can_create_defense_markets,
        webhook_url=editor.webhook_url,
        buyer_return_url=editor.buyer_return_url,
        candidate_return_url=editor.candidate_return_url,
    )
