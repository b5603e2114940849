"""The buyer's configuration pages, through the Flask test client, on SQLite and PostgreSQL: the
capability link, the steps and their order, each step's form (French messages, choices kept),
CSRF, the summary, finalisation and its webhook, the confirmation page, the security headers.

The published catalogue is loaded into the database; jobs are recorded, never run (nothing is
sent), and webhook outcomes are set through the services."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from passemarche.adapters.catalogue_csv import read_catalogue_file
from passemarche.domain.webhook import AttemptOutcome
from passemarche.entrypoints.web.capabilities import BUYER, CANDIDATE
from passemarche.entrypoints.web.security import CONTENT_SECURITY_POLICY
from passemarche.services import market_configuration as configuration
from passemarche.services import webhooks
from passemarche.services.catalogue import catalogue_snapshot, load_catalogue

from tests.support import RecordingJobQueue

CATALOGUE = Path(__file__).resolve().parents[2] / "src" / "data" / "market_attributes_catalogue.csv"

CATEGORY_STEPS = [
    ("identite_entreprise", "Identité de l'entreprise"),
    ("motifs_exclusion", "Les motifs d'exclusion"),
    ("capacite_economique_financiere", "Capacités économiques et financière des candidats"),
    (
        "capacites_techniques_professionnelles",
        "Capacités techniques et professionnelles des candidats",
    ),
]
LAST_CATEGORY = CATEGORY_STEPS[-1][0]

MANQUEMENT = "motifs_exclusion_appreciation_acheteur_discretionnaire_manquement_execution"
BILAN_GES = "motifs_exclusion_appreciation_acheteur_discretionnaire_bilan_ges"
PLAN_VIGILANCE = "motifs_exclusion_appreciation_acheteur_discretionnaire_plan_vigilance"
EXCLUSION_OPTIONAL = [MANQUEMENT, BILAN_GES, PLAN_VIGILANCE]
BILANS = "capacite_economique_financiere_bilans_trois_exercices"
EFFECTIFS = "capacites_techniques_professionnelles_effectifs_moyens_annuels"
RGE = "capacites_techniques_professionnelles_certificats_rge"
SIRET_KEY = "identite_entreprise_identification_siret"

TWO_LOTS: dict[str, Any] = {
    "lot_name": ...,
    "lots": [{"name": "Ordinateurs portables", "cpv_code": "30213100-6"}, {"name": "Écrans"}],
}
NO_LOTS: dict[str, Any] = {"lot_name": ..., "lots": ...}

ALREADY_COMPLETED = "Ce marché a déjà été complété"
RETURN_URL = "https://editeur.example/marches/retour?onglet=configuration&lang=fr"
WEBHOOK_URL = "https://editeur.example/webhooks"


# --- Reading pages ----------------------------------------------------------------------------

VOID_TAGS = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}
)


@dataclass(eq=False)
class Element:
    tag: str
    attrs: dict[str, str]
    ancestors: tuple[Element, ...]
    parts: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return " ".join(" ".join(self.parts).split())

    @property
    def classes(self) -> set[str]:
        return set(self.attrs.get("class", "").split())

    def get(self, name: str, default: str | None = None) -> str | None:
        return self.attrs.get(name, default)


def _attribute(name: str) -> str:
    """`for_` → `for`, `http_equiv` → `http-equiv`."""
    return name.rstrip("_").replace("_", "-")


class Page(HTMLParser):
    """A response's HTML as a flat list of elements (each knowing its ancestors and its text)."""

    def __init__(self, response: Any) -> None:
        super().__init__(convert_charrefs=True)
        self.response = response
        self.status = response.status_code
        self.html = response.get_data(as_text=True)
        self.elements: list[Element] = []
        self._open: list[Element] = []
        self.feed(self.html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = Element(tag, {k: v or "" for k, v in attrs}, tuple(self._open))
        self.elements.append(element)
        if tag not in VOID_TAGS:
            self._open.append(element)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append(Element(tag, {k: v or "" for k, v in attrs}, tuple(self._open)))

    def handle_endtag(self, tag: str) -> None:
        for index in range(len(self._open) - 1, -1, -1):
            if self._open[index].tag == tag:
                del self._open[index:]
                return

    def handle_data(self, data: str) -> None:
        for element in self._open:
            element.parts.append(data)

    # Queries

    def find(self, tag: str | None = None, within: Element | None = None, **attrs: str):
        """Elements of that tag whose attributes have these values (`class_`: one class)."""
        wanted_class = attrs.pop("class_", None)
        found = []
        for element in self.elements:
            if tag is not None and element.tag != tag:
                continue
            if within is not None and within not in element.ancestors:
                continue
            if wanted_class is not None and wanted_class not in element.classes:
                continue
            if all(element.attrs.get(_attribute(k)) == v for k, v in attrs.items()):
                found.append(element)
        return found

    def one(self, tag: str | None = None, within: Element | None = None, **attrs: str) -> Element:
        found = self.find(tag, within, **attrs)
        assert len(found) == 1, (tag, attrs, [e.attrs for e in found])
        return found[0]

    def by_id(self, identifier: str) -> Element | None:
        found = [e for e in self.elements if e.attrs.get("id") == identifier]
        assert len(found) <= 1, f"id {identifier!r} is not unique"
        return found[0] if found else None

    @property
    def title(self) -> str:
        return self.one("title").text

    @property
    def main_text(self) -> str:
        return self.one("main").text

    def inputs(self, name: str) -> list[Element]:
        return [e for e in self.find("input") if e.get("name") == name]

    def values(self, name: str) -> list[str]:
        return [e.get("value") or "" for e in self.inputs(name)]

    def checked(self, name: str) -> list[str]:
        return [e.get("value") or "" for e in self.inputs(name) if "checked" in e.attrs]

    def links(self, text: str | None = None) -> list[Element]:
        return [a for a in self.find("a") if text is None or a.text == text]

    def label_of(self, control: Element) -> str:
        return self.one("label", for_=control.get("id") or "").text

    @property
    def csrf_token(self) -> str:
        (token,) = self.values("csrf_token")
        return token

    @property
    def error_summary(self) -> list[tuple[str, str]]:
        """(href, message) of each link of the error summary."""
        summary = self.by_id("resume-des-erreurs")
        if summary is None:
            return []
        assert summary.get("role") == "alert"
        return [(a.get("href") or "", a.text) for a in self.find("a", within=summary)]

    def assert_error_for(self, field_name: str, message: str) -> None:
        """The summary has this one message, linked to the field (the control itself or the
        group holding its options), and the message also stands by the field."""
        ((href, text),) = self.error_summary
        assert text == message
        assert href.startswith("#")
        target = self.by_id(href[1:])
        assert target is not None, f"the summary's link {href} leads nowhere"
        controls = [target] if target.tag == "input" else self.find("input", within=target)
        assert controls and {c.get("name") for c in controls} == {field_name}, href
        summary = self.by_id("resume-des-erreurs")
        assert summary is not None
        beside = [e for e in self.elements if e.text == message and summary not in e.ancestors]
        assert beside, f"{message!r} is only in the summary"

    def listed(self, within: Element | None = None) -> dict[str, str]:
        """The read-only attribute lists: title (see `plain`) → badge."""
        items = {}
        for item in self.find("li", within=within):
            if not any("fr-raw-list" in a.classes for a in item.ancestors):
                continue
            badges = self.find("span", within=item, class_="fr-badge")
            badge = badges[0].text if badges else ""
            title = item.text[: len(item.text) - len(badge)].strip() if badge else item.text
            items[plain(title)] = badge
        return items


def plain(text: str | None) -> str:
    """Text compared whatever its apostrophes: the catalogue types `d' exclusion`, the pages may
    print `d’exclusion`."""
    return " ".join((text or "").replace("’", "'").replace("' ", "'").split())


def path_of(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def redirect_path(response: Any) -> str:
    assert response.status_code in (301, 302, 303, 307, 308), (
        response.status_code,
        response.get_data(as_text=True)[:500],
    )
    return path_of(response.headers["Location"])


# --- The buyer --------------------------------------------------------------------------------


class FakeSender:
    def __init__(self, outcome: AttemptOutcome, during: Any = None) -> None:
        self.outcome = outcome
        self.during = during
        self.sent: list[str] = []

    def send(self, url: str, body: bytes, headers: Any) -> AttemptOutcome:
        self.sent.append(url)
        if self.during is not None:
            self.during()
        return self.outcome


class Buyer:
    """A browser that followed `configuration_url` for one market."""

    def __init__(self, client: Any, identifier: str, configuration_url: str) -> None:
        self.client = client
        self.identifier = identifier
        self.configuration_url = configuration_url
        self.token = dict(parse_qsl(urlsplit(configuration_url).query))["token"]
        self.seen: list[Any] = []
        self._csrf: str | None = None

    def url(self, step: str) -> str:
        return f"/buyer/public_markets/{self.identifier}/{step}"

    def open(self) -> Page:
        first = self.client.get(path_of(self.configuration_url))
        self.seen.append(first)
        assert first.status_code == 303, first.get_data(as_text=True)[:500]
        page = self.get_path(redirect_path(first))
        assert page.status == 200, page.html[:500]
        self._csrf = page.csrf_token
        return page

    def get_path(self, path: str) -> Page:
        response = self.client.get(path)
        self.seen.append(response)
        return Page(response)

    def get(self, step: str) -> Page:
        return self.get_path(self.url(step))

    @property
    def csrf(self) -> str:
        if self._csrf is None:
            self._csrf = self.get("setup").csrf_token
        return self._csrf

    def post(self, step: str, data: dict[str, Any] | None = None, csrf: bool = True) -> Any:
        form = dict(data or {})
        if csrf:
            form["csrf_token"] = self.csrf
        response = self.client.post(self.url(step), data=form)
        self.seen.append(response)
        return response

    def follow(self, response: Any) -> Page:
        return self.get_path(redirect_path(response))

    def finalise(self) -> Page:
        response = self.post("summary")
        assert redirect_path(response) == self.url("confirmation")
        return self.follow(response)

    def status_json(self) -> Any:
        response = self.client.get(self.url("webhook_status"))
        self.seen.append(response)
        return response


def create_market(editor: Any, **fields: Any) -> tuple[str, str]:
    response = editor.create_market(**fields)
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    return body["identifier"], body["configuration_url"]


def stored(container: Any, identifier: str) -> configuration.BuyerMarket:
    return configuration.buyer_market(container.uow(), identifier)


def deliveries(container: Any) -> list[Any]:
    with container.uow() as uow:
        return [(d.id, d.event, d.resource_identifier, d.status) for d in uow.webhooks.list()]


def latest_delivery(container: Any, identifier: str) -> webhooks.DeliveryView:
    with container.uow() as uow:
        delivery = uow.webhooks.latest_for(identifier)
        assert delivery is not None
        return webhooks.get_delivery(container.uow(), delivery.id)


def latest_payload(container: Any, identifier: str) -> Any:
    with container.uow() as uow:
        delivery = uow.webhooks.latest_for(identifier)
        assert delivery is not None
        return json.loads(delivery.payload)


def deliver(container: Any, identifier: str, jobs: Any, outcome: AttemptOutcome, during=None):
    """One attempt of the market's latest delivery, answered by `outcome`."""
    delivery_id = latest_delivery(container, identifier).id
    sender = FakeSender(outcome, during)
    webhooks.deliver(container.uow(), container.clock, sender, jobs, delivery_id)
    return sender


@pytest.fixture
def catalogue(container):
    parsed = read_catalogue_file(CATALOGUE)
    load_catalogue(
        container.uow(), container.clock, parsed.categories, parsed.subcategories, parsed.attributes
    )
    return catalogue_snapshot(container.uow())


@pytest.fixture
def jobs(container):
    recording = RecordingJobQueue()
    container.jobs = recording
    return recording


@pytest.fixture
def new_buyer(client, catalogue, jobs):
    """Creates a market through the API and opens its configuration link in `client`."""

    def make(editor: Any, **fields: Any) -> Buyer:
        identifier, url = create_market(editor, **{**TWO_LOTS, **fields})
        buyer = Buyer(client, identifier, url)
        buyer.open()
        return buyer

    return make


@pytest.fixture
def buyer(new_buyer, editor):
    """A market with two lots (supplies and services), its link opened."""
    return new_buyer(editor)


@pytest.fixture
def defence_editor(make_editor):
    return make_editor("Plateforme Défense", can_create_defense_markets=True)


def mandatory_of(catalogue: Any, category: str, types: list[str]) -> list[str]:
    return [
        a.key for a in catalogue.for_market(types) if a.category_key == category and a.mandatory
    ]


def optional_of(catalogue: Any, category: str, types: list[str]) -> list[str]:
    return [
        a.key for a in catalogue.for_market(types) if a.category_key == category and not a.mandatory
    ]


def defence_only(catalogue: Any) -> list[str]:
    keys = [a.key for a in catalogue.attributes if a.market_types == ["defense"]]
    assert len(keys) == 4
    return keys


def expected_steps(with_lots: bool) -> list[tuple[str, str]]:
    return [
        ("setup", "Informations du marché"),
        *([("lots", "Lots")] if with_lots else []),
        *CATEGORY_STEPS,
        ("summary", "Récapitulatif"),
    ]


def assert_page_headers(response: Any) -> None:
    headers = response.headers
    policy = headers.get("Content-Security-Policy", "")
    assert policy == CONTENT_SECURITY_POLICY
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    assert "script-src 'self'" in policy.split("; ")
    assert headers.get("X-Frame-Options") == "DENY"
    assert headers.get("Referrer-Policy") == "same-origin"
    assert headers.get("X-Content-Type-Options") == "nosniff"
    assert headers.get("Cache-Control") == "no-store"


# --- The capability link ----------------------------------------------------------------------


def test_the_configuration_url_opens_the_pages_and_redirects_without_the_token(
    client, editor, catalogue, jobs
):
    identifier, url = create_market(editor)
    assert urlsplit(url).path == f"/buyer/public_markets/{identifier}/setup"
    response = client.get(path_of(url))
    assert response.status_code == 303
    assert response.headers["Location"] == f"/buyer/public_markets/{identifier}/setup"
    assert "token" not in response.headers["Location"]
    with client.session_transaction() as session:
        assert session["grants"] == [f"{BUYER}:{identifier}"]
    page = Page(client.get(f"/buyer/public_markets/{identifier}/setup"))
    assert page.status == 200
    assert page.title == "Étape 1 sur 7 – Informations du marché – Passe Marché"  # one lot
    # The grant lasts for the session: every step opens without the token.
    assert client.get(f"/buyer/public_markets/{identifier}/summary").status_code == 200


@pytest.mark.parametrize(
    "token", ["faux", "", "é", "another-markets-token", "candidate-token", "truncated"]
)
def test_a_wrong_token_is_the_french_invalid_link_page(client, editor, container, catalogue, token):
    identifier, url = create_market(editor)
    other, _ = create_market(editor)
    good = dict(parse_qsl(urlsplit(url).query))["token"]
    token = {
        "another-markets-token": container.signer.sign(BUYER, other),
        "candidate-token": container.signer.sign(CANDIDATE, identifier),
        "truncated": good[:-1],
    }.get(token, token)
    response = client.get(
        f"/buyer/public_markets/{identifier}/setup", query_string={"token": token}
    )
    assert response.status_code == 403
    page = Page(response)
    assert page.title == "Lien invalide ou expiré – Passe Marché"
    assert page.one("h1").text == "Lien invalide ou expiré"
    assert "Ce lien n’est pas valide ou a expiré" in page.main_text
    assert_page_headers(response)
    with client.session_transaction() as session:
        assert "grants" not in session
    assert client.get(f"/buyer/public_markets/{identifier}/setup").status_code == 403


def test_without_the_link_every_page_is_refused_in_french(client, editor, catalogue):
    identifier, _ = create_market(editor)
    base = f"/buyer/public_markets/{identifier}"
    for path in (
        "setup",
        "lots",
        "identite_entreprise",
        "summary",
        "confirmation",
        "webhook_status",
    ):
        response = client.get(f"{base}/{path}")
        assert response.status_code == 403, path
        page = Page(response)
        assert page.title == "Accès non autorisé – Passe Marché"
        assert "utilisez le lien reçu depuis votre plateforme" in page.main_text
        assert_page_headers(response)


def test_the_grant_is_for_that_market_only(buyer, editor, container):
    other, _ = create_market(editor, **TWO_LOTS)
    base = f"/buyer/public_markets/{other}"
    for step in ("setup", "lots", "motifs_exclusion", "summary", "confirmation", "webhook_status"):
        response = buyer.client.get(f"{base}/{step}")
        assert response.status_code == 403, step
        assert "Accès non autorisé" in Page(response).title
    for step, form in (
        ("motifs_exclusion", {"more": "oui", "keys": [PLAN_VIGILANCE]}),
        ("lots", {"limit_enabled": "oui", "lot_limit": "1"}),
        ("summary", {}),
        ("retry_webhook", {}),
    ):
        response = buyer.client.post(f"{base}/{step}", data={**form, "csrf_token": buyer.csrf})
        assert response.status_code == 403, step
    market = stored(container, other)
    assert (market.status, market.optional_keys, market.lot_limit) == ("draft", (), None)
    assert deliveries(container) == []


def test_a_token_on_any_step_is_checked_and_dropped_from_the_address(
    client, editor, container, catalogue
):
    """capabilities.py: a GET with `?token=` on any page of the area verifies it and redirects
    without it, so that the token never stays in the address bar (SPEC §9)."""
    identifier, _ = create_market(editor, **TWO_LOTS)
    token = container.signer.sign(BUYER, identifier)
    response = client.get(f"/buyer/public_markets/{identifier}/lots?token={token}")
    assert response.status_code == 303
    assert response.headers["Location"] == f"/buyer/public_markets/{identifier}/lots"


def test_pages_never_contain_the_capability_token_after_the_redirect(buyer, container, jobs):
    buyer.post("setup")
    buyer.get("lots")
    buyer.post("lots", {"limit_enabled": "oui", "lot_limit": "9"})
    for key, _ in CATEGORY_STEPS:
        buyer.get(key)
        buyer.post(key, {"more": "oui"})
        buyer.post(key, {"more": "non"})
    buyer.get("summary")
    buyer.finalise()
    buyer.get("setup")
    buyer.status_json()
    deliver(container, buyer.identifier, jobs, AttemptOutcome(status_code=410))
    buyer.get("confirmation")
    assert len(buyer.seen) > 20
    for response in buyer.seen[1:]:
        assert buyer.token not in response.get_data(as_text=True), response.request.path
        assert buyer.token not in response.headers.get("Location", "")


# --- The steps --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "with_lots, defence",
    [(True, False), (False, False), (True, True), (False, True)],
    ids=["lots", "no-lots", "lots-defence", "no-lots-defence"],
)
def test_the_steps_and_their_order(
    new_buyer, defence_editor, container, catalogue, with_lots, defence
):
    buyer = new_buyer(defence_editor, **(TWO_LOTS if with_lots else NO_LOTS))
    steps = expected_steps(with_lots)
    total = len(steps)
    assert total == (7 if with_lots else 6)
    answers = {"setup": {"defense": "1"} if defence else {}, "lots": {"limit_enabled": "non"}}
    for number, (key, title) in enumerate(steps, start=1):
        page = buyer.get(key)
        assert page.status == 200, key
        assert plain(page.title) == plain(f"Étape {number} sur {total} – {title} – Passe Marché")
        stepper = page.one("div", class_="fr-stepper")
        assert plain(page.one("h1", within=stepper).text) == plain(
            f"{title} Étape {number} sur {total}"
        )
        details = page.find("p", within=stepper, class_="fr-stepper__details")
        if number < total:
            assert plain(details[0].text) == plain(f"Étape suivante : {steps[number][1]}")
        else:
            assert details == []
        previous = page.links("Précédent")
        if number == 1:
            assert previous == []
        else:
            assert [a.get("href") for a in previous] == [buyer.url(steps[number - 2][0])]
        (form,) = [f for f in page.find("form") if f.get("method") == "post"]
        assert form.get("action") == buyer.url(key)
        if key == "summary":
            continue
        response = buyer.post(key, answers.get(key, {"more": "non"}))
        assert redirect_path(response) == buyer.url(steps[number][0]), key
    assert stored(container, buyer.identifier).is_defense == defence
    if not with_lots:
        assert buyer.get("lots").status == 404


def test_an_unknown_step_is_a_french_404(buyer):
    page = buyer.get("nimporte_quoi")
    assert page.status == 404
    assert "Page introuvable" in page.title


# --- Setup ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "deadline, types, shown_deadline, labels",
    [
        (
            "2030-12-31T23:59:59Z",
            ["supplies", "services"],
            "1er janvier 2031 à 0 h 59 (heure de Paris)",
            ["Fournitures", "Services"],
        ),
        (
            "2030-07-14T10:30:00Z",
            ["works"],
            "14 juillet 2030 à 12 h 30 (heure de Paris)",
            ["Travaux"],
        ),
    ],
    ids=["winter-supplies-services", "summer-works"],
)
def test_the_setup_page_summarises_the_market(
    new_buyer, editor, deadline, types, shown_deadline, labels
):
    buyer = new_buyer(
        editor,
        name="Travaux de rénovation – « école »",
        siret="73282932000074",
        deadline=deadline,
        market_type_codes=types,
    )
    page = buyer.get("setup")
    card = page.one("dl")
    definitions = dict(
        zip(
            [dt.text for dt in page.find("dt", within=card)],
            [dd.text for dd in page.find("dd", within=card)],
            strict=True,
        )
    )
    assert page.one("h2", class_="fr-card__title").text == "Travaux de rénovation – « école »"
    assert definitions["Identifiant"] == buyer.identifier
    assert definitions["SIRET de l’acheteur"] == "73282932000074"
    assert definitions["Date limite de candidature"] == shown_deadline
    type_badges = [b.text for b in page.find("span", within=card, class_="fr-badge")]
    assert type_badges == labels
    assert definitions["Lots"] == "Lot 1 : Ordinateurs portables (CPV 30213100-6) Lot 2 : Écrans"
    assert "Plateforme A" in page.main_text


def test_the_defence_tick_is_offered_only_when_the_editor_may(new_buyer, editor, container):
    buyer = new_buyer(editor)
    page = buyer.get("setup")
    assert page.inputs("defense") == []
    assert "défense ou la sécurité" not in page.main_text
    # Sending it anyway changes nothing.
    response = buyer.post("setup", {"defense": "1"})
    assert redirect_path(response) == buyer.url("lots")
    assert stored(container, buyer.identifier).market_type_codes == ("supplies", "services")


def test_ticking_defence_adds_defense_and_its_attributes_on_the_last_category_step(
    new_buyer, defence_editor, container, catalogue
):
    buyer = new_buyer(defence_editor)
    page = buyer.get("setup")
    (box,) = page.inputs("defense")
    assert (box.get("type"), box.get("value"), "checked" in box.attrs) == ("checkbox", "1", False)
    assert "défense ou la sécurité" in page.label_of(box)
    assert not set(defence_only(catalogue)) & set(buyer.get(LAST_CATEGORY).values("keys"))

    buyer.post("setup", {"defense": "1"})
    assert stored(container, buyer.identifier).market_type_codes == (
        "supplies",
        "services",
        "defense",
    )
    page = buyer.get("setup")
    assert "checked" in page.inputs("defense")[0].attrs
    assert "Défense ou sécurité" in [b.text for b in page.find("span", class_="fr-badge")]
    offered = buyer.get(LAST_CATEGORY).values("keys")
    assert offered[-4:] == defence_only(catalogue)
    assert offered == optional_of(catalogue, LAST_CATEGORY, ["supplies", "services", "defense"])
    for _key, _ in CATEGORY_STEPS[:-1]:
        assert not set(defence_only(catalogue)) & set(buyer.get(_key).values("keys"))

    buyer.post("setup", {})  # unticked
    assert stored(container, buyer.identifier).market_type_codes == ("supplies", "services")
    assert not set(defence_only(catalogue)) & set(buyer.get(LAST_CATEGORY).values("keys"))


# --- Lots -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "form, field, message",
    [
        ({}, "limit_enabled", "Indiquez si vous souhaitez limiter le nombre de lots."),
        (
            {"limit_enabled": "peut-être"},
            "limit_enabled",
            "Indiquez si vous souhaitez limiter le nombre de lots.",
        ),
        ({"limit_enabled": "oui"}, "lot_limit", "Veuillez indiquer le nombre maximum de lots."),
        (
            {"limit_enabled": "oui", "lot_limit": "  "},
            "lot_limit",
            "Veuillez indiquer le nombre maximum de lots.",
        ),
        (
            {"limit_enabled": "oui", "lot_limit": "0"},
            "lot_limit",
            "Indiquez un nombre entier entre 1 et 2.",
        ),
        (
            {"limit_enabled": "oui", "lot_limit": "3"},
            "lot_limit",
            "Indiquez un nombre entier entre 1 et 2.",
        ),
        (
            {"limit_enabled": "oui", "lot_limit": "-1"},
            "lot_limit",
            "Indiquez un nombre entier entre 1 et 2.",
        ),
        (
            {"limit_enabled": "oui", "lot_limit": "1.5"},
            "lot_limit",
            "Indiquez un nombre entier entre 1 et 2.",
        ),
        (
            {"limit_enabled": "oui", "lot_limit": "deux"},
            "lot_limit",
            "Indiquez un nombre entier entre 1 et 2.",
        ),
        (
            {"limit_enabled": "oui", "lot_limit": "²"},
            "lot_limit",
            "Indiquez un nombre entier entre 1 et 2.",
        ),
    ],
    ids=[
        "no-answer",
        "bad-answer",
        "no-number",
        "blank-number",
        "zero",
        "too-many",
        "negative",
        "decimal",
        "words",
        "superscript-digit",
    ],
)
def test_lots_validation_is_in_french_and_saves_nothing(
    new_buyer, editor, container, form, field, message
):
    buyer = new_buyer(editor, lot_limit=2)
    response = buyer.post("lots", form)
    assert response.status_code == 422
    page = Page(response)
    assert page.title == "Erreur : Étape 2 sur 7 – Lots – Passe Marché"
    page.assert_error_for(field, message)
    if field == "lot_limit":
        (number,) = page.inputs("lot_limit")
        assert number.get("aria-invalid") == "true"
        assert number.get("value") == form.get("lot_limit", "").strip()
        assert page.checked("limit_enabled") == ["oui"]
    assert stored(container, buyer.identifier).lot_limit == 2
    assert_page_headers(response)


def test_the_lot_limit_is_saved_and_shown_when_coming_back(buyer, container):
    page = buyer.get("lots")
    assert page.checked("limit_enabled") == ["non"]
    assert [row.text for row in page.find("tr")][1:] == [
        "1 Ordinateurs portables 30213100-6",
        "2 Écrans —",
    ]
    response = buyer.post("lots", {"limit_enabled": "oui", "lot_limit": " 1 "})
    assert redirect_path(response) == buyer.url("identite_entreprise")
    assert stored(container, buyer.identifier).lot_limit == 1
    page = buyer.get("lots")
    assert page.checked("limit_enabled") == ["oui"]
    assert page.values("lot_limit") == ["1"]
    assert "1 lot maximum par candidat" in buyer.get("summary").main_text

    buyer.post("lots", {"limit_enabled": "non", "lot_limit": "2"})
    assert stored(container, buyer.identifier).lot_limit is None
    page = buyer.get("lots")
    assert (page.checked("limit_enabled"), page.values("lot_limit")) == (["non"], [""])


@pytest.mark.parametrize(
    "step, form",
    [
        ("lots", {}),
        ("lots", {"limit_enabled": "oui", "lot_limit": "7"}),
        ("motifs_exclusion", {}),
        ("motifs_exclusion", {"more": "oui"}),
    ],
    ids=["lots-no-answer", "lots-bad-number", "category-no-answer", "category-nothing-ticked"],
)
def test_each_error_summary_link_moves_the_focus_to_its_field(buyer, step, form):
    """RGAA: errors are linked to their field. Following the summary's link must move the focus
    there: the target is a form control (macros.html gives a group its first option's id), or
    an element made focusable (tabindex) around the field's controls."""
    page = Page(buyer.post(step, form))
    assert page.status == 422
    assert page.error_summary
    for href, _ in page.error_summary:
        target = page.by_id(href.removeprefix("#"))
        assert target is not None, href
        focusable = target.tag in ("input", "select", "textarea") or "tabindex" in target.attrs
        assert focusable, (href, target.tag, target.attrs)


# --- Category steps ---------------------------------------------------------------------------


def test_a_category_step_lists_its_mandatory_attributes_with_their_badge(buyer, catalogue):
    page = buyer.get("identite_entreprise")
    listed = page.listed()
    expected = mandatory_of(catalogue, "identite_entreprise", ["supplies", "services"])
    assert len(expected) == 8
    assert list(listed) == [plain(catalogue.attribute(k).buyer_title) for k in expected]
    assert listed["SIRET"] == "Récupéré automatiquement"
    assert listed["Raison sociale"] == "Récupéré automatiquement"
    assert listed["Email"] == "Déclaré par le candidat"
    assert listed["Numéro de téléphone"] == "Déclaré par le candidat"
    assert [plain(h.text) for h in page.find("h3")] == [
        "Identification de l'entreprise",
        "Informations de contact",
    ]
    # Read-only: nothing to tick, and nothing else to choose in this category.
    assert page.inputs("keys") == [] and page.inputs("more") == []
    assert "Aucun renseignement complémentaire n’est proposé" in page.main_text


def test_optional_attributes_are_offered_as_checkboxes(buyer, catalogue):
    page = buyer.get("motifs_exclusion")
    mandatory = mandatory_of(catalogue, "motifs_exclusion", ["supplies", "services"])
    assert list(page.listed()) == [plain(catalogue.attribute(k).buyer_title) for k in mandatory]
    assert set(page.listed().values()) == {"Récupéré automatiquement"}
    boxes = page.inputs("keys")
    assert [b.get("value") for b in boxes] == EXCLUSION_OPTIONAL
    assert {b.get("type") for b in boxes} == {"checkbox"}
    for box in boxes:
        title = catalogue.attribute(box.get("value") or "").buyer_title
        assert plain(page.label_of(box)).startswith(plain(title))
    assert not set(mandatory) & set(page.values("keys"))
    assert [r.get("value") for r in page.inputs("more")] == ["oui", "non"]
    assert page.checked("more") == [] and page.checked("keys") == []


def test_a_step_without_errors_shows_no_error(buyer):
    for key, _ in CATEGORY_STEPS:
        page = buyer.get(key)
        assert page.status == 200
        assert not page.title.startswith("Erreur")
        assert page.by_id("resume-des-erreurs") is None
        assert page.find(class_="fr-fieldset--error") == [], key
        assert page.find("p", class_="fr-message--error") == [], key
        assert "built-in method" not in page.html, key


def test_answering_oui_without_ticking_anything_is_refused(buyer, container):
    buyer.post("motifs_exclusion", {"more": "oui", "keys": [BILAN_GES]})
    response = buyer.post("motifs_exclusion", {"more": "oui"})
    assert response.status_code == 422
    page = Page(response)
    message = "Cochez au moins un renseignement, ou répondez « Non »."
    assert plain(page.title).startswith("Erreur : Étape 4 sur 7 – Les motifs d'exclusion")
    page.assert_error_for("keys", message)
    assert page.one("p", class_="fr-message--error").text == message
    assert page.checked("more") == ["oui"]
    assert page.checked("keys") == []
    assert stored(container, buyer.identifier).optional_keys == (BILAN_GES,)


def test_not_answering_is_refused(buyer, container):
    response = buyer.post("motifs_exclusion", {"keys": [BILAN_GES]})
    assert response.status_code == 422
    page = Page(response)
    message = "Indiquez si vous souhaitez demander des renseignements complémentaires."
    page.assert_error_for("more", message)
    assert page.checked("keys") == [BILAN_GES]  # what was ticked stays ticked
    assert stored(container, buyer.identifier).optional_keys == ()


def test_choices_are_kept_when_coming_back(buyer, container):
    response = buyer.post("motifs_exclusion", {"more": "oui", "keys": [PLAN_VIGILANCE, MANQUEMENT]})
    assert redirect_path(response) == buyer.url("capacite_economique_financiere")
    assert stored(container, buyer.identifier).optional_keys == (MANQUEMENT, PLAN_VIGILANCE)
    page = buyer.get("motifs_exclusion")
    assert page.checked("more") == ["oui"]
    assert page.checked("keys") == [MANQUEMENT, PLAN_VIGILANCE]

    buyer.post("motifs_exclusion", {"more": "non", "keys": [BILAN_GES]})
    assert stored(container, buyer.identifier).optional_keys == ()
    page = buyer.get("motifs_exclusion")
    assert page.checked("more") == ["non"]
    assert page.checked("keys") == []


def test_the_choice_of_one_category_does_not_erase_anothers(buyer, container):
    buyer.post("motifs_exclusion", {"more": "oui", "keys": [BILAN_GES]})
    buyer.post("capacite_economique_financiere", {"more": "oui", "keys": [BILANS]})
    buyer.post(LAST_CATEGORY, {"more": "oui", "keys": [RGE, EFFECTIFS]})
    buyer.post("capacite_economique_financiere", {"more": "non"})
    assert set(stored(container, buyer.identifier).optional_keys) == {BILAN_GES, RGE, EFFECTIFS}
    assert buyer.get("motifs_exclusion").checked("keys") == [BILAN_GES]
    assert buyer.get(LAST_CATEGORY).checked("keys") == [EFFECTIFS, RGE]
    assert buyer.get("capacite_economique_financiere").checked("more") == ["non"]


def test_only_the_steps_own_optional_attributes_can_be_chosen(buyer, container):
    buyer.post(
        "motifs_exclusion",
        {"more": "oui", "keys": [PLAN_VIGILANCE, BILANS, SIRET_KEY, "inconnu"]},
    )
    assert stored(container, buyer.identifier).optional_keys == (PLAN_VIGILANCE,)


# --- CSRF -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "step, form",
    [
        ("setup", {"defense": "1"}),
        ("lots", {"limit_enabled": "oui", "lot_limit": "1"}),
        ("motifs_exclusion", {"more": "oui", "keys": [PLAN_VIGILANCE]}),
        ("summary", {}),
    ],
)
@pytest.mark.parametrize("csrf_token", [None, "faux"], ids=["missing", "wrong"])
def test_a_post_without_the_csrf_token_is_refused_and_saves_nothing(
    new_buyer, defence_editor, container, jobs, step, form, csrf_token
):
    buyer = new_buyer(defence_editor)
    data = dict(form)
    if csrf_token is not None:
        data["csrf_token"] = csrf_token
    response = buyer.post(step, data, csrf=False)
    assert response.status_code in (400, 403)
    assert "Formulaire expiré" in Page(response).title
    market = stored(container, buyer.identifier)
    assert (market.status, market.market_type_codes, market.lot_limit, market.optional_keys) == (
        "draft",
        ("supplies", "services"),
        None,
        (),
    )
    assert deliveries(container) == [] and jobs.calls == []


# --- Summary and finalisation -----------------------------------------------------------------


def test_the_summary_lists_the_chosen_attributes_per_category(buyer, catalogue):
    buyer.post("motifs_exclusion", {"more": "oui", "keys": [PLAN_VIGILANCE]})
    buyer.post(LAST_CATEGORY, {"more": "oui", "keys": [RGE]})
    page = buyer.get("summary")
    assert page.title == "Étape 7 sur 7 – Récapitulatif – Passe Marché"
    sections = page.find("section")
    assert [plain(page.one("h2", within=s).text) for s in sections] == [
        plain(f"{n}. {title}") for n, (_, title) in enumerate(CATEGORY_STEPS, start=1)
    ]
    types = ["supplies", "services"]
    chosen = {PLAN_VIGILANCE, RGE}
    for section, (key, _) in zip(sections, CATEGORY_STEPS, strict=True):
        wanted = [
            plain(catalogue.attribute(k).buyer_title)
            for k in mandatory_of(catalogue, key, types) + optional_of(catalogue, key, types)
            if catalogue.attribute(k).mandatory or k in chosen
        ]
        assert list(page.listed(within=section)) == wanted, key
        if not wanted:
            assert "Aucun renseignement demandé dans cette catégorie." in section.text
    for not_chosen in (MANQUEMENT, BILAN_GES, BILANS, EFFECTIFS):
        assert plain(catalogue.attribute(not_chosen).buyer_title) not in plain(page.main_text)
    assert page.listed()["Plan de vigilance"] == "Déclaré par le candidat"
    assert page.one("button", type="submit").text == "Finaliser la configuration"


def test_finalising_completes_the_market_and_records_its_webhook(buyer, container, catalogue, jobs):
    # Chosen from the last category first: the keys still come in catalogue order.
    buyer.post(LAST_CATEGORY, {"more": "oui", "keys": [RGE, EFFECTIFS]})
    buyer.post("motifs_exclusion", {"more": "oui", "keys": [PLAN_VIGILANCE]})
    page = buyer.finalise()
    assert page.status == 200
    assert page.title == "Configuration finalisée – Passe Marché"

    market = stored(container, buyer.identifier)
    types = ["supplies", "services"]
    chosen = {RGE, EFFECTIFS, PLAN_VIGILANCE}
    expected = [a.key for a in catalogue.for_market(types) if a.mandatory or a.key in chosen]
    assert market.status == "completed" and market.completed_at is not None
    assert list(market.field_keys) == expected
    assert expected.index(PLAN_VIGILANCE) < expected.index(EFFECTIFS) < expected.index(RGE)
    assert set(catalogue.mandatory_keys(types)) <= set(expected)
    assert market.webhook_status == "pending"

    (delivery,) = deliveries(container)
    delivery_id, event, resource, status = delivery
    assert (event, resource, status) == ("market.completed", buyer.identifier, "pending")
    payload = latest_payload(container, buyer.identifier)
    assert payload["event"] == "market.completed"
    assert payload["market"]["identifier"] == buyer.identifier
    assert payload["market"]["field_keys"] == expected
    assert payload["market"]["lots"] == [{"name": "Ordinateurs portables"}, {"name": "Écrans"}]
    assert jobs.calls == [("deliver_webhook", (delivery_id,), None)]


def test_a_completed_market_sends_every_step_to_the_confirmation(buyer, container, jobs):
    buyer.post("motifs_exclusion", {"more": "oui", "keys": [PLAN_VIGILANCE]})
    buyer.finalise()
    before = stored(container, buyer.identifier)
    for key, _ in expected_steps(with_lots=True):
        response = buyer.client.get(buyer.url(key))
        assert redirect_path(response) == buyer.url("confirmation"), key
        page = buyer.follow(response)
        assert page.status == 200
        assert ALREADY_COMPLETED in page.main_text, key
    for key, form in (
        ("setup", {}),
        ("lots", {"limit_enabled": "oui", "lot_limit": "1"}),
        ("motifs_exclusion", {"more": "non"}),
        ("summary", {}),
    ):
        response = buyer.post(key, form)
        assert redirect_path(response) == buyer.url("confirmation"), key
        assert ALREADY_COMPLETED in buyer.follow(response).main_text
    after = stored(container, buyer.identifier)
    assert (after.field_keys, after.optional_keys, after.lot_limit, after.completed_at) == (
        before.field_keys,
        before.optional_keys,
        before.lot_limit,
        before.completed_at,
    )
    assert len(deliveries(container)) == 1 and len(jobs.calls) == 1
    # The link opened again lands on the confirmation too.
    fresh = Buyer(buyer.client.application.test_client(), buyer.identifier, buyer.configuration_url)
    first = fresh.client.get(path_of(fresh.configuration_url))
    assert redirect_path(first) == buyer.url("setup")
    second = fresh.client.get(buyer.url("setup"))
    assert redirect_path(second) == buyer.url("confirmation")
    assert ALREADY_COMPLETED in fresh.follow(second).main_text


def test_the_confirmation_is_only_for_a_completed_market(buyer):
    response = buyer.client.get(buyer.url("confirmation"))
    assert redirect_path(response) == buyer.url("setup")


# --- Confirmation: the webhook ----------------------------------------------------------------


@pytest.fixture
def notified(new_buyer, make_editor):
    """A finalised market of an editor with a webhook URL."""
    editor = make_editor("Plateforme Notifiée", webhook_url=WEBHOOK_URL)
    buyer = new_buyer(editor)
    buyer.finalise()
    return buyer


WEBHOOK_HEADINGS = {
    "pending": "Transmission en cours",
    "processing": "Transmission en cours",
    "delivered": "Synchronisation réussie",
    "failed": "Échec de la transmission",
}


def webhook_heading(page: Page) -> str:
    status = page.by_id("webhook-status")
    assert status is not None and status.get("aria-live") == "polite"
    return page.one("h2", within=status).text


def retry_buttons(page: Page) -> list[Element]:
    forms = [f for f in page.find("form") if f.get("action", "").endswith("/retry_webhook")]
    return [b for f in forms for b in page.find("button", within=f)]


def refreshes(page: Page) -> bool:
    return any(m.get("http-equiv") == "refresh" for m in page.find("meta"))


def test_the_confirmation_shows_a_pending_delivery(notified):
    page = notified.get("confirmation")
    assert webhook_heading(page) == WEBHOOK_HEADINGS["pending"]
    assert retry_buttons(page) == []
    assert refreshes(page)
    assert notified.status_json().get_json() == {"webhook_status": "pending"}


def test_the_confirmation_shows_a_delivery_being_sent(notified, container, jobs):
    seen = []

    def look() -> None:
        seen.append(notified.get("confirmation"))
        seen.append(notified.status_json().get_json())

    sender = deliver(container, notified.identifier, jobs, AttemptOutcome(status_code=200), look)
    assert sender.sent == [WEBHOOK_URL]
    page, status = seen
    assert webhook_heading(page) == WEBHOOK_HEADINGS["processing"]
    assert retry_buttons(page) == [] and refreshes(page)
    assert status == {"webhook_status": "processing"}


def test_the_confirmation_shows_a_delivered_webhook(notified, container, jobs):
    deliver(container, notified.identifier, jobs, AttemptOutcome(status_code=204))
    page = notified.get("confirmation")
    assert webhook_heading(page) == WEBHOOK_HEADINGS["delivered"]
    assert "Plateforme Notifiée a bien reçu la configuration." in page.main_text
    assert retry_buttons(page) == [] and not refreshes(page)
    assert notified.status_json().get_json() == {"webhook_status": "delivered"}


def test_the_confirmation_offers_to_retry_a_failed_delivery(notified, container, jobs):
    deliver(container, notified.identifier, jobs, AttemptOutcome(status_code=410))
    page = notified.get("confirmation")
    assert webhook_heading(page) == WEBHOOK_HEADINGS["failed"]
    (button,) = retry_buttons(page)
    assert button.text == "Transmettre à nouveau"
    assert not refreshes(page)
    assert notified.status_json().get_json() == {"webhook_status": "failed"}


def test_a_retry_enqueues_the_failed_delivery_again(notified, container, jobs):
    deliver(container, notified.identifier, jobs, AttemptOutcome(status_code=410))
    delivery_id = latest_delivery(container, notified.identifier).id
    assert jobs.calls == [("deliver_webhook", (delivery_id,), None)]
    response = notified.post("retry_webhook")
    assert redirect_path(response) == notified.url("confirmation")
    assert jobs.calls[1:] == [("deliver_webhook", (delivery_id,), None)]
    delivery = latest_delivery(container, notified.identifier)
    assert (delivery.status, delivery.attempts) == ("pending", 0)
    assert stored(container, notified.identifier).webhook_status == "pending"
    page = notified.follow(response)
    assert "La notification va être renvoyée à la plateforme." in page.main_text
    assert webhook_heading(page) == WEBHOOK_HEADINGS["pending"] and retry_buttons(page) == []
    assert len(deliveries(container)) == 1


def test_only_a_failed_delivery_can_be_retried(notified, container, jobs):
    response = notified.post("retry_webhook")
    page = notified.follow(response)
    assert "Seule une notification en échec peut être renvoyée." in page.main_text
    assert len(jobs.calls) == 1
    assert latest_delivery(container, notified.identifier).status == "pending"
    deliver(container, notified.identifier, jobs, AttemptOutcome(status_code=410))
    # And never without the CSRF token.
    refused = notified.post("retry_webhook", csrf=False)
    assert refused.status_code in (400, 403)
    assert latest_delivery(container, notified.identifier).status == "failed"
    assert len(jobs.calls) == 1


def test_the_webhook_status_json(buyer, container, jobs):
    response = buyer.status_json()
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.get_json() == {"webhook_status": None}
    buyer.finalise()
    assert buyer.status_json().get_json() == {"webhook_status": "pending"}
    deliver(container, buyer.identifier, jobs, AttemptOutcome(status_code=200))
    # No webhook URL configured for this editor: the delivery gives up at once.
    assert buyer.status_json().get_json() == {"webhook_status": "failed"}


# --- Confirmation: the way back -------------------------------------------------------------


def test_the_return_link_keeps_the_editors_parameters_and_adds_the_market(new_buyer, make_editor):
    editor = make_editor("Plateforme Retour", buyer_return_url=RETURN_URL)
    buyer = new_buyer(editor)
    page = buyer.finalise()
    (link,) = page.links("Retourner sur Plateforme Retour")
    href = urlsplit(link.get("href") or "")
    expected = urlsplit(RETURN_URL)
    assert (href.scheme, href.netloc, href.path) == (
        expected.scheme,
        expected.netloc,
        expected.path,
    )
    assert parse_qsl(href.query) == [
        ("onglet", "configuration"),
        ("lang", "fr"),
        ("market_identifier", buyer.identifier),
    ]


def test_without_a_return_url_there_is_no_return_link(buyer):
    page = buyer.finalise()
    assert [a for a in page.links() if a.text.startswith("Retourner sur")] == []


# --- Security of the pages ------------------------------------------------------------------


def test_every_buyer_page_carries_the_security_headers(buyer, client):
    responses = [buyer.seen[0]]  # the 303 that drops the token
    for key, _ in expected_steps(with_lots=True):
        responses.append(buyer.get(key).response)
    responses.append(buyer.post("lots", {"limit_enabled": "oui"}))  # 422
    responses.append(buyer.post("lots", {"limit_enabled": "non"}))  # redirect
    responses.append(buyer.finalise().response)
    responses.append(buyer.client.get(buyer.url("setup")))  # already completed
    responses.append(client.application.test_client().get(buyer.url("setup")))  # 403
    for response in responses:
        assert_page_headers(response)
        if response.mimetype == "text/html" and response.status_code != 303:
            page = Page(response)
            # The policy refuses inline code: the pages must not rely on any.
            assert all(s.get("src") for s in page.find("script")), response.request.path
            assert page.find("style") == []
            assert not any(
                name == "style" or name.startswith("on") for e in page.elements for name in e.attrs
            ), response.request.path


def test_what_the_editor_sent_is_escaped(new_buyer, editor):
    buyer = new_buyer(editor, name='<script>alert("x")</script> & co')
    page = buyer.get("setup")
    assert "<script>alert" not in page.html
    assert page.one("h2", class_="fr-card__title").text == '<script>alert("x")</script> & co'
