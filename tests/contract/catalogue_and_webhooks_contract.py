"""The contract of the catalogue and webhook-delivery repositories, written once for every
storage adapter.

A test module binds it by providing a `uow_factory` fixture (a callable returning a fresh unit of
work on one shared, empty store) and subclassing `CatalogueAndWebhooksContract`; see
tests/integration/test_catalogue_webhook_repositories.py.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from passemarche.domain.catalogue import Attribute, Category, Subcategory
from passemarche.domain.webhook import WebhookDelivery

from tests.contract.repository_contract import an_editor

NOW = datetime(2026, 6, 15, 12, 0, 0, 123000, tzinfo=UTC)
PARIS = ZoneInfo("Europe/Paris")


def a_category(key: str, position: int) -> Category:
    return Category(key, f"Acheteur {key}", f"Candidat {key}", position)


def a_subcategory(key: str, category_key: str, position: int) -> Subcategory:
    return Subcategory(key, category_key, f"Acheteur {key}", f"Candidat {key}", position)


def an_attribute(
    key: str,
    position: int,
    category_key: str = "cat_a",
    subcategory_key: str = "sub_a",
    **fields: object,
) -> Attribute:
    values: dict[str, object] = {
        "key": key,
        "category_key": category_key,
        "subcategory_key": subcategory_key,
        "buyer_title": f"Titre acheteur {key} – « l'été »",
        "candidate_title": f"Titre candidat {key}",
        "input_type": "text",
        "mandatory": False,
        "market_types": ["services", "supplies"],
        "position": position,
    }
    values.update(fields)
    return Attribute(**values)  # type: ignore[arg-type]


def a_delivery(
    delivery_id: str,
    created_at: datetime = NOW,
    resource: str = "VR-2026-AAAAAAAAAAAA",
    status: str = "pending",
    **fields: object,
) -> WebhookDelivery:
    return WebhookDelivery(
        id=delivery_id,
        event="market.completed",
        editor_client_id="pm_a",
        resource_identifier=resource,
        payload=json.dumps({"event": "market.completed", "nom": "Marché « été »"}),
        created_at=created_at,
        status=status,
        **fields,  # type: ignore[arg-type]
    )


def is_utc(moment: datetime | None) -> bool:
    return moment is not None and moment.utcoffset() == timedelta(0)


class CatalogueAndWebhooksContract:
    # --- Catalogue ----------------------------------------------------------------------------

    @pytest.fixture
    def with_categories(self, uow_factory):
        """Two categories with a subcategory each, added in the reverse of their order."""
        with uow_factory() as uow:
            uow.catalogue.add_category(a_category("cat_b", 2))
            uow.catalogue.add_category(a_category("cat_a", 1))
            uow.catalogue.add_subcategory(a_subcategory("sub_b", "cat_b", 2))
            uow.catalogue.add_subcategory(a_subcategory("sub_a", "cat_a", 1))
            uow.commit()
        return uow_factory

    def test_an_empty_catalogue_has_an_empty_snapshot(self, uow_factory):
        with uow_factory() as uow:
            snapshot = uow.catalogue.snapshot()
            assert (
                list(snapshot.categories),
                list(snapshot.subcategories),
                list(snapshot.attributes),
            ) == ([], [], [])

    def test_the_snapshot_is_in_position_order_whatever_the_order_of_insertion(
        self, with_categories
    ):
        with with_categories() as uow:
            uow.catalogue.add_attribute(an_attribute("k_third", 30, "cat_b", "sub_b"))
            uow.catalogue.add_attribute(an_attribute("k_first", 10))
            uow.catalogue.add_attribute(an_attribute("k_second", 20, "cat_b", "sub_b"))
            uow.catalogue.add_category(a_category("cat_0", 0))
            uow.catalogue.add_subcategory(a_subcategory("sub_0", "cat_0", 0))
            uow.commit()
        with with_categories() as uow:
            snapshot = uow.catalogue.snapshot()
            assert [c.key for c in snapshot.categories] == ["cat_0", "cat_a", "cat_b"]
            assert [s.key for s in snapshot.subcategories] == ["sub_0", "sub_a", "sub_b"]
            assert [a.key for a in snapshot.attributes] == ["k_first", "k_second", "k_third"]

    def test_equal_positions_are_ordered_by_key(self, with_categories):
        with with_categories() as uow:
            for key in ("k_c", "k_a", "k_b"):
                uow.catalogue.add_attribute(an_attribute(key, 5))
            uow.commit()
        with with_categories() as uow:
            assert [a.key for a in uow.catalogue.snapshot().attributes] == ["k_a", "k_b", "k_c"]

    def test_categories_and_subcategories_round_trip(self, with_categories):
        with with_categories() as uow:
            snapshot = uow.catalogue.snapshot()
            category = snapshot.category("cat_b")
            assert (category.buyer_label, category.candidate_label, category.position) == (
                "Acheteur cat_b",
                "Candidat cat_b",
                2,
            )
            subcategory = snapshot.subcategory("sub_b")
            assert (
                subcategory.category_key,
                subcategory.buyer_label,
                subcategory.candidate_label,
                subcategory.position,
            ) == ("cat_b", "Acheteur sub_b", "Candidat sub_b", 2)
            category.buyer_label = "Nouveau libellé"
            category.position = 7
            subcategory.candidate_label = "Nouveau libellé candidat"
            uow.commit()
        with with_categories() as uow:
            snapshot = uow.catalogue.snapshot()
            assert (
                snapshot.category("cat_b").buyer_label,
                snapshot.category("cat_b").position,
            ) == (
                "Nouveau libellé",
                7,
            )
            assert snapshot.subcategory("sub_b").candidate_label == "Nouveau libellé candidat"
            assert [c.key for c in snapshot.categories] == ["cat_a", "cat_b"]

    def test_an_attribute_round_trips_with_every_field(self, with_categories):
        with with_categories() as uow:
            uow.catalogue.add_attribute(
                an_attribute(
                    "siret",
                    1,
                    input_type="file_upload",
                    mandatory=True,
                    market_types=["works", "defense"],
                    buyer_description="Description « acheteur »",
                    candidate_description="Description candidat",
                    source="insee",
                    source_field="siret",
                )
            )
            uow.catalogue.add_attribute(an_attribute("bare", 2))
            uow.commit()
        with with_categories() as uow:
            snapshot = uow.catalogue.snapshot()
            siret = snapshot.attribute("siret")
            assert (
                siret.category_key,
                siret.subcategory_key,
                siret.buyer_title,
                siret.candidate_title,
                siret.input_type,
                siret.mandatory,
                siret.market_types,
                siret.position,
                siret.buyer_description,
                siret.candidate_description,
                siret.source,
                siret.source_field,
                siret.archived_at,
            ) == (
                "cat_a",
                "sub_a",
                "Titre acheteur siret – « l'été »",
                "Titre candidat siret",
                "file_upload",
                True,
                ["works", "defense"],
                1,
                "Description « acheteur »",
                "Description candidat",
                "insee",
                "siret",
                None,
            )
            assert siret.is_prefilled
            bare = snapshot.attribute("bare")
            assert (bare.mandatory, bare.source, bare.source_field, bare.buyer_description) == (
                False,
                None,
                None,
                "",
            )
            assert not bare.is_prefilled
            assert snapshot.attribute("nope") is None

    def test_an_updated_attribute_keeps_its_new_definition(self, with_categories):
        with with_categories() as uow:
            uow.catalogue.add_attribute(an_attribute("k1", 1))
            uow.commit()
        changed = an_attribute(
            "k1",
            9,
            "cat_b",
            "sub_b",
            buyer_title="Titre modifié",
            mandatory=True,
            market_types=["works"],
            source="dgfip",
        )
        with with_categories() as uow:
            uow.catalogue.snapshot().attribute("k1").take_definition_of(changed)
            uow.commit()
        with with_categories() as uow:
            stored = uow.catalogue.snapshot().attribute("k1")
            assert stored.same_definition(changed)
            assert (stored.category_key, stored.position, stored.market_types) == (
                "cat_b",
                9,
                ["works"],
            )

    def test_an_archived_attribute_is_kept_but_no_longer_offered_and_can_be_restored(
        self, with_categories
    ):
        with with_categories() as uow:
            uow.catalogue.add_attribute(an_attribute("kept", 1))
            uow.catalogue.add_attribute(an_attribute("gone", 2))
            uow.commit()
        with with_categories() as uow:
            uow.catalogue.snapshot().attribute("gone").archived_at = NOW
            uow.commit()
        with with_categories() as uow:
            snapshot = uow.catalogue.snapshot()
            assert [a.key for a in snapshot.attributes] == ["kept", "gone"]
            gone = snapshot.attribute("gone")
            assert gone.archived_at == NOW and is_utc(gone.archived_at)
            assert [a.key for a in snapshot.for_market(["services"])] == ["kept"]
            gone.take_definition_of(an_attribute("gone", 2))
            uow.commit()
        with with_categories() as uow:
            snapshot = uow.catalogue.snapshot()
            assert snapshot.attribute("gone").archived_at is None
            assert [a.key for a in snapshot.for_market(["services"])] == ["kept", "gone"]

    def test_catalogue_changes_are_not_kept_without_commit(self, with_categories):
        with with_categories() as uow:
            uow.catalogue.add_attribute(an_attribute("k1", 1))
        with with_categories() as uow:
            assert uow.catalogue.snapshot().attribute("k1") is None

    # --- Webhook deliveries -------------------------------------------------------------------

    @pytest.fixture
    def with_editor(self, uow_factory):
        with uow_factory() as uow:
            uow.editors.add(an_editor())
            uow.commit()
        return uow_factory

    def test_a_delivery_round_trips_with_every_field(self, with_editor):
        delivered_at = NOW + timedelta(minutes=1, microseconds=456000)
        next_attempt_at = NOW + timedelta(seconds=30, microseconds=789000)
        with with_editor() as uow:
            uow.webhooks.add(
                a_delivery(
                    "msg_full",
                    status="delivered",
                    attempts=3,
                    last_status_code=204,
                    last_error="Connection reset – « réessai »",
                    next_attempt_at=next_attempt_at,
                    delivered_at=delivered_at,
                )
            )
            uow.webhooks.add(a_delivery("msg_bare"))
            uow.commit()
        with with_editor() as uow:
            full = uow.webhooks.get("msg_full")
            assert (
                full.id,
                full.event,
                full.editor_client_id,
                full.resource_identifier,
                json.loads(full.payload),
                full.status,
                full.attempts,
                full.last_status_code,
                full.last_error,
            ) == (
                "msg_full",
                "market.completed",
                "pm_a",
                "VR-2026-AAAAAAAAAAAA",
                {"event": "market.completed", "nom": "Marché « été »"},
                "delivered",
                3,
                204,
                "Connection reset – « réessai »",
            )
            assert (full.created_at, full.next_attempt_at, full.delivered_at) == (
                NOW,
                next_attempt_at,
                delivered_at,
            )
            assert all(
                is_utc(m) for m in (full.created_at, full.next_attempt_at, full.delivered_at)
            )
            bare = uow.webhooks.get("msg_bare")
            assert (
                bare.status,
                bare.attempts,
                bare.last_status_code,
                bare.last_error,
                bare.next_attempt_at,
                bare.delivered_at,
            ) == ("pending", 0, None, None, None, None)
            assert uow.webhooks.get("msg_nope") is None

    def test_the_exact_payload_bytes_are_kept(self, with_editor):
        """The body is signed: not one byte may change between attempts."""
        payload = '{"b":1, "a":"é\\u00e9",  "c":[1,2]}'
        with with_editor() as uow:
            delivery = a_delivery("msg_bytes")
            delivery.payload = payload
            uow.webhooks.add(delivery)
            uow.commit()
        with with_editor() as uow:
            assert uow.webhooks.get("msg_bytes").body == payload.encode("utf-8")

    def test_a_datetime_given_in_another_zone_comes_back_as_the_same_instant_in_utc(
        self, with_editor
    ):
        in_paris = datetime(2026, 6, 15, 14, 0, 0, 250000, tzinfo=PARIS)  # 12:00:00.25 UTC
        with with_editor() as uow:
            uow.webhooks.add(a_delivery("msg_paris", created_at=in_paris, next_attempt_at=in_paris))
            uow.commit()
        with with_editor() as uow:
            delivery = uow.webhooks.get("msg_paris")
            expected = datetime(2026, 6, 15, 12, 0, 0, 250000, tzinfo=UTC)
            assert delivery.created_at == expected and is_utc(delivery.created_at)
            assert delivery.next_attempt_at == expected and is_utc(delivery.next_attempt_at)

    def test_changes_to_a_loaded_delivery_are_saved_on_commit(self, with_editor):
        with with_editor() as uow:
            uow.webhooks.add(a_delivery("msg_1"))
            uow.commit()
        later = NOW + timedelta(hours=2)
        with with_editor() as uow:
            delivery = uow.webhooks.get("msg_1")
            assert delivery.start_attempt()
            delivery.attempts = 4
            delivery.status = "failed"
            delivery.last_status_code = 410
            delivery.last_error = "Gone"
            delivery.next_attempt_at = None
            delivery.delivered_at = later
            uow.commit()
        with with_editor() as uow:
            delivery = uow.webhooks.get("msg_1")
            assert (
                delivery.status,
                delivery.attempts,
                delivery.last_status_code,
                delivery.last_error,
                delivery.next_attempt_at,
                delivery.delivered_at,
            ) == ("failed", 4, 410, "Gone", None, later)

    def test_a_delivery_is_not_kept_without_commit(self, with_editor):
        with with_editor() as uow:
            uow.webhooks.add(a_delivery("msg_1"))
        with with_editor() as uow:
            assert uow.webhooks.get("msg_1") is None
            assert uow.webhooks.list() == []

    @pytest.fixture
    def five_deliveries(self, with_editor):
        """Added in no particular order; created a minute apart, `msg_4` last."""
        rows = [
            ("msg_2", 2, "VR-2026-AAAAAAAAAAAA", "failed"),
            ("msg_0", 0, "VR-2026-AAAAAAAAAAAA", "delivered"),
            ("msg_4", 4, "FT20260615BBBBBBBB", "failed"),
            ("msg_1", 1, "FT20260615BBBBBBBB", "failed"),
            ("msg_3", 3, "VR-2026-AAAAAAAAAAAA", "pending"),
        ]
        with with_editor() as uow:
            for delivery_id, minutes, resource, status in rows:
                uow.webhooks.add(
                    a_delivery(delivery_id, NOW + timedelta(minutes=minutes), resource, status)
                )
            uow.commit()
        return with_editor

    def test_deliveries_are_listed_newest_first(self, five_deliveries):
        with five_deliveries() as uow:
            assert [d.id for d in uow.webhooks.list()] == [
                "msg_4",
                "msg_3",
                "msg_2",
                "msg_1",
                "msg_0",
            ]

    def test_failed_only_lists_the_failed_ones_newest_first(self, five_deliveries):
        with five_deliveries() as uow:
            assert [d.id for d in uow.webhooks.list(failed_only=True)] == [
                "msg_4",
                "msg_2",
                "msg_1",
            ]

    def test_the_limit_keeps_the_newest(self, five_deliveries):
        with five_deliveries() as uow:
            assert [d.id for d in uow.webhooks.list(limit=2)] == ["msg_4", "msg_3"]
            assert [d.id for d in uow.webhooks.list(failed_only=True, limit=2)] == [
                "msg_4",
                "msg_2",
            ]
            assert [d.id for d in uow.webhooks.list(limit=1)] == ["msg_4"]
            assert len(uow.webhooks.list(limit=100)) == 5

    def test_the_latest_delivery_of_a_resource(self, five_deliveries):
        with five_deliveries() as uow:
            assert uow.webhooks.latest_for("VR-2026-AAAAAAAAAAAA").id == "msg_3"
            assert uow.webhooks.latest_for("FT20260615BBBBBBBB").id == "msg_4"
            assert uow.webhooks.latest_for("VR-2026-ZZZZZZZZZZZZ") is None

    def test_a_newer_delivery_becomes_the_latest(self, five_deliveries):
        with five_deliveries() as uow:
            uow.webhooks.add(a_delivery("msg_5", NOW + timedelta(minutes=5)))
            uow.commit()
        with five_deliveries() as uow:
            assert uow.webhooks.latest_for("VR-2026-AAAAAAAAAAAA").id == "msg_5"
            assert uow.webhooks.list(limit=1)[0].id == "msg_5"
