"""Use cases on the in-memory unit of work: no database, no Flask."""

from datetime import timedelta

import pytest
from passemarche.adapters.memory import MemoryStore, MemoryUnitOfWork
from passemarche.domain.application import DocumentKind, document_storage_key
from passemarche.domain.editor import Operation
from passemarche.domain.errors import (
    ApplicationNotCompleted,
    DocumentNotAvailable,
    EditorAlreadyExists,
    FieldRejected,
    Forbidden,
    IdempotencyKeyReused,
    InsufficientScope,
    NotAuthenticated,
    NotFound,
    ValidationFailed,
)
from passemarche.domain.hashing import hash_secret
from passemarche.domain.idempotency import IdempotencyRequest
from passemarche.services import applications, editors, markets, tokens
from passemarche.services.editors import EditorChanges

from tests.support import FakeStorage, FixedClock, market_payload


@pytest.fixture
def store():
    return MemoryStore()


@pytest.fixture
def uow(store):
    return MemoryUnitOfWork(store)


@pytest.fixture
def clock():
    return FixedClock()


def new_editor(uow, clock, name="Plateforme A", **flags):
    return editors.create_editor(uow, clock, name, **flags)


def principal_for(uow, clock, credentials, scope="api_access"):
    tokens.record_issued_token(
        uow, clock, credentials.client_id, "token-" + credentials.name, scope
    )
    return tokens.authenticate(uow, clock, "token-" + credentials.name)


def completed_market(uow, clock, principal, **overrides):
    created = markets.create_market(uow, clock, principal, market_payload(**overrides))
    with uow:
        uow.markets.get(created.identifier).finalise(["siret"], clock.now())
        uow.commit()
    return created.identifier


class TestEditorsAndTokens:
    def test_secrets_are_stored_only_as_hashes(self, uow, store, clock):
        credentials = new_editor(uow, clock)
        editor = store.editors[credentials.client_id]
        assert editor.client_secret_hash == hash_secret(credentials.client_secret)
        assert credentials.client_secret not in repr(store)

    def test_names_are_unique(self, uow, clock):
        new_editor(uow, clock)
        with pytest.raises(EditorAlreadyExists):
            new_editor(uow, clock)

    def test_urls_must_be_http(self, uow, clock):
        with pytest.raises(ValidationFailed) as caught:
            new_editor(uow, clock, webhook_url="ftp://example.org")
        assert caught.value.messages == ["Webhook url must be an http or https URL"]

    def test_a_token_is_stored_hashed_and_authenticates_its_editor(self, uow, store, clock):
        credentials = new_editor(uow, clock)
        principal = principal_for(uow, clock, credentials)
        assert principal.client_id == credentials.client_id
        assert "token-Plateforme A" not in store.tokens
        assert hash_secret("token-Plateforme A") in store.tokens

    def test_a_new_token_revokes_the_previous_one_for_the_same_scope(self, uow, clock):
        credentials = new_editor(uow, clock)
        tokens.record_issued_token(uow, clock, credentials.client_id, "first", None)
        tokens.record_issued_token(uow, clock, credentials.client_id, "read", "api_read")
        tokens.record_issued_token(uow, clock, credentials.client_id, "second", "api_access")
        with pytest.raises(NotAuthenticated):
            tokens.authenticate(uow, clock, "first")
        assert tokens.authenticate(uow, clock, "second").scope == "api_access"
        assert tokens.authenticate(uow, clock, "read").scope == "api_read"

    def test_tokens_expire_after_a_day(self, uow, clock):
        credentials = new_editor(uow, clock)
        tokens.record_issued_token(uow, clock, credentials.client_id, "t", None)
        clock.advance(seconds=86399)
        tokens.authenticate(uow, clock, "t")
        clock.advance(seconds=1)
        with pytest.raises(NotAuthenticated):
            tokens.authenticate(uow, clock, "t")

    @pytest.mark.parametrize(
        "change", [EditorChanges(active=False), EditorChanges(authorized=False)]
    )
    def test_switching_an_editor_off_cuts_its_tokens_at_once(self, uow, clock, change):
        credentials = new_editor(uow, clock)
        principal_for(uow, clock, credentials)
        editors.update_editor(uow, clock, credentials.name, change)
        with pytest.raises(NotAuthenticated):
            tokens.authenticate(uow, clock, "token-Plateforme A")

    @pytest.mark.parametrize(
        ("off", "on"),
        [
            (EditorChanges(active=False), EditorChanges(active=True)),
            (EditorChanges(authorized=False), EditorChanges(authorized=True)),
        ],
    )
    def test_switching_an_editor_on_again_does_not_revive_its_old_tokens(self, uow, clock, off, on):
        credentials = new_editor(uow, clock)
        principal_for(uow, clock, credentials)
        editors.update_editor(uow, clock, credentials.name, off)
        editors.update_editor(uow, clock, credentials.name, on)
        with pytest.raises(NotAuthenticated):
            tokens.authenticate(uow, clock, "token-Plateforme A")

    def test_rotating_the_secret_revokes_tokens(self, uow, store, clock):
        credentials = new_editor(uow, clock)
        principal_for(uow, clock, credentials)
        rotated = editors.rotate_secret(uow, clock, credentials.name)
        assert store.editors[credentials.client_id].check_secret(rotated.client_secret)
        assert not store.editors[credentials.client_id].check_secret(credentials.client_secret)
        with pytest.raises(NotAuthenticated):
            tokens.authenticate(uow, clock, "token-Plateforme A")

    @pytest.mark.parametrize(
        "scope, allowed",
        [("api_access", {"read", "write"}), ("api_read", {"read"}), ("api_write", {"write"})],
    )
    def test_scopes(self, uow, clock, scope, allowed):
        principal = principal_for(uow, clock, new_editor(uow, clock), scope)
        for operation in Operation:
            if operation.value in allowed:
                principal.require(operation)
            else:
                with pytest.raises(InsufficientScope):
                    principal.require(operation)

    def test_missing_or_unknown_tokens_are_refused(self, uow, clock):
        for bearer in (None, "", "nope"):
            with pytest.raises(NotAuthenticated):
                tokens.authenticate(uow, clock, bearer)


class TestMarkets:
    def test_create_and_read_back(self, uow, store, clock):
        principal = principal_for(uow, clock, new_editor(uow, clock))
        created = markets.create_market(uow, clock, principal, market_payload())
        view = markets.get_market(uow, principal, created.identifier)
        assert view.status == "draft"
        assert view.lots[0].name == "Lot 1 - Ordinateurs portables"
        assert uow.commits >= 1 and created.identifier in store.markets

    def test_nothing_is_stored_when_validation_fails(self, uow, store, clock):
        principal = principal_for(uow, clock, new_editor(uow, clock))
        with pytest.raises(ValidationFailed):
            markets.create_market(uow, clock, principal, market_payload(name=""))
        with pytest.raises(FieldRejected):
            markets.create_market(uow, clock, principal, market_payload(siret="1"))
        assert store.markets == {}

    def test_defense_needs_the_editor_flag(self, uow, clock):
        plain = principal_for(uow, clock, new_editor(uow, clock))
        with pytest.raises(Forbidden) as caught:
            markets.create_market(
                uow, clock, plain, market_payload(market_type_codes=["works", "defense"])
            )
        assert caught.value.reasons == ["Defense markets require prior authorization"]
        allowed = principal_for(
            uow, clock, new_editor(uow, clock, "B", can_create_defense_markets=True)
        )
        markets.create_market(
            uow, clock, allowed, market_payload(market_type_codes=["works", "defense"])
        )

    def test_another_editors_market_does_not_exist_for_you(self, uow, clock):
        a = principal_for(uow, clock, new_editor(uow, clock, "A"))
        b = principal_for(uow, clock, new_editor(uow, clock, "B"))
        created = markets.create_market(uow, clock, a, market_payload())
        with pytest.raises(NotFound):
            markets.get_market(uow, b, created.identifier)

    def test_the_same_idempotency_key_replays_the_first_market(self, uow, store, clock):
        principal = principal_for(uow, clock, new_editor(uow, clock))
        key = IdempotencyRequest.for_payload("k1", "create_market", market_payload())
        first = markets.create_market(uow, clock, principal, market_payload(), key)
        again = markets.create_market(uow, clock, principal, market_payload(), key)
        assert (again.identifier, again.replayed) == (first.identifier, True)
        assert len(store.markets) == 1

    def test_an_idempotency_key_reused_with_another_body_is_refused(self, uow, store, clock):
        principal = principal_for(uow, clock, new_editor(uow, clock))
        markets.create_market(
            uow,
            clock,
            principal,
            market_payload(),
            IdempotencyRequest.for_payload("k1", "create_market", market_payload()),
        )
        other = market_payload(name="Autre")
        with pytest.raises(IdempotencyKeyReused):
            markets.create_market(
                uow,
                clock,
                principal,
                other,
                IdempotencyRequest.for_payload("k1", "create_market", other),
            )
        assert len(store.markets) == 1

    def test_idempotency_keys_expire_after_24_hours_and_are_per_editor(self, uow, store, clock):
        a = principal_for(uow, clock, new_editor(uow, clock, "A"))
        b = principal_for(uow, clock, new_editor(uow, clock, "B"))
        key = IdempotencyRequest.for_payload("k1", "create_market", market_payload())
        first = markets.create_market(uow, clock, a, market_payload(), key)
        assert not markets.create_market(uow, clock, b, market_payload(), key).replayed
        clock.advance(hours=24)
        later = markets.create_market(uow, clock, a, market_payload(), key)
        assert not later.replayed and later.identifier != first.identifier
        assert len(store.markets) == 3

    def test_a_concurrent_request_with_the_same_key_replays_instead_of_duplicating(
        self, store, clock
    ):
        principal = principal_for(
            MemoryUnitOfWork(store), clock, new_editor(MemoryUnitOfWork(store), clock)
        )
        key = IdempotencyRequest.for_payload("k1", "create_market", market_payload())
        racing = MemoryUnitOfWork(store)
        original_commit = racing.commit

        def commit_after_a_rival():
            # Another worker commits the same key between our read and our commit.
            markets.create_market(MemoryUnitOfWork(store), clock, principal, market_payload(), key)
            racing.commit = original_commit
            original_commit()

        racing.commit = commit_after_a_rival
        result = markets.create_market(racing, clock, principal, market_payload(), key)
        assert result.replayed
        assert len(store.markets) == 1


class TestApplications:
    def test_a_draft_or_closed_market_refuses_applications(self, uow, clock):
        principal = principal_for(uow, clock, new_editor(uow, clock))
        draft = markets.create_market(uow, clock, principal, market_payload()).identifier
        with pytest.raises(Forbidden):
            applications.create_application(uow, clock, principal, draft, {})
        market = completed_market(uow, clock, principal)
        applications.create_application(uow, clock, principal, market, {})
        clock.moment = clock.moment.replace(year=2031)
        with pytest.raises(Forbidden):
            applications.create_application(uow, clock, principal, market, {})

    def test_unknown_and_foreign_markets_are_not_found(self, uow, clock):
        a = principal_for(uow, clock, new_editor(uow, clock, "A"))
        b = principal_for(uow, clock, new_editor(uow, clock, "B"))
        market = completed_market(uow, clock, a)
        for who, identifier in ((a, "VR-2026-UNKNOWN00000"), (b, market)):
            with pytest.raises(NotFound):
                applications.create_application(uow, clock, who, identifier, {})

    def test_siret_rules(self, uow, clock):
        principal = principal_for(uow, clock, new_editor(uow, clock))
        market = completed_market(uow, clock, principal)
        with pytest.raises(ValidationFailed) as caught:
            applications.create_application(
                uow,
                clock,
                principal,
                market,
                {"siret": "12345678901234", "provider_user_id": "x" * 256},
            )
        assert caught.value.messages == [
            "Siret is invalid",
            "Provider user id is too long (maximum is 255 characters)",
        ]
        applications.create_application(uow, clock, principal, market, {"siret": "73282932000074"})
        with pytest.raises(ValidationFailed) as caught:
            applications.create_application(
                uow, clock, principal, market, {"siret": "73282932000074"}
            )
        assert caught.value.messages == ["Application already exists for this SIRET"]
        # Without a SIRET, as many as wanted: the candidate types it later.
        applications.create_application(uow, clock, principal, market, {})
        applications.create_application(uow, clock, principal, market, {})

    def test_downloads_follow_the_reference_conditions(self, uow, store, clock):
        storage = FakeStorage()
        a = principal_for(uow, clock, new_editor(uow, clock, "A"))
        b = principal_for(uow, clock, new_editor(uow, clock, "B"))
        market = completed_market(uow, clock, a)
        identifier = applications.create_application(uow, clock, a, market, {}).identifier
        kind = DocumentKind.ATTESTATION
        with pytest.raises(NotFound):
            applications.get_download(uow, storage, b, identifier, kind)
        with pytest.raises(ApplicationNotCompleted):
            applications.get_download(uow, storage, a, identifier, kind)
        with uow:
            application = uow.applications.get(identifier)
            application.submit(clock.now())
            uow.commit()
        with pytest.raises(DocumentNotAvailable) as caught:
            applications.get_download(uow, storage, a, identifier, kind)
        assert caught.value.message == "Attestation not available"
        with pytest.raises(DocumentNotAvailable) as caught:
            applications.get_download(uow, storage, a, identifier, DocumentKind.DOCUMENTS_PACKAGE)
        assert caught.value.message == "Documents package not available"
        storage.put(document_storage_key(kind, identifier), [b"%PDF-1.7"])
        found = applications.get_download(uow, storage, a, identifier, kind)
        assert found.filename == f"attestation_{identifier}.pdf"
        assert found.content_type == "application/pdf"
        assert found.stored.size == 8
        view = applications.get_application(uow, storage, a, identifier)
        assert view.attestation_available and not view.documents_package_available


def test_token_lifetime_is_a_day():
    from passemarche.domain.editor import TOKEN_LIFETIME

    assert TOKEN_LIFETIME == timedelta(days=1)
