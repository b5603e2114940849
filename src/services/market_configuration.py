"""The buyer's configuration of a market: the steps of the buyer pages, then finalisation.

Every step saves at once (coming back shows the choices); finalising snapshots the keys the
market requires — the catalogue's mandatory attributes for its types plus the buyer's optional
choice — so later catalogue changes never alter a finalised market, and emits `market.completed`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from passemarche.domain.catalogue import CatalogueSnapshot
from passemarche.domain.errors import Forbidden, MarketAlreadyCompleted, NotFound
from passemarche.domain.market import Market
from passemarche.services import webhooks
from passemarche.services.catalogue import catalogue_snapshot
from passemarche.services.ports import Clock, JobQueue
from passemarche.services.results import LotView
from passemarche.services.unit_of_work import AbstractUnitOfWork, ConflictError

DEADLINE_PASSED = "La date limite de candidature de ce marché est dépassée."


@dataclass(frozen=True)
class BuyerMarket:
    """What the buyer pages show of a market."""

    identifier: str
    name: str
    buyer_siret: str
    deadline: datetime
    market_type_codes: tuple[str, ...]
    lots: tuple[LotView, ...]
    lot_limit: int | None
    status: str
    optional_keys: tuple[str, ...]
    field_keys: tuple[str, ...]
    completed_at: datetime | None
    webhook_status: str | None
    editor_name: str
    editor_may_defense: bool
    buyer_return_url: str | None

    @property
    def is_completed(self) -> bool:
        return self.status == "completed"

    @property
    def is_defense(self) -> bool:
        return "defense" in self.market_type_codes


def buyer_market(uow: AbstractUnitOfWork, identifier: str) -> BuyerMarket:
    with uow:
        market = _market(uow, identifier)
        editor = uow.editors.get(market.editor_client_id)
        assert editor is not None
        return BuyerMarket(
            identifier=market.identifier,
            name=market.name,
            buyer_siret=str(market.buyer_siret),
            deadline=market.deadline,
            market_type_codes=tuple(market.market_type_codes),
            lots=tuple(LotView(lot.number, lot.name, lot.cpv_code) for lot in market.lots),
            lot_limit=market.lot_limit,
            status=market.status,
            optional_keys=tuple(market.optional_keys),
            field_keys=tuple(market.field_keys),
            completed_at=market.completed_at,
            webhook_status=market.webhook_status,
            editor_name=editor.name,
            editor_may_defense=editor.can_create_defense_markets,
            buyer_return_url=editor.buyer_return_url,
        )


def save_setup(uow: AbstractUnitOfWork, identifier: str, defense: bool) -> None:
    with uow:
        market = _market(uow, identifier)
        editor = uow.editors.get(market.editor_client_id)
        market.set_defense(defense, editor_may=bool(editor and editor.can_create_defense_markets))
        uow.commit()


def save_lot_limit(uow: AbstractUnitOfWork, identifier: str, limit: int | None) -> None:
    with uow:
        _market(uow, identifier).set_lot_limit(limit)
        uow.commit()


def save_optional_choice(
    uow: AbstractUnitOfWork, identifier: str, category_key: str, chosen: list[str]
) -> None:
    """The optional attributes ticked on one category's step (others keep their choice)."""
    catalogue = catalogue_snapshot(uow)
    with uow:
        market = _market(uow, identifier)
        offered = [
            a.key
            for a in catalogue.for_market(market.market_type_codes)
            if a.category_key == category_key and not a.mandatory
        ]
        market.choose_optional(offered, chosen)
        uow.commit()


def required_keys(
    catalogue: CatalogueSnapshot,
    market_types: tuple[str, ...] | list[str],
    optional: tuple[str, ...] | list[str],
) -> list[str]:
    """Mandatory keys for the types and the chosen optional ones still offered, in order."""
    chosen = set(optional)
    return [a.key for a in catalogue.for_market(market_types) if a.mandatory or a.key in chosen]


def finalise_configuration(
    uow: AbstractUnitOfWork, clock: Clock, jobs: JobQueue, identifier: str
) -> None:
    catalogue = catalogue_snapshot(uow)
    now = clock.now()
    with uow:
        market = uow.markets.get_for_update(identifier)
        if market is None:
            raise NotFound()
        if not market.is_completed and now >= market.deadline:
            raise Forbidden([DEADLINE_PASSED])
        market.finalise(
            required_keys(catalogue, market.market_type_codes, market.optional_keys), now
        )
        delivery_id = webhooks.add_market_completed(uow, market, now)
        try:
            uow.commit()
        except ConflictError as error:  # finalised at the same moment by another request
            raise MarketAlreadyCompleted() from error
    webhooks.enqueue_delivery(jobs, delivery_id)


def _market(uow: AbstractUnitOfWork, identifier: str) -> Market:
    market = uow.markets.get(identifier)
    if market is None:
        raise NotFound()
    return market
