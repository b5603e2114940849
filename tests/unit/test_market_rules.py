from datetime import UTC, datetime, timedelta

import pytest
from passemarche.domain.errors import FieldRejected, MarketAlreadyCompleted, ValidationFailed
from passemarche.domain.market import Market, parse_market_spec

from tests.support import market_payload

NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)


def messages_for(**overrides):
    with pytest.raises(ValidationFailed) as caught:
        parse_market_spec(market_payload(**overrides), NOW)
    return caught.value.messages


def test_a_complete_request_gives_a_spec():
    spec = parse_market_spec(market_payload(), NOW)
    assert spec.name == "Fourniture de matériel informatique"
    assert spec.deadline == datetime(2030, 12, 31, 23, 59, 59, tzinfo=UTC)
    assert spec.market_type_codes == ("supplies", "services")
    assert spec.lots == (("Lot 1 - Ordinateurs portables", None),)
    assert str(spec.buyer_siret) == "13002526500013"


def test_the_reference_blank_messages_come_all_at_once_in_field_order():
    assert messages_for(name="", deadline=None, market_type_codes=[]) == [
        "Name can't be blank",
        "Deadline can't be blank",
        "Market type codes can't be blank",
    ]


def test_whitespace_only_is_blank():
    assert messages_for(name="   ") == ["Name can't be blank"]


def test_lengths_are_limited_to_255_characters():
    assert messages_for(name="x" * 256, lot_name="y" * 256, provider_user_id="z" * 256) == [
        "Name is too long (maximum is 255 characters)",
        "Lot name is too long (maximum is 255 characters)",
        "Provider user id is too long (maximum is 255 characters)",
    ]
    assert parse_market_spec(market_payload(name="x" * 255), NOW).name == "x" * 255


@pytest.mark.parametrize(
    "value", ["31/12/2030", "tomorrow", "2030-13-01T00:00:00Z", 20301231, "2030-12-31"]
)
def test_a_deadline_must_be_an_iso_8601_datetime(value):
    assert messages_for(deadline=value) == ["Deadline must be a valid ISO 8601 datetime"]


def test_a_deadline_must_be_in_the_future():
    past = (NOW - timedelta(seconds=1)).isoformat()
    assert messages_for(deadline=past) == ["Deadline must be in the future"]
    assert messages_for(deadline=NOW.isoformat()) == ["Deadline must be in the future"]


def test_deadlines_with_an_offset_are_stored_in_utc():
    spec = parse_market_spec(market_payload(deadline="2030-12-31T23:59:59+01:00"), NOW)
    assert spec.deadline == datetime(2030, 12, 31, 22, 59, 59, tzinfo=UTC)


def test_defense_cannot_be_used_alone_but_may_join_another_type():
    assert messages_for(market_type_codes=["defense"]) == [
        "Market type codes defense cannot be used alone"
    ]
    spec = parse_market_spec(market_payload(market_type_codes=["works", "defense"]), NOW)
    assert spec.is_defense


def test_unknown_market_types_are_named():
    assert messages_for(market_type_codes=["supplies", "food", "toys"]) == [
        "Market type codes contains invalid values: food, toys"
    ]


def test_market_types_must_be_a_list_of_strings():
    assert messages_for(market_type_codes="supplies") == [
        "Market type codes must be an array of strings"
    ]


def test_an_invalid_siret_is_reported_alone_keyed_by_field():
    with pytest.raises(FieldRejected) as caught:
        parse_market_spec(market_payload(siret="12345678901234", name=""), NOW)
    assert caught.value.field == "siret"
    assert caught.value.message == "Le numéro de SIRET saisi est invalide ou non reconnu"


def test_a_missing_siret_is_a_blank_field_reported_last():
    assert messages_for(siret=None, name="") == ["Name can't be blank", "Siret can't be blank"]


def test_several_lots_with_cpv_codes_and_a_limit():
    spec = parse_market_spec(
        market_payload(
            lot_name=None,
            lots=[{"name": "Lot A", "cpv_code": "30213100-6"}, {"name": "Lot B"}],
            lot_limit=1,
        ),
        NOW,
    )
    assert spec.lots == (("Lot A", "30213100-6"), ("Lot B", None))
    assert spec.lot_limit == 1


def test_lot_rules():
    assert messages_for(lots=[{"name": "A"}]) == ["Lot name and lots cannot be used together"]
    assert messages_for(lot_name=None, lots=[{"name": ""}, {"name": "B", "cpv_code": "123"}]) == [
        "Lot 1 name can't be blank",
        "Lot 2 cpv code must match the format 12345678-9",
    ]
    assert messages_for(lot_name=None, lots="A") == ["Lots must be an array of objects"]
    assert messages_for(lot_name=None, lot_limit=1) == ["Lot limit requires lots"]
    assert messages_for(lot_name=None, lots=[{"name": "A"}], lot_limit=2) == [
        "Lot limit must be an integer between 1 and 1"
    ]
    assert messages_for(lot_limit=True) == ["Lot limit must be an integer between 1 and 1"]


def test_non_string_text_fields_are_refused_rather_than_coerced():
    assert messages_for(name=42) == ["Name must be a string"]


def test_finalising_twice_is_refused():
    market = Market.create(
        "VR-2026-AAAAAAAAAAAA", "editor", parse_market_spec(market_payload(), NOW), NOW
    )
    assert not market.is_open_to_candidates(NOW)
    market.finalise(["a", "b", "a"], NOW)
    assert market.field_keys == ["a", "b"]
    assert market.is_open_to_candidates(NOW)
    assert not market.is_open_to_candidates(market.deadline)
    with pytest.raises(MarketAlreadyCompleted):
        market.finalise([], NOW)
