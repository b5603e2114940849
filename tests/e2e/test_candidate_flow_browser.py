"""A candidate applies to a market in a real browser, as a newcomer would, end to end.

The real server (`passemarche serve` on a SQLite file of its own, jobs run in the web process, no
antivirus configured: files are « non vérifié ») is reached over real HTTP; the editor's webhook
endpoint is the small HTTP server of the buyer test. The editor creates a market with two lots
(services), its buyer finalises it in Chromium asking for a turnover table and the team members
with their CVs, then the editor creates an application without a SIRET. The candidate opens
`application_url` and walks every step by clicking, typing and choosing real PDF files:
identification (a wrong SIRET first) → lots (none first) → one step per category (a bad email,
a "Oui" without details, a missing CV; files uploaded, one deleted; "Précédent" once) →
declaration (unticked first) → summary → submit → confirmation, where the attestation is
downloaded. The editor receives `market_application.completed` (both signatures checked with
hmac here) and downloads the attestation and the ZIP over the API.

A second, shorter walk runs with JavaScript disabled: identification → a category step with an
upload → summary.

Screenshots land in test-output/<test name>/.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import json
import re
import time
import zipfile
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from passemarche.sandbox import create_bodacc_app, create_sandbox_app, serve_in_thread
from werkzeug.serving import make_server

from tests.e2e.test_buyer_flow_browser import (  # noqa: F401  (fixtures used by name)
    EDITOR,
    Platform,
    ReceivedHook,
    Shots,
    _cli,
    choose,
    click_button,
    click_link,
    main_text,
    page_without_javascript,
    server_env,
    step_of,
    step_title,
    tick,
    wait_for_synchronisation,
    webhook_receiver,
)

pytestmark = [pytest.mark.e2e]

CANDIDATE_RETURN_URL = "https://plateforme.example/candidat?x=1"
SIRET = "73282932000074"
OTHER_SIRET = "55203253400646"
COMPANY = "Société Œuvres & Études à Noël"
ATTESTATION_WAIT = 30.0

TURNOVER = "capacite_economique_financiere_chiffre_affaires_global_annuel"
TEAM = "capacites_techniques_professionnelles_effectifs_cv_intervenants"
OPTIONAL_KEYS = (TURNOVER, TEAM)

EMAIL = "identite_entreprise_contact_email"
PHONE = "identite_entreprise_contact_telephone"
IDENTITY = {
    "identite_entreprise_identification_siret": SIRET,
    "identite_entreprise_identification_activite_principale": "Nettoyage courant des bâtiments",
    "identite_entreprise_identification_raison_sociale": COMPANY,
    "identite_entreprise_identification_nom_prenom": "Françoise Lefèvre",
    "identite_entreprise_identification_categorie": "PME",
    "identite_entreprise_identification_adresse_siege_social": "12 rue de l’Église, 75011 Paris",
    EMAIL: "contact@oeuvres-etudes.fr",
    PHONE: "01 23 45 67 89",
}
LIQUIDATION = "motifs_exclusion_fiscales_et_sociales_liquidation_judiciaire"
FAILLITE = "motifs_exclusion_fiscales_et_sociales_faillite_interdiction"
FISCAL = "motifs_exclusion_fiscales_et_sociales_declarations_fiscales"
SOCIAL = "motifs_exclusion_fiscales_et_sociales_declarations_cotisations_sociales"
HANDICAP = "motifs_exclusion_fiscales_et_sociales_travailleurs_handicapes"
FAILLITE_TEXT = "Procédure de sauvegarde close en 2019 ; jugement joint."
TURNOVER_ROWS = [
    ("1 250 000", "40", "31/12/2025"),
    ("1 100 000,50", "35", "31/12/2024"),
    ("980000", "", "31/12/2023"),
]
TEAM_ROWS = [
    ("Élodie Durand", "Cheffe d’équipe", "12 ans, CAP propreté"),
    ("Karim Benali", "Agent de propreté", "5 ans"),
]
NOT_SCANNED = "non vérifié"


# --- the platform -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def replicas() -> Any:
    """The API Entreprise and BODACC replicas (threads here), as the server's environment."""
    api = make_server("127.0.0.1", 0, create_sandbox_app("sandbox-token", 2.0), threaded=True)
    bodacc = make_server("127.0.0.1", 0, create_bodacc_app(), threaded=True)
    serve_in_thread(api)
    serve_in_thread(bodacc)
    yield {
        "API_ENTREPRISE_BASE_URL": f"http://127.0.0.1:{api.server_port}",
        "API_ENTREPRISE_TOKEN": "sandbox-token",
        "BODACC_BASE_URL": f"http://127.0.0.1:{bodacc.server_port}",
    }
    api.shutdown()
    bodacc.shutdown()


@pytest.fixture
def platform(server_env, start_server, webhook_receiver, replicas) -> Platform:  # noqa: F811
    """An editor with a webhook and a candidate return URL; the server has no antivirus."""
    options = ["--name", EDITOR, "--webhook-url", webhook_receiver.url]
    options += ["--candidate-return-url", CANDIDATE_RETURN_URL, "--json"]
    credentials = json.loads(_cli(server_env, "editor", "create", *options))
    assert credentials["webhook_secret"], credentials
    # API Entreprise only: BODACC would answer the exclusion questions, which this test types.
    api_only = {k: v for k, v in replicas.items() if not k.startswith("BODACC")}
    editor = Platform(start_server(workers=1, CLAMD_URL="", **api_only), credentials)
    editor.get_token()
    return editor


def create_application_without_siret(platform: Platform, market: str) -> dict[str, str]:
    response = platform.api(
        "POST", f"/api/v1/public_markets/{market}/market_applications", {"market_application": {}}
    )
    assert response.status == 201, response.body
    return response.json()


def finalise_market(page: Any, created: dict[str, str], keys: tuple[str, ...]) -> None:
    """The buyer walks the configuration quickly: no lot limit, the optional `keys` asked."""
    page.goto(created["configuration_url"], wait_until="load")
    click_button(page, "Débuter la configuration")
    assert step_of(page) == "lots"
    choose(page, "Non")
    click_button(page, "Suivant")
    found: list[str] = []
    while step_of(page) != "summary":
        wanted = [k for k in keys if page.locator(f"#key-{k}").count()]
        if wanted:
            choose(page, "Oui")
            for key in wanted:
                tick(page, page.locator(f"#key-{key}"))
            found += wanted
        elif page.locator("input[name=keys]").count():
            choose(page, "Non")
        click_button(page, "Suivant")
    assert sorted(found) == sorted(keys), found
    click_button(page, "Finaliser la configuration")
    wait_for_synchronisation(page)


# --- helpers ----------------------------------------------------------------------------------


def fid(name: str) -> str:
    """The id the templates give the field `name` (the `field_id` filter)."""
    return re.sub(r"[^A-Za-z0-9_-]+", "-", name).strip("-")


def field(page: Any, name: str) -> Any:
    return page.locator(f"#{fid(name)}")


def field_error(page: Any, name: str) -> str:
    return str(page.locator(f"#{fid(name)}-message-error").inner_text()).strip()


def error_summary(page: Any) -> str:
    summary = page.locator("#resume-des-erreurs")
    assert summary.get_attribute("role") == "alert"
    return str(summary.inner_text())


def assert_no_error_shown(page: Any) -> None:
    shown = page.locator(".fr-message--error, #resume-des-erreurs")
    assert shown.count() == 0, [shown.nth(i).inner_text() for i in range(shown.count())]
    assert not page.title().startswith("Erreur"), page.title()


def make_pdf(folder: Path, name: str, text: str) -> Path:
    """A real little PDF, made with fpdf2."""
    from fpdf import FPDF

    document = FPDF()
    document.add_page()
    document.set_font("helvetica", size=14)
    document.write(8, text)
    path = folder / name
    document.output(str(path))
    assert path.read_bytes().startswith(b"%PDF-")
    return path


def listed_files(page: Any, key: str) -> str:
    """The text of the list of documents joined to the answer `key` ('' when there is none)."""
    listing = page.locator(f"#{fid(key)}-answer ul")
    return " ".join(str(listing.text_content()).split()) if listing.count() else ""


def save_and_continue(page: Any) -> None:
    click_button(page, "Enregistrer et continuer")


def assert_signed(hook: ReceivedHook, secret: bytes) -> None:
    """Both signatures of a webhook, checked here with hmac (not with the code under test)."""
    expected = hmac.new(secret, hook.body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(hook.headers["x-webhook-signature-sha256"], f"sha256={expected}")
    webhook_id, sent_at = hook.headers["webhook-id"], hook.headers["webhook-timestamp"]
    assert webhook_id and sent_at.isdigit() and abs(time.time() - int(sent_at)) < 300
    signed = f"{webhook_id}.{sent_at}.".encode() + hook.body
    standard = base64.b64encode(hmac.new(secret, signed, hashlib.sha256).digest()).decode()
    assert hmac.compare_digest(hook.headers["webhook-signature"], f"v1,{standard}")


def hooks_of(receiver: Any, event: str, count: int = 1) -> list[ReceivedHook]:
    deadline = time.monotonic() + ATTESTATION_WAIT
    while True:
        found = [h for h in receiver.hooks() if json.loads(h.body).get("event") == event]
        if len(found) >= count or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


def identification(page: Any, shots: Shots, siret: str, company: str, total: int) -> None:
    """The first step: a wrong SIRET, then the right one."""
    assert step_of(page) == "company_identification"
    assert step_title(page) == (False, 1, total, "Identification de l’entreprise")
    assert_no_error_shown(page)
    shots.take("identification")
    page.get_by_label("Numéro SIRET de votre entreprise").fill("12345678901234")
    page.get_by_label("Raison sociale").fill(company)
    click_button(page, "Suivant")
    assert step_title(page)[0], page.title()
    message = "Le numéro de SIRET saisi est invalide ou non reconnu."
    assert field_error(page, "siret") == message
    assert message in error_summary(page)
    assert field(page, "siret").get_attribute("aria-invalid") == "true"
    assert page.get_by_label("Raison sociale").input_value() == company  # kept
    shots.take("identification-erreur-siret")
    page.get_by_label("Numéro SIRET de votre entreprise").fill(siret)
    click_button(page, "Suivant")


def lots(page: Any, shots: Shots) -> None:
    """Lots: none first (an error), then the first one."""
    assert step_of(page) == "lots"
    assert_no_error_shown(page)
    shots.take("lots")
    click_button(page, "Suivant")
    assert step_title(page)[0], page.title()
    assert field_error(page, "lots") == "Choisissez au moins un lot."
    assert "Choisissez au moins un lot." in error_summary(page)
    shots.take("lots-erreur")
    choose(page, "Lot 1 : Nettoyage des locaux")
    click_button(page, "Suivant")


def prefill_status(page: Any, shots: Shots, expected: str) -> None:
    """The pre-fill step: wait (the page reloads itself) until « Continuer » is enabled."""
    assert step_of(page) == "prefill"
    assert step_title(page)[3] == "Récupération de vos informations"
    page.wait_for_selector("button:has-text('Continuer'):not([disabled])", timeout=30_000)
    assert expected in main_text(page)
    shots.take("pre-remplissage")
    click_button(page, "Continuer")


def fill_identity(page: Any, email: str) -> None:
    for key, value in IDENTITY.items():
        field(page, key).fill(email if key == EMAIL else value)


# --- the tests --------------------------------------------------------------------------------


def test_a_candidate_applies_in_the_browser_and_the_editor_gets_the_dossier(
    platform,
    webhook_receiver,  # noqa: F811
    browser_page,
    browser_console,
    tmp_path,
):
    page = browser_page
    shots = Shots(page)
    form_errors = 0
    late_failures: list[str] = []
    category_titles: list[str] = []
    created = platform.create_market("Nettoyage des bâtiments communaux")
    market = created["identifier"]
    finalise_market(page, created, OPTIONAL_KEYS)
    [market_hook] = hooks_of(webhook_receiver, "market.completed")
    assert set(OPTIONAL_KEYS) <= set(json.loads(market_hook.body)["market"]["field_keys"])
    browser_console.clear()

    application = create_application_without_siret(platform, market)
    identifier = application["identifier"]
    base = f"/candidate/market_applications/{identifier}"
    files = tmp_path / "files"
    files.mkdir()
    pdf = {
        name: make_pdf(files, name, f"Piece jointe de test : {name}")
        for name in (
            "attestation-fiscale.pdf",
            "attestation-fiscale-doublon.pdf",
            "attestation-urssaf.pdf",
            "declaration-agefiph.pdf",
            "jugement-sauvegarde.pdf",
            "CV Élodie Durand.pdf",
            "CV Karim Benali.pdf",
        )
    }

    # --- the capability link opens a session, then leaves the address bar.
    page.goto(application["application_url"], wait_until="load")
    assert page.url == f"{platform.base}{base}/company_identification"
    _, _, total, _ = step_title(page)
    assert total == 9  # identification, lots, pre-fill, 4 categories, declaration, summary
    assert "Nettoyage des bâtiments communaux" in main_text(page)
    page.wait_for_selector("html[data-fr-js='true']", state="attached")
    identification(page, shots, SIRET, COMPANY, total)
    form_errors += 1

    lots(page, shots)
    form_errors += 1

    # --- pre-fill: the replicas know nothing of this SIRET; the page updates itself (script).
    prefill_status(page, shots, "Aucune information trouvée")

    # --- identity: a bad email first; everything typed is kept.
    assert step_of(page) == "identite_entreprise"
    assert step_title(page)[:2] == (False, 4)
    category_titles.append(step_title(page)[3])
    assert_no_error_shown(page)
    shots.take("identite-entreprise")
    fill_identity(page, "contact(at)oeuvres-etudes.fr")
    click_button(page, "Enregistrer et continuer")
    form_errors += 1
    assert step_title(page)[:2] == (True, 4), page.title()
    message = "Indiquez une adresse électronique valide, par exemple nom@domaine.fr."
    assert field_error(page, EMAIL) == message
    assert message in error_summary(page)
    assert page.locator(".fr-message--error").count() == 1
    for key, value in IDENTITY.items():
        shown = field(page, key).input_value()
        assert shown == ("contact(at)oeuvres-etudes.fr" if key == EMAIL else value), key
    shots.take("identite-entreprise-erreur-email")
    field(page, EMAIL).fill(IDENTITY[EMAIL])
    save_and_continue(page)

    # --- exclusion grounds: "Précédent" first, the identity answers are still there.
    assert step_of(page) == "motifs_exclusion"
    assert step_title(page)[:2] == (False, 5)
    click_link(page, "Précédent")
    assert step_of(page) == "identite_entreprise"
    assert_no_error_shown(page)
    for key, value in IDENTITY.items():
        shown = field(page, key).input_value()
        if key == PHONE:  # stored in the international form
            assert shown in (value, "+33 1 23 45 67 89"), shown
        else:
            assert shown == value, key
    shots.take("identite-entreprise-apres-precedent")
    save_and_continue(page)

    assert step_of(page) == "motifs_exclusion"
    assert_no_error_shown(page)
    category_titles.append(step_title(page)[3])
    shots.take("motifs-exclusion")
    tick(page, field(page, f"{LIQUIDATION}.choice-2"))  # "Non"
    tick(page, field(page, f"{FAILLITE}.choice"))  # "Oui", and no details
    field(page, f"{FISCAL}.files").set_input_files(
        [pdf["attestation-fiscale.pdf"], pdf["attestation-fiscale-doublon.pdf"]]
    )
    field(page, f"{SOCIAL}.files").set_input_files(pdf["attestation-urssaf.pdf"])
    field(page, f"{HANDICAP}.files").set_input_files(pdf["declaration-agefiph.pdf"])
    save_and_continue(page)
    form_errors += 1
    assert step_title(page)[:2] == (True, 5), page.title()
    message = "Vous avez répondu « Oui » : précisez votre situation ou joignez un document."
    assert field_error(page, f"{FAILLITE}.text") == message
    assert message in error_summary(page)
    assert field(page, f"{LIQUIDATION}.choice-2").is_checked()  # kept
    assert field(page, f"{FAILLITE}.choice").is_checked()
    for key, names in (
        (FISCAL, ["attestation-fiscale.pdf", "attestation-fiscale-doublon.pdf"]),
        (SOCIAL, ["attestation-urssaf.pdf"]),
        (HANDICAP, ["declaration-agefiph.pdf"]),
    ):
        listing = listed_files(page, key)
        for name in names:
            assert name in listing, (key, listing)
        assert listing.count(NOT_SCANNED) == len(names), listing
    shots.take("motifs-exclusion-erreur-et-fichiers")

    # Delete the duplicate with its button: it disappears, the others stay.
    click_button(page, "Supprimer le document attestation-fiscale-doublon.pdf")
    assert step_of(page) == "motifs_exclusion"
    assert "Le fichier a été supprimé." in main_text(page)
    assert "attestation-fiscale-doublon.pdf" not in main_text(page)
    assert "attestation-fiscale.pdf" in listed_files(page, FISCAL)
    assert (
        page.get_by_role(
            "button", name="Supprimer le document attestation-fiscale-doublon.pdf"
        ).count()
        == 0
    )
    assert field(page, f"{LIQUIDATION}.choice-2").is_checked()  # saved with the first post
    shots.take("motifs-exclusion-fichier-supprime")
    tick(page, field(page, f"{FAILLITE}.choice"))
    field(page, f"{FAILLITE}.text").fill(FAILLITE_TEXT)
    field(page, f"{FAILLITE}.files").set_input_files(pdf["jugement-sauvegarde.pdf"])
    save_and_continue(page)

    # --- economic capacity: the turnover table.
    assert step_of(page) == "capacite_economique_financiere"
    assert step_title(page)[:2] == (False, 6)
    category_titles.append(step_title(page)[3])
    assert_no_error_shown(page)
    for number, (turnover, percentage, end) in enumerate(TURNOVER_ROWS, start=1):
        field(page, f"{TURNOVER}.year{number}.turnover").fill(turnover)
        field(page, f"{TURNOVER}.year{number}.percentage").fill(percentage)
        field(page, f"{TURNOVER}.year{number}.fiscal_year_end").fill(end)
    shots.take("capacite-economique")
    save_and_continue(page)

    # --- technical capacity: two team members and one CV (an error), then the second CV.
    assert step_of(page) == "capacites_techniques_professionnelles"
    assert step_title(page)[:2] == (False, 7)
    category_titles.append(step_title(page)[3])
    assert_no_error_shown(page)
    for index, (name, role, experience) in enumerate(TEAM_ROWS):
        field(page, f"{TEAM}.rows.{index}.name").fill(name)
        field(page, f"{TEAM}.rows.{index}.role").fill(role)
        field(page, f"{TEAM}.rows.{index}.experience").fill(experience)
    field(page, f"{TEAM}.files").set_input_files(pdf["CV Élodie Durand.pdf"])
    shots.take("capacites-techniques")
    save_and_continue(page)
    form_errors += 1
    assert step_title(page)[:2] == (True, 7), page.title()
    message = "Joignez un CV par intervenant : 2 intervenant(s), 1 document(s) joint(s)."
    assert field_error(page, f"{TEAM}.files") == message
    assert message in error_summary(page)
    for index, row in enumerate(TEAM_ROWS):
        for part, value in zip(("name", "role", "experience"), row, strict=True):
            assert field(page, f"{TEAM}.rows.{index}.{part}").input_value() == value
    assert "CV Élodie Durand.pdf" in listed_files(page, TEAM)
    assert NOT_SCANNED in listed_files(page, TEAM)
    shots.take("capacites-techniques-erreur-cv")
    field(page, f"{TEAM}.files").set_input_files(pdf["CV Karim Benali.pdf"])
    save_and_continue(page)

    # --- declaration: unticked first.
    assert step_of(page) == "declaration"
    assert step_title(page)[:2] == (False, 8)
    assert "L.2141-1" in main_text(page)
    shots.take("declaration")
    click_button(page, "Suivant")
    form_errors += 1
    assert step_title(page)[:2] == (True, 8), page.title()
    message = "Cochez la case pour faire votre déclaration sur l’honneur."
    assert field_error(page, "accept") == message
    assert message in error_summary(page)
    shots.take("declaration-erreur")
    tick(page, page.get_by_label("Je fais cette déclaration sur l’honneur"))
    click_button(page, "Suivant")

    # --- summary: the answers and the files.
    assert step_of(page) == "summary"
    assert step_title(page) == (False, 9, 9, "Récapitulatif")
    shots.take("recapitulatif")
    text = main_text(page)
    nbsp = "\u00a0"
    for expected in (
        SIRET,
        COMPANY,
        "Lot 1 : Nettoyage des locaux",
        IDENTITY[EMAIL],
        "+33 1 23 45 67 89",
        "Françoise Lefèvre",
        "12 rue de l’Église, 75011 Paris",
        FAILLITE_TEXT,
        f"1{nbsp}250{nbsp}000{nbsp}€",
        f"1{nbsp}100{nbsp}000,50{nbsp}€",
        "exercice clos le 31/12/2023",
        "Élodie Durand – Cheffe d’équipe",
        "Karim Benali",
        "Déclaration sur l’honneur : faite",
    ):
        assert expected.replace(nbsp, " ") in text.replace(nbsp, " "), expected
    assert "Lot 2" not in text
    kept = [
        "attestation-fiscale.pdf",
        "attestation-urssaf.pdf",
        "declaration-agefiph.pdf",
        "jugement-sauvegarde.pdf",
        "CV Élodie Durand.pdf",
        "CV Karim Benali.pdf",
    ]
    for name in kept:
        assert f"Fichier : {name}" in text, name
    assert "attestation-fiscale-doublon.pdf" not in text
    assert text.count(NOT_SCANNED) == len(kept)
    # Every attribute is answered: none says "Non renseigné", not even those answered by files
    # only. Checked at the end of the test, so that the rest of the walk still runs.
    pairs = page.locator("main section dl dt").evaluate_all(
        "dts => dts.map(dt => [dt.textContent, dt.nextElementSibling.textContent])"
    )
    unanswered = [" ".join(t.split()) for t, d in pairs if "Non renseigné" in d]
    if unanswered:
        late_failures.append(f"the summary says « Non renseigné » for {unanswered}")
    click_button(page, "Transmettre ma candidature")

    # Each category step has a title of its own (checked at the end of the test).
    if len(set(category_titles)) != len(category_titles):
        late_failures.append(f"two category steps have the same title: {category_titles}")

    # --- confirmation: reload until the attestation is ready, then download it.
    assert step_of(page) == "confirmation"
    assert page.title() == "Candidature transmise – Passe Marché"
    assert identifier in main_text(page)
    shots.take("confirmation")
    download_link = page.get_by_role("link", name="Télécharger mon attestation")
    deadline = time.monotonic() + ATTESTATION_WAIT
    while not download_link.count():
        assert time.monotonic() < deadline, main_text(page)
        time.sleep(0.3)
        page.reload(wait_until="load")
    deadline = time.monotonic() + ATTESTATION_WAIT
    while "Transmission à Plateforme Achats Test : Transmise" not in main_text(page):
        assert time.monotonic() < deadline, main_text(page)
        time.sleep(0.3)
        page.reload(wait_until="load")
    shots.take("confirmation-attestation-prete")
    with page.expect_download() as download_info:
        download_link.click()
    download = download_info.value
    assert download.suggested_filename == f"attestation_{identifier}.pdf"
    downloaded = Path(download.path()).read_bytes()
    assert downloaded.startswith(b"%PDF-") and len(downloaded) > 1000

    back = page.get_by_role("link", name=f"Retourner sur {EDITOR}")
    href = urlsplit(back.get_attribute("href"))
    assert (href.scheme, href.netloc, href.path) == ("https", "plateforme.example", "/candidat")
    assert parse_qs(href.query) == {
        "x": ["1"],
        "market_identifier": [market],
        "application_identifier": [identifier],
    }

    # --- the webhook: one market_application.completed, signed twice.
    [hook] = hooks_of(webhook_receiver, "market_application.completed")
    time.sleep(0.3)  # a duplicate would show up by now
    assert len(hooks_of(webhook_receiver, "market_application.completed")) == 1
    assert hook.path == "/hook"
    assert_signed(hook, platform.credentials["webhook_secret"].encode())
    payload = json.loads(hook.body)
    assert payload["market_identifier"] == market
    sent = payload["market_application"]
    assert sent["identifier"] == identifier
    assert sent["siret"] == SIRET
    assert sent["company_name"] == COMPANY
    assert sent["attestation_url"].endswith(f"/api/v1/market_applications/{identifier}/attestation")

    # --- the editor downloads the attestation and the package over the API.
    response = platform.api("GET", urlsplit(sent["attestation_url"]).path)
    assert response.status == 200, response.body[:300]
    assert response.headers["content-type"] == "application/pdf"
    assert response.body.startswith(b"%PDF-")
    assert f'filename="attestation_{identifier}.pdf"' in response.headers["content-disposition"]
    response = platform.api("GET", urlsplit(sent["documents_package_url"]).path)
    assert response.status == 200, response.body[:300]
    assert response.headers["content-type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(response.body)) as package:
        names = package.namelist()
        assert f"buyer_attestation_{identifier}.pdf" in names, names
        assert package.read(f"buyer_attestation_{identifier}.pdf").startswith(b"%PDF-")
        documents = [n for n in names if n.startswith("documents/")]
        assert len(documents) == len(kept) and len(names) == len(kept) + 1, names
        expected = {
            FISCAL: "attestation-fiscale.pdf",
            SOCIAL: "attestation-urssaf.pdf",
            HANDICAP: "declaration-agefiph.pdf",
            FAILLITE: "jugement-sauvegarde.pdf",
        }
        for key, name in expected.items():
            member = [n for n in documents if n.endswith(f"_{key}_{name}")]
            assert len(member) == 1, (key, documents)
            assert re.fullmatch(r"documents/user_\d\d_\d\d_.+", member[0]), member
            assert package.read(member[0]) == pdf[name].read_bytes()
        cvs = sorted(n for n in documents if f"_{TEAM}_" in n)
        assert [n.rsplit(f"_{TEAM}_", 1)[1] for n in cvs] == [
            "CV_Elodie_Durand.pdf",
            "CV_Karim_Benali.pdf",
        ], cvs

    # --- the application is closed now.
    page.goto(f"{platform.base}{base}/identite_entreprise", wait_until="load")
    assert step_of(page) == "confirmation"
    assert "Votre candidature a déjà été transmise" in main_text(page)
    shots.take("deja-transmise")

    errors = [m for m in browser_console if m.startswith(("error", "pageerror"))]
    refused = [m for m in errors if "status of 422" in m]
    assert len(refused) == form_errors and len(errors) == len(refused), browser_console
    assert not late_failures, late_failures


def test_the_candidate_pages_work_without_javascript(
    platform,
    webhook_receiver,  # noqa: F811
    page_without_javascript,  # noqa: F811
    tmp_path,
):
    page = page_without_javascript
    shots = Shots(page)
    created = platform.create_market("Fournitures sans script")
    finalise_market(page, created, ())
    application = create_application_without_siret(platform, created["identifier"])
    upload = make_pdf(tmp_path, "attestation fiscale sans script.pdf", "Sans JavaScript")

    page.goto(application["application_url"], wait_until="load")
    assert page.locator("html").get_attribute("data-fr-js") is None  # no script ran
    _, _, total, _ = step_title(page)
    identification(page, shots, OTHER_SIRET, "Entreprise Sans Script", total)
    lots(page, shots)
    prefill_status(page, shots, "Aucune information trouvée")  # a <noscript> meta refresh

    # Straight to the exclusion grounds (the identity step is left for later).
    assert step_of(page) == "identite_entreprise"
    page.goto(
        f"{platform.base}/candidate/market_applications/{application['identifier']}"
        "/motifs_exclusion",
        wait_until="load",
    )
    assert_no_error_shown(page)
    field(page, f"{FISCAL}.files").set_input_files(upload)
    tick(page, field(page, f"{LIQUIDATION}.choice-2"))
    shots.take("motifs-exclusion")
    save_and_continue(page)  # the other answers are missing: errors, the file is kept
    assert step_title(page)[0], page.title()
    assert "attestation fiscale sans script.pdf" in listed_files(page, FISCAL)
    assert NOT_SCANNED in listed_files(page, FISCAL)
    assert field(page, f"{LIQUIDATION}.choice-2").is_checked()
    assert field_error(page, f"{SOCIAL}.files") == "Joignez au moins un document."
    shots.take("motifs-exclusion-erreurs")

    page.goto(
        f"{platform.base}/candidate/market_applications/{application['identifier']}/summary",
        wait_until="load",
    )
    assert step_title(page)[3] == "Récapitulatif"
    text = main_text(page)
    assert OTHER_SIRET in text and "Entreprise Sans Script" in text
    assert "Fichier : attestation fiscale sans script.pdf" in text
    assert NOT_SCANNED in text
    assert "Déclaration sur l’honneur : à faire" in text
    shots.take("recapitulatif")


def test_a_sandbox_siret_is_prefilled_in_the_browser(
    server_env,  # noqa: F811
    start_server,
    webhook_receiver,  # noqa: F811
    replicas,
    browser_page,
    browser_console,
):
    """The demo SIRET: the status page fills up by itself, then the identity step shows the
    company's data read-only with its source, and the attestations are already there."""
    options = ["--name", "Éditeur pré-remplissage", "--webhook-url", webhook_receiver.url]
    credentials = json.loads(_cli(server_env, "editor", "create", *options, "--json"))
    platform = Platform(start_server(workers=1, CLAMD_URL="", **replicas), credentials)
    platform.get_token()
    page = browser_page
    shots = Shots(page)
    created = platform.create_market("Marché pré-rempli")
    finalise_market(page, created, ())
    response = platform.api(
        "POST",
        f"/api/v1/public_markets/{created['identifier']}/market_applications",
        {"market_application": {"siret": "13002526500013"}},
    )
    assert response.status == 201, response.body
    page.goto(response.json()["application_url"], wait_until="load")
    page.get_by_label("Raison sociale").fill("DINUM")
    click_button(page, "Suivant")
    if step_of(page) == "lots":
        choose(page, "Lot 1 : Nettoyage des locaux")
        click_button(page, "Suivant")
    prefill_status(page, shots, "Récupéré")
    assert step_of(page) == "identite_entreprise"
    # The buyer's name, looked up from its SIRET (the demo one) after the market's creation.
    assert "acheteur : DIRECTION INTERMINISTERIELLE DU NUMERIQUE" in main_text(page)
    text = main_text(page)
    assert "DIRECTION INTERMINISTERIELLE DU NUMERIQUE" in text
    assert "Récupéré automatiquement" in text
    assert "INSEE — répertoire Sirene" in text
    assert page.locator("[name='identite_entreprise_identification_raison_sociale']").count() == 0
    shots.take("identite-pre-remplie")
    field(page, EMAIL).fill("contact@dinum.example")
    field(page, "identite_entreprise_contact_telephone").fill("01 23 45 67 89")
    save_and_continue(page)
    assert step_of(page) == "motifs_exclusion"
    text = main_text(page)
    assert "attestation_vigilance_urssaf_130025265.pdf" in text
    assert "Aucune annonce publiée au BODACC" in text
    shots.take("motifs-exclusion-pre-remplis")
    assert [m for m in browser_console if m.startswith("error")] == []
