"""A buyer configures a market in a real browser, as a newcomer would, end to end.

The real server (`passemarche serve` on a SQLite file of its own, jobs run in the web process)
is reached over real HTTP; the editor's webhook endpoint is a small HTTP server of the test, on
127.0.0.1, that records every POST byte for byte. The editor gets a token, creates a market with
two lots, and its buyer walks every step in Debian's Chromium by clicking and typing (no direct
POST): setup (defence ticked) → lots (an error first) → one step per category (an error first on
one of them, two optional attributes ticked there, "Non" elsewhere) → back with "Précédent" →
summary → "Finaliser la configuration" → confirmation, once the webhook is delivered. The webhook's
two signatures are checked here with hmac, independently of the code under test.

A second, shorter walk runs with JavaScript disabled: the pages are plain forms.

Screenshots land in test-output/<test name>/.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import hmac
import json
import re
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest

from tests.e2e import browser
from tests.e2e.browser import screenshot
from tests.e2e.conftest import PASSEMARCHE, Server, process_env

pytestmark = [pytest.mark.e2e]


CATALOGUE = Path(__file__).resolve().parents[2] / "src" / "data" / "market_attributes_catalogue.csv"
EDITOR = "Plateforme Achats Test"
RETURN_URL = "https://plateforme.example/retour?x=1"
LOTS = [
    {"name": "Nettoyage des locaux", "cpv_code": "90910000-9"},
    {"name": "Entretien des espaces verts"},
]
STEP_TITLE = re.compile(r"^(Erreur : )?Étape (\d+) sur (\d+) – (.+) – Passe Marché$")
WEBHOOK_WAIT = 15.0


# --- the editor's webhook endpoint ------------------------------------------------------------


@dataclass
class ReceivedHook:
    path: str
    headers: dict[str, str]  # names lower-cased
    body: bytes


@dataclass
class WebhookReceiver:
    port: int
    received: list[ReceivedHook] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def hooks(self) -> list[ReceivedHook]:
        with self.lock:
            return list(self.received)

    def wait_for(self, count: int, timeout: float = WEBHOOK_WAIT) -> list[ReceivedHook]:
        deadline = time.monotonic() + timeout
        while len(self.hooks()) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.hooks()


@pytest.fixture
def webhook_receiver() -> Iterator[WebhookReceiver]:
    """An HTTP server on 127.0.0.1 (a thread of the test) answering 200 to every POST and keeping
    the exact body bytes and headers."""
    receiver: WebhookReceiver

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802  (http.server's naming)
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            with receiver.lock:
                receiver.received.append(
                    ReceivedHook(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                )
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver = WebhookReceiver(port=int(httpd.server_address[1]))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


# --- the server and the editor ----------------------------------------------------------------


def _cli(env: dict[str, str], *args: str) -> str:
    completed = subprocess.run(
        [str(PASSEMARCHE), *args], env=env, capture_output=True, text=True, timeout=60
    )
    assert completed.returncode == 0, (args, completed.stderr)
    return completed.stdout


@pytest.fixture
def server_env(tmp_path: Path) -> dict[str, str]:
    """A migrated SQLite file with the published catalogue; webhooks may go to 127.0.0.1."""
    env = process_env(
        tmp_path,
        DATABASE_URL=f"sqlite:///{tmp_path / 'passemarche.sqlite3'}",
        ALLOW_PRIVATE_WEBHOOK_TARGETS="1",
    )
    _cli(env, "db", "upgrade")
    _cli(env, "catalogue", "load")
    return env


@dataclass
class Platform:
    """The editor's side: the server, its credentials and the API calls it makes."""

    server: Server
    credentials: dict[str, Any]
    token: str = ""

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server.port}"

    def get_token(self) -> None:
        form = {
            "grant_type": "client_credentials",
            "client_id": self.credentials["client_id"],
            "client_secret": self.credentials["client_secret"],
        }
        response = self.server.request(
            "POST",
            "/oauth/token",
            body=urlencode(form).encode(),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert response.status == 200, response.body
        self.token = response.json()["access_token"]

    def api(self, method: str, path: str, payload: Any = None) -> Any:
        headers = {"Authorization": f"Bearer {self.token}"}
        body = None
        if payload is not None:
            body = json.dumps(payload).encode()
            headers["Content-Type"] = "application/json"
        return self.server.request(method, path, body=body, headers=headers)

    def create_market(self, name: str) -> dict[str, str]:
        response = self.api(
            "POST",
            "/api/v1/public_markets",
            {
                "public_market": {
                    "name": name,
                    "deadline": "2030-12-31T23:59:59Z",
                    "siret": "13002526500013",
                    "market_type_codes": ["services"],
                    "lots": LOTS,
                }
            },
        )
        assert response.status == 201, response.body
        created = response.json()
        assert re.fullmatch(r"VR-\d{4}-[A-Z0-9]{12}", created["identifier"]), created
        return created

    def create_application(self, identifier: str) -> Any:
        return self.api(
            "POST",
            f"/api/v1/public_markets/{identifier}/market_applications",
            {"market_application": {"siret": "73282932000074"}},
        )


@pytest.fixture
def platform(server_env, start_server, webhook_receiver) -> Platform:
    options = ["--name", EDITOR, "--webhook-url", webhook_receiver.url]
    options += ["--buyer-return-url", RETURN_URL, "--defense", "--json"]
    credentials = json.loads(_cli(server_env, "editor", "create", *options))
    assert credentials["webhook_secret"], credentials
    editor = Platform(start_server(workers=1), credentials)
    editor.get_token()
    return editor


# --- the catalogue, read independently of the code under test -------------------------------


def mandatory_keys(market_types: set[str]) -> set[str]:
    """Keys the published catalogue marks mandatory (and to import) for one of these types."""
    columns = {"services": "services", "supplies": "fournitures", "works": "travaux"}
    columns["defense"] = "défense"
    with CATALOGUE.open(encoding="utf-8", newline="") as file:
        rows = list(csv.reader(file))
    header_index = next(i for i, row in enumerate(rows) if "obligatoire" in row)
    names = rows[header_index]
    keys = set()
    for row in rows[header_index + 1 :]:
        values = dict(zip(names, row, strict=False))
        if values.get("import", "").lower() != "oui" or not values.get("key"):
            continue
        applies = any(values.get(columns[t], "").lower() == "oui" for t in market_types)
        if applies and values.get("obligatoire", "").lower() == "oui":
            keys.add(values["key"])
    return keys


# --- the browser -----------------------------------------------------------------------------


def step_of(page: Any) -> str:
    """The step's key: the last segment of the page's path."""
    return urlsplit(page.url).path.rstrip("/").rsplit("/", 1)[-1]


def step_title(page: Any) -> tuple[bool, int, int, str]:
    match = STEP_TITLE.match(page.title())
    assert match, page.title()
    return bool(match[1]), int(match[2]), int(match[3]), match[4]


def click_button(page: Any, name: str) -> None:
    """Click a button and wait for the page its form loads."""
    with page.expect_navigation(wait_until="load"):
        page.get_by_role("button", name=name, exact=True).click()


def click_link(page: Any, name: str) -> None:
    """Follow a link (such as "Précédent", a link styled as a button)."""
    with page.expect_navigation(wait_until="load"):
        page.get_by_role("link", name=name, exact=True).click()


def tick(page: Any, control: Any) -> None:
    """Tick a radio or checkbox by clicking its label, as a user does: the DSFR draws the box
    with the label, which covers the input itself."""
    if not control.is_checked():
        page.locator(f"label[for='{control.get_attribute('id')}']").click()
    assert control.is_checked()


def choose(page: Any, label: str) -> None:
    """Tick the radio or checkbox labelled exactly so."""
    tick(page, page.get_by_label(label, exact=True))


def attribute_title(page: Any, key: str) -> str:
    """An optional attribute's title: its label's text without the hint below it."""
    text = page.locator(f"label[for='key-{key}']").evaluate("label => label.firstChild.textContent")
    return " ".join(str(text).split())


def main_text(page: Any) -> str:
    """The words of <main> as written (not as styled: the DSFR shows badges in capitals)."""
    return " ".join(str(page.locator("main").text_content()).split())


def wait_for_synchronisation(page: Any) -> None:
    """The confirmation page refreshes itself every 5 s; a user in a hurry reloads it."""
    deadline = time.monotonic() + WEBHOOK_WAIT
    while "Synchronisation réussie" not in main_text(page):
        assert time.monotonic() < deadline, main_text(page)
        time.sleep(0.2)
        page.reload(wait_until="load")


class Shots:
    """Screenshots numbered in the order they are taken: 01-setup.png, 02-lots.png..."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.paths: list[Path] = []

    def take(self, name: str) -> Path:
        path = screenshot(self.page, f"{len(self.paths) + 1:02d}-{name}")
        assert path.stat().st_size > 10_000  # a styled page, not a blank one
        self.paths.append(path)
        return path


def assert_no_error_shown(page: Any) -> None:
    """A page not yet submitted shows no error: no message, no field in the error state."""
    shown = page.locator(
        ".fr-message--error, .fr-error-text, .fr-fieldset--error, .fr-input-group--error, "
        "#resume-des-erreurs"
    )
    assert shown.count() == 0, [shown.nth(i).inner_text() for i in range(shown.count())]
    assert not page.title().startswith("Erreur")


def assert_no_console_errors(console: list[str], form_errors: int = 0) -> None:
    """No script error and nothing refused by the CSP; a form in error answers 422, which
    Chromium logs: exactly `form_errors` of those."""
    errors = [m for m in console if m.startswith(("error", "pageerror"))]
    refused = [m for m in errors if "status of 422" in m]
    assert len(refused) == form_errors and len(errors) == len(refused), console


def tab_until(page: Any, wanted: set[str], limit: int = 60) -> list[str]:
    """Press Tab until every id of `wanted` has had the focus; the ids met, in order."""
    seen: list[str] = []
    for _ in range(limit):
        page.keyboard.press("Tab")
        focused = page.evaluate("document.activeElement.id || document.activeElement.tagName")
        seen.append(focused)
        if wanted <= set(seen):
            break
    return seen


# --- the tests -------------------------------------------------------------------------------


def test_a_buyer_configures_a_market_in_the_browser_and_the_editor_is_notified(
    platform, webhook_receiver, browser_page, browser_console
):
    page = browser_page
    shots = Shots(page)
    created = platform.create_market("Entretien des bâtiments communaux")
    identifier = created["identifier"]
    market_path = f"/buyer/public_markets/{identifier}"
    # Not configured yet: closed to candidates.
    assert platform.create_application(identifier).status == 403

    # --- setup: the capability link opens a session, then leaves the address bar.
    page.goto(created["configuration_url"], wait_until="load")
    assert page.url == f"{platform.base}{market_path}/setup"
    _, number, total, title = step_title(page)
    assert (number, title) == (1, "Informations du marché")
    text = main_text(page)
    assert "Entretien des bâtiments communaux" in text
    assert EDITOR in text
    assert "Lot 1 : Nettoyage des locaux (CPV 90910000-9)" in text
    assert "1er janvier 2031 à 0 h 59 (heure de Paris)" in text  # 23:59 UTC
    defense = page.get_by_label("Cochez cette case uniquement si votre marché concerne")
    assert not defense.is_checked()
    assert_no_error_shown(page)
    # The DSFR's script ran (it marks the document) despite the Content-Security-Policy.
    page.wait_for_selector("html[data-fr-js='true']", state="attached")
    shots.take("informations-du-marche")
    tick(page, defense)
    click_button(page, "Débuter la configuration")

    # --- lots: keyboard first, then an error, then the fix.
    assert step_of(page) == "lots"
    _, number, total_with_defense, title = step_title(page)
    assert (number, title) == (2, "Lots")
    assert_no_error_shown(page)
    seen = tab_until(page, {"limit-non", "lot_limit"})
    assert "limit-non" in seen and "lot_limit" in seen, seen
    assert seen.index("limit-non") < seen.index("lot_limit"), seen
    limit_field = page.get_by_label("Nombre maximum de lots par candidat")
    assert limit_field.get_attribute("id") == "lot_limit"
    assert page.get_by_label("Oui", exact=True).get_attribute("id") == "limit-oui"
    # A keyboard user selects "Oui" with the arrow keys (the focus is on the number field now).
    page.keyboard.press("Shift+Tab")
    assert page.evaluate("document.activeElement.name") == "limit_enabled"
    page.keyboard.press("ArrowRight")
    assert page.get_by_label("Oui", exact=True).is_checked()
    shots.take("lots")
    click_button(page, "Suivant")  # "Oui" and no number

    has_error, number, _, title = step_title(page)
    assert (has_error, number, title) == (True, 2, "Lots"), page.title()
    message = "Veuillez indiquer le nombre maximum de lots."
    summary = page.locator("#resume-des-erreurs")
    assert summary.get_attribute("role") == "alert"
    assert message in summary.inner_text()
    assert page.locator("#lot_limit-error").inner_text() == message
    assert limit_field.get_attribute("aria-invalid") == "true"
    assert "lot_limit-error" in (limit_field.get_attribute("aria-describedby") or "")
    assert page.get_by_label("Oui", exact=True).is_checked()  # the answer is kept
    shots.take("lots-erreur")
    # The summary's link leads to the field.
    summary.get_by_role("link", name=message).click()
    assert page.evaluate("document.activeElement.id") == "lot_limit"
    page.keyboard.type("1")
    click_button(page, "Suivant")

    # --- one step per category.
    ticked_step = None
    ticked: list[tuple[str, str]] = []  # (key, title)
    unticked: list[str] = []
    categories: list[str] = []
    while step_of(page) != "summary":
        key = step_of(page)
        categories.append(key)
        has_error, number, total, title = step_title(page)
        assert (has_error, number, total) == (False, len(categories) + 2, total_with_defense)
        assert page.locator("h1").inner_text().startswith(title)
        assert_no_error_shown(page)
        boxes = page.locator("input[name=keys]")
        count = boxes.count()
        if ticked_step is None and count >= 2:
            ticked_step = key
            shots.take(key)
            choose(page, "Oui")
            click_button(page, "Suivant")  # "Oui" and nothing ticked
            has_error, again, _, _ = step_title(page)
            assert (has_error, again) == (True, number), page.title()
            message = "Cochez au moins un renseignement, ou répondez « Non »."
            assert message in page.locator("#resume-des-erreurs").inner_text()
            assert page.locator("#attributes-error").inner_text() == message
            group = page.locator("#attributes")
            assert "attributes-error" in (group.get_attribute("aria-labelledby") or "")
            # The summary's link takes the focus to the group of boxes.
            page.locator("#resume-des-erreurs a").first.click()
            assert page.evaluate("document.activeElement.id") == "attributes"
            assert page.get_by_label("Oui", exact=True).is_checked()
            shots.take(f"{key}-erreur")
            for index in range(count):
                box = boxes.nth(index)
                box_key = box.get_attribute("value")
                box_title = attribute_title(page, box_key)
                if index < 2:
                    tick(page, box)
                    ticked.append((box_key, box_title))
                else:
                    unticked.append(box_title)
            shots.take(f"{key}-coches")
            click_button(page, "Suivant")

            # Back one step with "Précédent": the ticks are still there; forward again.
            assert step_of(page) != key
            click_link(page, "Précédent")
            assert step_of(page) == key
            assert_no_error_shown(page)
            assert page.get_by_label("Oui", exact=True).is_checked()
            for box_key, _ in ticked:
                assert page.locator(f"#key-{box_key}").is_checked(), box_key
            assert boxes.count() - len(ticked) == len(unticked)
            for index in range(2, count):
                assert not boxes.nth(index).is_checked()
            shots.take(f"{key}-apres-precedent")
        elif count:
            assert page.get_by_label("Non", exact=True).count() == 1
            choose(page, "Non")
            shots.take(key)
        else:
            assert page.get_by_label("Non", exact=True).count() == 0
            shots.take(key)
        click_button(page, "Suivant")
    assert ticked_step is not None, f"no category offers two optional attributes: {categories}"
    assert len(categories) == total_with_defense - 3

    # --- summary.
    assert step_title(page) == (False, total_with_defense, total_with_defense, "Récapitulatif")
    text = main_text(page)
    for _, title in ticked:
        assert title in text, title
    for title in unticked:
        assert title not in text, title
    assert "Récupéré automatiquement" in text
    assert "Déclaré par le candidat" in text
    assert "Défense ou sécurité" in text
    assert "1 lot maximum par candidat" in text
    shots.take("recapitulatif")
    click_button(page, "Finaliser la configuration")

    # --- confirmation, once the editor has the configuration.
    assert step_of(page) == "confirmation"
    assert page.title() == "Configuration finalisée – Passe Marché"
    shots.take("confirmation-en-cours")
    wait_for_synchronisation(page)
    back = page.get_by_role("link", name=f"Retourner sur {EDITOR}")
    assert back.get_attribute("href") == f"{RETURN_URL}&market_identifier={identifier}"
    shots.take("confirmation-synchronisee")

    # --- the webhook: one market.completed, signed twice.
    hooks = webhook_receiver.wait_for(1)
    time.sleep(0.3)  # a duplicate would show up by now
    hooks = webhook_receiver.hooks()
    assert len(hooks) == 1, hooks
    hook = hooks[0]
    assert hook.path == "/hook"
    assert hook.headers["content-type"].startswith("application/json")
    assert hook.headers["user-agent"] == "PasseMarche-Webhook/1.0"
    secret = platform.credentials["webhook_secret"].encode()
    expected = hmac.new(secret, hook.body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(hook.headers["x-webhook-signature-sha256"], f"sha256={expected}")
    webhook_id, sent_at = hook.headers["webhook-id"], hook.headers["webhook-timestamp"]
    assert webhook_id and sent_at.isdigit() and abs(time.time() - int(sent_at)) < 300
    signed = f"{webhook_id}.{sent_at}.".encode() + hook.body
    standard = base64.b64encode(hmac.new(secret, signed, hashlib.sha256).digest()).decode()
    assert hmac.compare_digest(hook.headers["webhook-signature"], f"v1,{standard}")

    payload = json.loads(hook.body)
    assert payload["event"] == "market.completed"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", payload["timestamp"])
    market = payload["market"]
    assert market["identifier"] == identifier
    assert market["name"] == "Entretien des bâtiments communaux"
    assert market["lots"] == [{"name": lot["name"]} for lot in LOTS]
    assert set(market["market_type_codes"]) == {"services", "defense"}
    assert market["deadline"] == "2030-12-31T23:59:59.000Z"
    keys = set(market["field_keys"])
    assert {key for key, _ in ticked} <= keys
    mandatory = mandatory_keys({"services", "defense"})
    assert mandatory and mandatory <= keys, mandatory - keys
    assert keys == mandatory | {key for key, _ in ticked}

    # --- the API agrees, and the market is open to candidates.
    response = platform.api("GET", f"/api/v1/public_markets/{identifier}")
    assert response.status == 200, response.body
    read = response.json()
    assert read["status"] == "completed"
    assert read["webhook_status"] == "delivered"
    assert read["field_keys"] == market["field_keys"]
    assert set(read["market_type_codes"]) == {"services", "defense"}
    assert [lot["name"] for lot in read["lots"]] == [lot["name"] for lot in LOTS]
    application = platform.create_application(identifier)
    assert application.status == 201, application.body
    assert re.fullmatch(r"FT\d{8}[A-Z0-9]{8}", application.json()["identifier"])

    # --- the link again: the market is already complete.
    page.goto(created["configuration_url"], wait_until="load")
    assert step_of(page) == "confirmation"
    assert "Ce marché a déjà été complété" in main_text(page)
    assert "Synchronisation réussie" in main_text(page)
    shots.take("deja-complete")
    page.goto(f"{platform.base}{market_path}/summary", wait_until="load")
    assert step_of(page) == "confirmation"
    assert "Ce marché a déjà été complété" in main_text(page)

    assert_no_console_errors(browser_console, form_errors=2)


@pytest.fixture
def page_without_javascript(playwright_driver, tmp_path) -> Iterator[Any]:
    context = playwright_driver.chromium.launch_persistent_context(
        user_data_dir=str(tmp_path / "chromium-profile-no-js"),
        executable_path=str(browser.CHROMIUM),
        headless=True,
        args=browser.CHROMIUM_ARGS,
        viewport=browser.VIEWPORT,
        locale="fr-FR",
        timezone_id="Europe/Paris",
        java_script_enabled=False,
    )
    try:
        page = context.pages[0] if context.pages else context.new_page()
        page.set_default_timeout(10_000)
        yield page
    finally:
        context.close()


def test_the_configuration_pages_work_without_javascript(
    platform, webhook_receiver, page_without_javascript
):
    page = page_without_javascript
    shots = Shots(page)
    created = platform.create_market("Fournitures de bureau sans script")
    identifier = created["identifier"]

    page.goto(created["configuration_url"], wait_until="load")
    # DSFR's script did not run: its mark on the document is missing.
    assert page.locator("html").get_attribute("data-fr-js") is None
    assert step_of(page) == "setup"
    shots.take("informations-du-marche")
    click_button(page, "Débuter la configuration")  # not a defence market

    assert step_of(page) == "lots"
    choose(page, "Oui")
    page.get_by_label("Nombre maximum de lots par candidat").fill("3")
    click_button(page, "Suivant")
    assert step_title(page)[0], page.title()
    assert "Indiquez un nombre entier entre 1 et 2." in main_text(page)
    shots.take("lots-erreur")
    choose(page, "Non")
    click_button(page, "Suivant")

    # Category steps: the first one offering a choice is submitted unanswered first.
    assert step_of(page) not in ("lots", "summary")
    chosen: tuple[str, str] | None = None
    while step_of(page) != "summary":
        key = step_of(page)
        assert_no_error_shown(page)
        shots.take(key)
        boxes = page.locator("input[name=keys]")
        if boxes.count() and chosen is None:
            click_button(page, "Suivant")  # no answer
            assert step_title(page)[0], page.title()
            message = "Indiquez si vous souhaitez demander des renseignements complémentaires."
            assert message in page.locator("#resume-des-erreurs").inner_text()
            assert page.locator("#more-error").inner_text() == message
            shots.take(f"{key}-erreur")
            choose(page, "Oui")
            tick(page, boxes.first)
            box_key = boxes.first.get_attribute("value")
            chosen = (box_key, attribute_title(page, box_key))
        elif boxes.count():
            choose(page, "Non")
        click_button(page, "Suivant")
    assert chosen is not None

    assert step_title(page)[3] == "Récapitulatif"
    text = main_text(page)
    assert chosen[1] in text
    assert "Récupéré automatiquement" in text and "Déclaré par le candidat" in text
    assert "Défense ou sécurité" not in text
    shots.take("recapitulatif")
    click_button(page, "Finaliser la configuration")

    assert step_of(page) == "confirmation"
    wait_for_synchronisation(page)
    shots.take("confirmation")
    hooks = webhook_receiver.wait_for(1)
    assert [json.loads(h.body)["market"]["identifier"] for h in hooks] == [identifier]
    keys = set(json.loads(hooks[0].body)["market"]["field_keys"])
    assert keys == mandatory_keys({"services"}) | {chosen[0]}
