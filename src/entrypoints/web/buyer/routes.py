"""The buyer's configuration pages: setup → lots (when there are lots) → one step per category
→ summary → confirmation. Opened through the capability link of `configuration_url`; every step
saves at once, so going back and forth keeps the choices."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.typing import ResponseReturnValue
from passemarche.domain.catalogue import Attribute, CatalogueSnapshot
from passemarche.domain.editor import build_return_url
from passemarche.domain.errors import DomainError, Forbidden, MarketAlreadyCompleted, NotFound
from passemarche.entrypoints.web import labels
from passemarche.entrypoints.web.capabilities import open_capability, require_capability
from passemarche.services import market_configuration as configuration
from passemarche.services.catalogue import catalogue_snapshot
from passemarche.services.market_configuration import BuyerMarket

PURPOSE = "buyer"
EXCLUSION_CATEGORY = "motifs_exclusion"
ALREADY_COMPLETED = "Ce marché a déjà été complété."
MAX_REMEMBERED_MARKETS = 20

blp = Blueprint("buyer", __name__, url_prefix="/buyer/public_markets")


@dataclass(frozen=True)
class Step:
    key: str
    title: str


def _container() -> Any:
    return current_app.extensions["passemarche"]


def _steps(market: BuyerMarket, catalogue: CatalogueSnapshot) -> list[Step]:
    steps = [Step("setup", "Informations du marché")]
    if market.lots:
        steps.append(Step("lots", "Lots"))
    for category in catalogue.categories_for(market.market_type_codes):
        steps.append(Step(category.key, labels.typography(category.buyer_label)))
    steps.append(Step("summary", "Récapitulatif"))
    return steps


def _load(identifier: str) -> tuple[BuyerMarket, CatalogueSnapshot, list[Step]]:
    require_capability(PURPOSE, identifier)
    container = _container()
    try:
        market = configuration.buyer_market(container.uow(), identifier)
    except NotFound:
        abort(404)
    catalogue = catalogue_snapshot(container.uow())
    return market, catalogue, _steps(market, catalogue)


def _neighbours(steps: list[Step], key: str) -> tuple[Step | None, Step | None, int]:
    index = next(i for i, step in enumerate(steps) if step.key == key)
    previous = steps[index - 1] if index > 0 else None
    following = steps[index + 1] if index + 1 < len(steps) else None
    return previous, following, index + 1


def _step_url(identifier: str, step: Step | str) -> str:
    key = step.key if isinstance(step, Step) else step
    return url_for("buyer.step", identifier=identifier, step=key)


def _render(template: str, market: BuyerMarket, steps: list[Step], key: str, **context: Any) -> str:
    previous, following, number = _neighbours(steps, key)
    return render_template(
        template,
        market=market,
        steps=steps,
        step=steps[number - 1],
        step_number=number,
        step_count=len(steps),
        previous_url=_step_url(market.identifier, previous) if previous else None,
        labels=labels,
        **context,
    )


@blp.route("/<identifier>/setup", methods=["GET"])
def entry(identifier: str) -> ResponseReturnValue:
    """`configuration_url` lands here: the token opens a session for this market only."""
    opened = open_capability(PURPOSE, identifier)
    if opened is not None:
        return opened
    return step(identifier, "setup")


@blp.route("/<identifier>/<step>", methods=["GET", "POST"])
def step(identifier: str, step: str) -> ResponseReturnValue:
    opened = open_capability(PURPOSE, identifier)  # a link with its token, to any step
    if opened is not None:
        return opened
    market, catalogue, steps = _load(identifier)
    if step == "confirmation":
        return _confirmation(market)
    if market.is_completed:
        flash(ALREADY_COMPLETED, "info")
        return redirect(_step_url(identifier, "confirmation"))
    if step not in {s.key for s in steps}:
        abort(404)
    handler = {"setup": _setup, "lots": _lots, "summary": _summary}.get(step, _category)
    return handler(market, catalogue, steps, step)


def _next(market: BuyerMarket, steps: list[Step], key: str) -> ResponseReturnValue:
    _, following, _ = _neighbours(steps, key)
    return redirect(_step_url(market.identifier, following or "summary"))


def _setup(
    market: BuyerMarket, catalogue: CatalogueSnapshot, steps: list[Step], key: str
) -> ResponseReturnValue:
    if request.method == "POST":
        if market.editor_may_defense:
            try:
                configuration.save_setup(
                    _container().uow(), market.identifier, request.form.get("defense") == "1"
                )
            except Forbidden:
                abort(403)
        # Steps depend on the types (defence adds its own attributes): recompute them.
        market, catalogue, steps = _load(market.identifier)
        return _next(market, steps, key)
    return _render("buyer/setup.html", market, steps, key)


def _lots(
    market: BuyerMarket, catalogue: CatalogueSnapshot, steps: list[Step], key: str
) -> ResponseReturnValue:
    errors: dict[str, str] = {}
    values = {
        "limit_enabled": "oui" if market.lot_limit else "non",
        "lot_limit": str(market.lot_limit or ""),
    }
    if request.method == "POST":
        values = {
            "limit_enabled": request.form.get("limit_enabled", ""),
            "lot_limit": request.form.get("lot_limit", "").strip(),
        }
        limit: int | None = None
        if values["limit_enabled"] not in ("oui", "non"):
            errors["limit_enabled"] = "Indiquez si vous souhaitez limiter le nombre de lots."
        elif values["limit_enabled"] == "oui":
            count = len(market.lots)
            if not values["lot_limit"]:
                errors["lot_limit"] = "Veuillez indiquer le nombre maximum de lots."
            elif not _is_number(values["lot_limit"]) or not 1 <= int(values["lot_limit"]) <= count:
                errors["lot_limit"] = f"Indiquez un nombre entier entre 1 et {count}."
            else:
                limit = int(values["lot_limit"])
        if not errors:
            configuration.save_lot_limit(_container().uow(), market.identifier, limit)
            return _next(market, steps, key)
    status = 422 if errors else 200
    return _render("buyer/lots.html", market, steps, key, errors=errors, values=values), status


def _is_number(text: str) -> bool:
    return text.isascii() and text.isdecimal()  # "²".isdigit() is True, int("²") fails


def _grouped(
    catalogue: CatalogueSnapshot, attributes: list[Attribute]
) -> list[tuple[str, list[Attribute]]]:
    groups: dict[str, list[Attribute]] = {}
    for attribute in attributes:
        groups.setdefault(attribute.subcategory_key, []).append(attribute)
    return [
        ((catalogue.subcategory(k).buyer_label.strip() if catalogue.subcategory(k) else k), items)
        for k, items in groups.items()
    ]


def _category(
    market: BuyerMarket, catalogue: CatalogueSnapshot, steps: list[Step], key: str
) -> ResponseReturnValue:
    attributes = [
        a for a in catalogue.for_market(market.market_type_codes) if a.category_key == key
    ]
    mandatory = [a for a in attributes if a.mandatory]
    optional = [a for a in attributes if not a.mandatory]
    chosen = [k for k in market.optional_keys if k in {a.key for a in optional}]
    errors: dict[str, str] = {}
    answer = "oui" if chosen else ("non" if _visited(market, key) else "")
    if request.method == "POST":
        answer = request.form.get("more", "")
        ticked = request.form.getlist("keys")
        if not optional:
            answer = "non"
        if answer not in ("oui", "non"):
            errors["more"] = (
                "Indiquez si vous souhaitez demander des renseignements complémentaires."
            )
        elif answer == "oui" and not ticked:
            errors["attributes"] = "Cochez au moins un renseignement, ou répondez « Non »."
            chosen = []
        if not errors:
            configuration.save_optional_choice(
                _container().uow(), market.identifier, key, ticked if answer == "oui" else []
            )
            _remember_visit(market, key)
            return _next(market, steps, key)
        chosen = ticked
    template = "buyer/exclusion.html" if key == EXCLUSION_CATEGORY else "buyer/category.html"
    html = _render(
        template, market, steps, key,
        category=catalogue.category(key),
        mandatory_groups=_grouped(catalogue, mandatory),
        optional=optional,
        chosen=set(chosen),
        answer=answer,
        errors=errors,
    )  # fmt: skip
    return html, 422 if errors else 200


def _visited(market: BuyerMarket, key: str) -> bool:
    return key in session.get("buyer_visited", {}).get(market.identifier, [])


def _remember_visit(market: BuyerMarket, key: str) -> None:
    """So that coming back to a step answered "Non" shows "Non" rather than nothing."""
    visited = dict(session.get("buyer_visited", {}))
    visited[market.identifier] = sorted({*visited.pop(market.identifier, []), key})
    # The cookie stays small: only the markets configured last are remembered.
    session["buyer_visited"] = dict(list(visited.items())[-MAX_REMEMBERED_MARKETS:])


def _summary(
    market: BuyerMarket, catalogue: CatalogueSnapshot, steps: list[Step], key: str
) -> ResponseReturnValue:
    if request.method == "POST":
        container = _container()
        try:
            configuration.finalise_configuration(
                container.uow(), container.clock, container.jobs, market.identifier
            )
        except MarketAlreadyCompleted:
            flash(ALREADY_COMPLETED, "info")
        return redirect(_step_url(market.identifier, "confirmation"))
    keys = set(
        configuration.required_keys(catalogue, market.market_type_codes, market.optional_keys)
    )
    sections = []
    for category in catalogue.categories_for(market.market_type_codes):
        chosen = [
            a
            for a in catalogue.for_market(market.market_type_codes)
            if a.category_key == category.key and a.key in keys
        ]
        sections.append((category, _grouped(catalogue, chosen)))
    return _render(
        "buyer/summary.html", market, steps, key, sections=sections, exclusion=EXCLUSION_CATEGORY
    )


def _confirmation(market: BuyerMarket) -> ResponseReturnValue:
    if not market.is_completed:
        return redirect(_step_url(market.identifier, "setup"))
    return_url = (
        build_return_url(market.buyer_return_url, market_identifier=market.identifier)
        if market.buyer_return_url
        else None
    )
    return render_template(
        "buyer/confirmation.html", market=market, labels=labels, return_url=return_url
    )


@blp.route("/<identifier>/retry_webhook", methods=["POST"])
def retry_webhook(identifier: str) -> ResponseReturnValue:
    require_capability(PURPOSE, identifier)
    container = _container()
    from passemarche.services import webhooks

    try:
        webhooks.retry_latest_for(container.uow(), container.clock, container.jobs, identifier)
        flash("La notification va être renvoyée à la plateforme.", "success")
    except DomainError:
        flash("Seule une notification en échec peut être renvoyée.", "warning")
    return redirect(_step_url(identifier, "confirmation"))


@blp.route("/<identifier>/webhook_status", methods=["GET"])
def webhook_status(identifier: str) -> ResponseReturnValue:
    """Polled by the confirmation page's script (static/webhook-status.js); without JavaScript
    the page refreshes itself."""
    require_capability(PURPOSE, identifier)
    market = configuration.buyer_market(_container().uow(), identifier)
    return {"webhook_status": market.webhook_status}
