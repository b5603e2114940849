"""The repository contract: what every storage adapter must do, written once.

A test module binds it to adapters by providing a `uow_factory` fixture (a callable returning a
fresh unit of work on one shared, empty store) and subclassing `RepositoryContract`. See
tests/integration/test_repository_contract.py and the README section "Adding a storage adapter".
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from passemarche.adapters.memory import MemoryUnitOfWork
from passemarche.domain.application import Application
from passemarche.domain.editor import AccessToken, Editor
from passemarche.domain.idempotency import IdempotencyRecord
from passemarche.domain.market import Lot, Market
from passemarche.domain.siret import Siret
from passemarche.services.unit_of_work import ConflictError

NOW = datetime(2026, 6, 15, 12, 0, 0, 123000, tzinfo=UTC)


def an_editor(client_id: str = "pm_a", name: str = "Plateforme A") -> Editor:
    return Editor(
        client_id=client_id,
        name=name,
        client_secret_hash="h" * 64,
        created_at=NOW,
        webhook_url="https://example.org/hook",
        webhook_secret="whsec",
    )


def a_market(identifier: str = "VR-2026-AAAAAAAAAAAA", client_id: str = "pm_a") -> Market:
    return Market(
        identifier=identifier,
        editor_client_id=client_id,
        name="Fourniture de matériel informatique – lot « portables »",
        buyer_siret=Siret("13002526500013"),
        deadline=NOW + timedelta(days=30),
        market_type_codes=["supplies", "defense"],
        created_at=NOW,
        lots=[Lot(1, "Lot A", "30213100-6"), Lot(2, "Lot B")],
        lot_limit=1,
        provider_user_id="user-42",
    )


def an_application(identifier: str, siret: str | None = "73282932000074") -> Application:
    return Application(
        identifier=identifier,
        market_identifier="VR-2026-AAAAAAAAAAAA",
        editor_client_id="pm_a",
        created_at=NOW,
        siret=Siret(siret) if siret else None,
    )


class RepositoryContract:
    @pytest.fixture
    def seeded(self, uow_factory):
        with uow_factory() as uow:
            uow.editors.add(an_editor())
            uow.markets.add(a_market())
            uow.commit()
        return uow_factory

    def test_an_editor_round_trips(self, uow_factory):
        with uow_factory() as uow:
            uow.editors.add(an_editor())
            uow.commit()
        with uow_factory() as uow:
            editor = uow.editors.get("pm_a")
            assert editor is not None and editor.name == "Plateforme A"
            assert editor.created_at == NOW
            assert (editor.authorized, editor.active, editor.can_create_defense_markets) == (
                True,
                True,
                False,
            )
            assert uow.editors.get_by_name("Plateforme A").client_id == "pm_a"
            assert uow.editors.get("nobody") is None
            assert uow.editors.get_by_name("nobody") is None

    def test_editors_list_by_name(self, uow_factory):
        with uow_factory() as uow:
            uow.editors.add(an_editor("pm_b", "Zeta"))
            uow.editors.add(an_editor("pm_a", "Alpha"))
            uow.commit()
        with uow_factory() as uow:
            assert [e.name for e in uow.editors.list()] == ["Alpha", "Zeta"]

    def test_editor_names_are_unique(self, uow_factory):
        with uow_factory() as uow:
            uow.editors.add(an_editor("pm_a", "Same"))
            uow.commit()
        with uow_factory() as uow:
            uow.editors.add(an_editor("pm_b", "Same"))
            with pytest.raises(ConflictError):
                uow.commit()

    def test_nothing_is_kept_without_commit(self, uow_factory):
        with uow_factory() as uow:
            uow.editors.add(an_editor())
        with uow_factory() as uow:
            assert uow.editors.get("pm_a") is None

    def test_changes_to_a_loaded_entity_are_saved_on_commit(self, seeded):
        with seeded() as uow:
            uow.markets.get("VR-2026-AAAAAAAAAAAA").finalise(["siret", "ca"], NOW)
            uow.commit()
        with seeded() as uow:
            market = uow.markets.get("VR-2026-AAAAAAAAAAAA")
            assert market.status == "completed"
            assert market.field_keys == ["siret", "ca"]
            assert market.completed_at == NOW

    def test_a_market_round_trips_with_its_lots_and_value_objects(self, seeded):
        with seeded() as uow:
            market = uow.markets.get("VR-2026-AAAAAAAAAAAA")
            assert market.name == "Fourniture de matériel informatique – lot « portables »"
            assert market.buyer_siret == Siret("13002526500013")
            assert market.deadline == NOW + timedelta(days=30)
            assert market.deadline.tzinfo is not None
            assert market.market_type_codes == ["supplies", "defense"]
            assert [(lot.number, lot.name, lot.cpv_code) for lot in market.lots] == [
                (1, "Lot A", "30213100-6"),
                (2, "Lot B", None),
            ]
            assert (market.lot_limit, market.provider_user_id, market.status) == (
                1,
                "user-42",
                "draft",
            )
            assert uow.markets.get("VR-2026-ZZZZZZZZZZZZ") is None

    def test_the_buyer_name_is_recorded_without_conflicting_with_the_buyer(self, seeded):
        with seeded() as uow:
            assert uow.markets.get("VR-2026-AAAAAAAAAAAA").buyer_name is None
        with seeded() as buyer:
            # Loaded as the buyer's pages load it (no row lock: `get_for_update` would make the
            # lookup below wait for this transaction, which runs in the same thread).
            market = buyer.markets.get("VR-2026-AAAAAAAAAAAA")
            with seeded() as lookup:  # the background lookup, meanwhile
                lookup.markets.record_buyer_name("VR-2026-AAAAAAAAAAAA", "DINUM")
                lookup.commit()
            market.finalise(["siret"], NOW)
            buyer.commit()  # no conflict
        with seeded() as uow:
            market = uow.markets.get("VR-2026-AAAAAAAAAAAA")
            assert market.status == "completed"
            if not isinstance(uow, MemoryUnitOfWork):  # the fake merges whole rows
                assert market.buyer_name == "DINUM"

    def test_tokens_round_trip_and_usable_ones_are_listed(self, seeded):
        with seeded() as uow:
            uow.tokens.add(AccessToken("h1", "pm_a", "api_access", NOW, NOW + timedelta(days=1)))
            uow.tokens.add(AccessToken("h2", "pm_a", "api_read", NOW, NOW + timedelta(days=1), NOW))
            uow.tokens.add(
                AccessToken(
                    "h3", "pm_a", "api_read", NOW - timedelta(days=2), NOW - timedelta(days=1)
                )
            )
            uow.commit()
        with seeded() as uow:
            assert [t.token_hash for t in uow.tokens.usable_for("pm_a", NOW)] == ["h1"]
            uow.tokens.get("h1").revoke(NOW)
            uow.commit()
        with seeded() as uow:
            assert uow.tokens.usable_for("pm_a", NOW) == []
            token, editor = uow.tokens.get_with_editor("h1")
            assert (token.token_hash, editor.client_id, editor.name) == (
                "h1",
                "pm_a",
                "Plateforme A",
            )
            assert uow.tokens.get_with_editor("nope") is None
            assert uow.tokens.get("h1").revoked_at == NOW
            assert uow.tokens.get("nope") is None

    def test_applications_round_trip_and_are_unique_per_siret_and_market(self, seeded):
        with seeded() as uow:
            uow.applications.add(an_application("FT20260615AAAAAAAA"))
            uow.applications.add(an_application("FT20260615BBBBBBBB", siret=None))
            uow.applications.add(an_application("FT20260615CCCCCCCC", siret=None))
            uow.commit()
        with seeded() as uow:
            application = uow.applications.get("FT20260615AAAAAAAA")
            assert application.siret == Siret("73282932000074")
            assert uow.applications.get("FT20260615BBBBBBBB").siret is None
            assert uow.applications.exists_for_siret(
                "VR-2026-AAAAAAAAAAAA", Siret("73282932000074")
            )
            assert not uow.applications.exists_for_siret(
                "VR-2026-AAAAAAAAAAAA", Siret("13002526500013")
            )
            uow.applications.add(an_application("FT20260615DDDDDDDD"))
            with pytest.raises(ConflictError):
                uow.commit()

    def test_a_failed_commit_leaves_nothing_half_written(self, seeded):
        with seeded() as uow:
            uow.applications.add(an_application("FT20260615AAAAAAAA"))
            uow.commit()
        with seeded() as uow:
            uow.markets.add(a_market("VR-2026-BBBBBBBBBBBB"))
            uow.applications.add(an_application("FT20260615DDDDDDDD"))  # duplicate SIRET
            with pytest.raises(ConflictError):
                uow.commit()
        with seeded() as uow:
            assert uow.markets.get("VR-2026-BBBBBBBBBBBB") is None

    def test_idempotency_records_round_trip_and_the_key_is_unique_per_editor(self, seeded):
        record = IdempotencyRecord("pm_a", "key-1", "f" * 64, "VR-2026-AAAAAAAAAAAA", NOW)
        with seeded() as uow:
            uow.idempotency.add(record)
            uow.commit()
        with seeded() as uow:
            found = uow.idempotency.get("pm_a", "key-1")
            assert (found.fingerprint, found.resource_identifier, found.created_at) == (
                "f" * 64,
                "VR-2026-AAAAAAAAAAAA",
                NOW,
            )
            assert uow.idempotency.get("pm_a", "key-2") is None
        racing = seeded()
        with racing as uow:
            assert uow.idempotency.get("pm_a", "key-9") is None
            with seeded() as other:
                other.idempotency.add(IdempotencyRecord("pm_a", "key-9", "1" * 64, "X", NOW))
                other.commit()
            uow.idempotency.add(IdempotencyRecord("pm_a", "key-9", "2" * 64, "Y", NOW))
            with pytest.raises(ConflictError):
                uow.commit()

    def test_an_expired_record_can_be_replaced(self, seeded):
        with seeded() as uow:
            uow.idempotency.add(IdempotencyRecord("pm_a", "k", "a" * 64, "old", NOW))
            uow.commit()
        with seeded() as uow:
            uow.idempotency.remove(uow.idempotency.get("pm_a", "k"))
            uow.idempotency.add(IdempotencyRecord("pm_a", "k", "b" * 64, "new", NOW))
            uow.commit()
        with seeded() as uow:
            assert uow.idempotency.get("pm_a", "k").resource_identifier == "new"

    def test_ping_answers(self, uow_factory):
        uow_factory().ping()
