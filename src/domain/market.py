"""Markets: what a buyer publishes, the rules its creation obeys, and its life cycle."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from passemarche.domain.errors import (
    FieldRejected,
    Forbidden,
    InvalidSiret,
    MarketAlreadyCompleted,
    ValidationFailed,
)
from passemarche.domain.siret import Siret
from passemarche.domain.validation import Messages, is_blank, parse_iso_datetime


class MarketType(StrEnum):
    SUPPLIES = "supplies"
    SERVICES = "services"
    WORKS = "works"
    DEFENSE = "defense"


class MarketStatus(StrEnum):
    DRAFT = "draft"
    COMPLETED = "completed"


CPV_CODE = re.compile(r"^\d{8}-\d$")
MAX_LOTS = 100
MARKET_TYPE_CODES = tuple(t.value for t in MarketType)
# How people read them, on the pages and in the attestations.
MARKET_TYPE_LABELS = {
    MarketType.SUPPLIES.value: "Fournitures",
    MarketType.SERVICES.value: "Services",
    MarketType.WORKS.value: "Travaux",
    MarketType.DEFENSE.value: "Défense ou sécurité",
}


@dataclass(eq=False)
class Lot:
    number: int
    name: str
    cpv_code: str | None = None


@dataclass(frozen=True)
class MarketSpec:
    """A validated request to create a market."""

    name: str
    buyer_siret: Siret
    deadline: datetime
    market_type_codes: tuple[str, ...]
    lots: tuple[tuple[str, str | None], ...] = ()
    lot_limit: int | None = None
    provider_user_id: str | None = None

    @property
    def is_defense(self) -> bool:
        return MarketType.DEFENSE.value in self.market_type_codes


@dataclass(eq=False)
class Market:
    identifier: str
    editor_client_id: str
    name: str
    buyer_siret: Siret
    deadline: datetime
    market_type_codes: list[str]
    created_at: datetime
    lots: list[Lot] = field(default_factory=list)
    lot_limit: int | None = None
    provider_user_id: str | None = None
    status: str = MarketStatus.DRAFT.value
    field_keys: list[str] = field(default_factory=list)
    completed_at: datetime | None = None
    webhook_status: str | None = None
    # The buyer's choice of optional attributes while configuring; finalising snapshots it.
    optional_keys: list[str] = field(default_factory=list)
    buyer_name: str | None = None  # looked up from the buyer's SIRET after creation (INSEE)

    @classmethod
    def create(
        cls, identifier: str, editor_client_id: str, spec: MarketSpec, now: datetime
    ) -> Market:
        return cls(
            identifier=identifier,
            editor_client_id=editor_client_id,
            name=spec.name,
            buyer_siret=spec.buyer_siret,
            deadline=spec.deadline,
            market_type_codes=list(spec.market_type_codes),
            lots=[Lot(number=i, name=n, cpv_code=c) for i, (n, c) in enumerate(spec.lots, start=1)],
            lot_limit=spec.lot_limit,
            provider_user_id=spec.provider_user_id,
            created_at=now,
        )

    def belongs_to(self, client_id: str) -> bool:
        return self.editor_client_id == client_id

    @property
    def is_completed(self) -> bool:
        return self.status == MarketStatus.COMPLETED.value

    def is_open_to_candidates(self, now: datetime) -> bool:
        """Candidates may apply once the buyer has finalised it, until the deadline."""
        return self.is_completed and now < self.deadline

    def ensure_draft(self) -> None:
        if self.is_completed:
            raise MarketAlreadyCompleted()

    @property
    def is_defense(self) -> bool:
        return MarketType.DEFENSE.value in self.market_type_codes

    def set_defense(self, wanted: bool, editor_may: bool) -> None:
        """The buyer's "défense ou sécurité" tick, offered only when the editor may."""
        self.ensure_draft()
        if wanted == self.is_defense:
            return
        if not editor_may:
            raise Forbidden(["Defense markets require prior authorization"])
        if wanted:
            self.market_type_codes = [*self.market_type_codes, MarketType.DEFENSE.value]
        else:
            self.market_type_codes = [c for c in self.market_type_codes if c != "defense"]

    def set_lot_limit(self, limit: int | None) -> None:
        self.ensure_draft()
        if limit is not None and not (self.lots and 1 <= limit <= len(self.lots)):
            raise ValidationFailed([f"Lot limit must be an integer between 1 and {len(self.lots)}"])
        self.lot_limit = limit

    def choose_optional(self, offered: list[str], chosen: list[str]) -> None:
        """Replace the choice among `offered` (one step's optional attributes) by `chosen`."""
        self.ensure_draft()
        kept = [key for key in self.optional_keys if key not in offered]
        self.optional_keys = kept + [key for key in offered if key in set(chosen)]

    def finalise(self, field_keys: list[str], now: datetime) -> None:
        if self.is_completed:
            raise MarketAlreadyCompleted()
        self.field_keys = list(dict.fromkeys(field_keys))
        self.status = MarketStatus.COMPLETED.value
        self.completed_at = now


def parse_market_spec(raw: Mapping[str, object], now: datetime) -> MarketSpec:
    """Validate an editor's `public_market` object.

    A present but invalid SIRET is reported alone, keyed by field (the reference's object form);
    every other problem is reported at once, in field order.
    """
    siret_value = raw.get("siret")
    if not is_blank(siret_value):
        try:
            buyer_siret: Siret | None = Siret(siret_value)
        except InvalidSiret as error:
            raise FieldRejected("siret", error.message) from error
    else:
        buyer_siret = None

    errors = Messages()
    name = errors.required_string("Name", raw.get("name"))
    deadline = _parse_deadline(errors, raw.get("deadline"), now)
    codes = _parse_market_types(errors, raw.get("market_type_codes"))
    lots, lot_limit = _parse_lots(errors, raw)
    provider_user_id = errors.optional_string("Provider user id", raw.get("provider_user_id"))
    if buyer_siret is None:
        errors.add("Siret can't be blank")
    if errors:
        raise ValidationFailed(errors.items)
    assert name is not None and deadline is not None and codes is not None
    assert buyer_siret is not None
    return MarketSpec(
        name=name,
        buyer_siret=buyer_siret,
        deadline=deadline,
        market_type_codes=codes,
        lots=lots,
        lot_limit=lot_limit,
        provider_user_id=provider_user_id,
    )


def _parse_deadline(errors: Messages, value: object, now: datetime) -> datetime | None:
    if is_blank(value):
        errors.add("Deadline can't be blank")
        return None
    deadline = parse_iso_datetime(value)
    if deadline is None:
        errors.add("Deadline must be a valid ISO 8601 datetime")
        return None
    if deadline <= now:
        errors.add("Deadline must be in the future")
        return None
    return deadline


def _parse_market_types(errors: Messages, value: object) -> tuple[str, ...] | None:
    if is_blank(value):
        errors.add("Market type codes can't be blank")
        return None
    if not isinstance(value, list) or not all(isinstance(code, str) for code in value):
        errors.add("Market type codes must be an array of strings")
        return None
    codes = tuple(dict.fromkeys(code.strip() for code in value))
    invalid = [code for code in codes if code not in MARKET_TYPE_CODES]
    if invalid:
        errors.add(f"Market type codes contains invalid values: {', '.join(invalid)}")
        return None
    if codes == (MarketType.DEFENSE.value,):
        errors.add("Market type codes defense cannot be used alone")
        return None
    return codes


def _parse_lots(
    errors: Messages, raw: Mapping[str, object]
) -> tuple[tuple[tuple[str, str | None], ...], int | None]:
    lot_name = errors.optional_string("Lot name", raw.get("lot_name"))
    raw_lots = raw.get("lots")
    lots: list[tuple[str, str | None]] = []
    if lot_name is not None and not is_blank(raw_lots):
        errors.add("Lot name and lots cannot be used together")
        return (), None
    if lot_name is not None:
        lots.append((lot_name, None))
    elif not is_blank(raw_lots):
        if not isinstance(raw_lots, list) or not all(isinstance(lot, dict) for lot in raw_lots):
            errors.add("Lots must be an array of objects")
            return (), None
        if len(raw_lots) > MAX_LOTS:
            errors.add(f"Lots is too long (maximum is {MAX_LOTS} lots)")
            return (), None
        for number, lot in enumerate(raw_lots, start=1):
            lot_label = f"Lot {number} name"
            name = errors.required_string(lot_label, lot.get("name"))
            cpv = lot.get("cpv_code")
            if not is_blank(cpv) and not (isinstance(cpv, str) and CPV_CODE.match(cpv.strip())):
                errors.add(f"Lot {number} cpv code must match the format 12345678-9")
                cpv = None
            if name is not None:
                lots.append((name, cpv.strip() if isinstance(cpv, str) and cpv.strip() else None))
    lot_limit = _parse_lot_limit(errors, raw.get("lot_limit"), len(lots))
    return tuple(lots), lot_limit


def _parse_lot_limit(errors: Messages, value: object, lot_count: int) -> int | None:
    if value is None:
        return None
    if lot_count == 0:
        errors.add("Lot limit requires lots")
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= lot_count:
        errors.add(f"Lot limit must be an integer between 1 and {lot_count}")
        return None
    return value
