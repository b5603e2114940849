"""Use cases on markets: creation by an editor and reading it back."""

from __future__ import annotations

from collections.abc import Mapping

from passemarche.domain.errors import Forbidden, NotFound
from passemarche.domain.idempotency import IdempotencyRequest
from passemarche.domain.identifiers import MARKET_IDENTIFIER, new_market_identifier
from passemarche.domain.market import Market, parse_market_spec
from passemarche.services.idempotency import create_once
from passemarche.services.ports import Clock
from passemarche.services.results import Created, LotView, MarketView
from passemarche.services.tokens import Principal
from passemarche.services.unit_of_work import AbstractUnitOfWork, ConflictError

DEFENSE_NOT_ALLOWED = "Defense markets require prior authorization"


def create_market(
    uow: AbstractUnitOfWork,
    clock: Clock,
    principal: Principal,
    payload: Mapping[str, object],
    idempotency: IdempotencyRequest | None = None,
) -> Created:
    now = clock.now()

    def create() -> str:
        spec = parse_market_spec(payload, now)
        if spec.is_defense and not principal.can_create_defense_markets:
            raise Forbidden([DEFENSE_NOT_ALLOWED])
        # 36^12 identifiers a year: a collision would only fail this request on the primary key.
        identifier = new_market_identifier(now)
        uow.markets.add(Market.create(identifier, principal.client_id, spec, now))
        return identifier

    return create_once(uow, now, principal.client_id, idempotency, create, ConflictError)


def get_market(uow: AbstractUnitOfWork, principal: Principal, identifier: str) -> MarketView:
    if not MARKET_IDENTIFIER.match(identifier):
        raise NotFound()
    with uow:
        market = uow.markets.get(identifier)
        if market is None or not market.belongs_to(principal.client_id):
            raise NotFound()
        return MarketView(
            identifier=market.identifier,
            name=market.name,
            buyer_siret=str(market.buyer_siret),
            status=market.status,
            deadline=market.deadline,
            market_type_codes=tuple(market.market_type_codes),
            lots=tuple(LotView(lot.number, lot.name, lot.cpv_code) for lot in market.lots),
            lot_limit=market.lot_limit,
            field_keys=tuple(market.field_keys),
            provider_user_id=market.provider_user_id,
            created_at=market.created_at,
            completed_at=market.completed_at,
            webhook_status=market.webhook_status,
        )
