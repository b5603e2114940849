"""The buyer's configuration steps and finalisation, on fakes."""

import pytest
from passemarche.adapters.catalogue_csv import parse_catalogue
from passemarche.adapters.memory import MemoryStore, MemoryUnitOfWork
from passemarche.domain.errors import Forbidden, MarketAlreadyCompleted, ValidationFailed
from passemarche.domain.webhook import WebhookEvent
from passemarche.services import editors, markets, tokens
from passemarche.services import market_configuration as configuration
from passemarche.services.catalogue import load_catalogue

from tests.support import FixedClock, RecordingJobQueue, market_payload
from tests.unit.test_catalogue import HEADER, row


@pytest.fixture
def world():
    store, clock = MemoryStore(), FixedClock()
    uow = lambda: MemoryUnitOfWork(store)  # noqa: E731
    text = (
        HEADER
        + row("cat_a_mandatory", mandatory="oui")
        + row("cat_a_optional_1", mandatory="non")
        + row("cat_a_optional_2", mandatory="non")
        + row("defence_only", mandatory="non", types=("non", "non", "non", "oui"))
    ).replace(",cat,sub,", ",cat,sub,")
    parsed = parse_catalogue(text)
    load_catalogue(uow(), clock, parsed.categories, parsed.subcategories, parsed.attributes)
    return store, clock, uow


def create_market(world, defense_editor=False, **fields):
    store, clock, uow = world
    creds = editors.create_editor(
        uow(), clock, f"E{len(store.editors)}", can_create_defense_markets=defense_editor
    )
    tokens.record_issued_token(uow(), clock, creds.client_id, "t" + creds.client_id, None)
    principal = tokens.authenticate(uow(), clock, "t" + creds.client_id)
    return markets.create_market(uow(), clock, principal, market_payload(**fields)).identifier


def test_choices_are_kept_per_category_and_finalising_snapshots_them(world):
    store, clock, uow = world
    identifier = create_market(world)
    configuration.save_optional_choice(
        uow(), identifier, "cat", ["cat_a_optional_2", "not_offered"]
    )
    assert configuration.buyer_market(uow(), identifier).optional_keys == ("cat_a_optional_2",)
    jobs = RecordingJobQueue()
    configuration.finalise_configuration(uow(), clock, jobs, identifier)
    market = store.markets[identifier]
    assert market.status == "completed"
    assert market.field_keys == ["cat_a_mandatory", "cat_a_optional_2"]
    assert market.webhook_status == "pending"
    (delivery,) = store.webhooks.values()
    assert delivery.event == WebhookEvent.MARKET_COMPLETED.value
    assert jobs.calls == [("deliver_webhook", (delivery.id,), None)]


def test_the_webhook_payload_follows_the_published_shape(world):
    import json

    store, clock, uow = world
    identifier = create_market(world)
    configuration.finalise_configuration(uow(), clock, RecordingJobQueue(), identifier)
    payload = json.loads(next(iter(store.webhooks.values())).payload)
    assert payload == {
        "event": "market.completed",
        "timestamp": "2026-06-15T12:00:00.000Z",
        "market": {
            "identifier": identifier,
            "name": "Fourniture de matériel informatique",
            "lots": [{"name": "Lot 1 - Ordinateurs portables"}],
            "deadline": "2030-12-31T23:59:59.000Z",
            "market_type_codes": ["supplies", "services"],
            "completed_at": "2026-06-15T12:00:00.000Z",
            "field_keys": ["cat_a_mandatory"],
        },
    }


def test_a_finalised_market_cannot_change(world):
    store, clock, uow = world
    identifier = create_market(world)
    configuration.finalise_configuration(uow(), clock, RecordingJobQueue(), identifier)
    for step in (
        lambda: configuration.save_optional_choice(uow(), identifier, "cat", []),
        lambda: configuration.save_lot_limit(uow(), identifier, 1),
        lambda: configuration.save_setup(uow(), identifier, False),
        lambda: configuration.finalise_configuration(uow(), clock, RecordingJobQueue(), identifier),
    ):
        with pytest.raises(MarketAlreadyCompleted):
            step()
    assert len(store.webhooks) == 1


def test_the_defence_tick_needs_the_editor_flag_and_brings_defence_attributes(world):
    store, clock, uow = world
    plain = create_market(world)
    with pytest.raises(Forbidden):
        configuration.save_setup(uow(), plain, True)
    allowed = create_market(world, defense_editor=True)
    configuration.save_setup(uow(), allowed, True)
    assert configuration.buyer_market(uow(), allowed).is_defense
    configuration.save_optional_choice(uow(), allowed, "cat", ["defence_only"])
    configuration.finalise_configuration(uow(), clock, RecordingJobQueue(), allowed)
    assert "defence_only" in store.markets[allowed].field_keys


def test_the_lot_limit_is_between_one_and_the_number_of_lots(world):
    store, clock, uow = world
    identifier = create_market(world, lot_name=None, lots=[{"name": "A"}, {"name": "B"}])
    configuration.save_lot_limit(uow(), identifier, 2)
    assert store.markets[identifier].lot_limit == 2
    with pytest.raises(ValidationFailed):
        configuration.save_lot_limit(uow(), identifier, 3)
    configuration.save_lot_limit(uow(), identifier, None)
    assert store.markets[identifier].lot_limit is None
