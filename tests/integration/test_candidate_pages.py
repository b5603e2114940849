"""The candidate's pages, through the Flask test client, on SQLite and PostgreSQL: the capability
link and the magic link, the steps and their titles, identification, lots, the category steps
(every error at once, typed values kept, auto-save), uploads (type by content, archives, size,
antivirus with the real clamd of `test_antivirus_clamd`), deletion, CSRF, the declaration, the
summary, the submission and what follows it, the security headers and the attestation route.

The published catalogue is loaded, the market created over the API and finalised by the service
(mandatory attributes only); jobs and mails are recorded, never run nor sent."""

from __future__ import annotations

import gzip
import io
import re
import zipfile
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from passemarche.adapters.antivirus import NoAntivirus, scanner_from_url
from passemarche.adapters.uploads import UploadReceiver
from passemarche.domain.application import DocumentKind, document_storage_key
from passemarche.entrypoints.web.security import CONTENT_SECURITY_POLICY
from passemarche.services import market_configuration as configuration
from passemarche.services import submission
from passemarche.services.ports import MailMessage

from tests.integration import test_buyer_pages as buyer_pages
from tests.integration.test_antivirus_clamd import CLEAN_PDF, EICAR, clamd_socket  # noqa: F401
from tests.integration.test_buyer_pages import (
    NO_LOTS,
    TWO_LOTS,
    Page,
    path_of,
    plain,
    redirect_path,
)
from tests.support import RecordingMailer

SIRET = "73282932000074"
OTHER_SIRET = "35600000000048"
INVALID_SIRET = "12345678901234"

IDENTITY = "identite_entreprise"
EXCLUSION = "motifs_exclusion"
IDENTITY_TITLE = "Les informations du marché et de votre entreprise"
EXCLUSION_TITLE = "Les justificatifs relatifs aux motifs d'exclusion"  # the label most rows give

CONTACT_EMAIL = "identite_entreprise_contact_email"
PHONE = "identite_entreprise_contact_telephone"
COMPANY = "identite_entreprise_identification_raison_sociale"
LIQUIDATION = "motifs_exclusion_fiscales_et_sociales_liquidation_judiciaire"
FAILLITE = "motifs_exclusion_fiscales_et_sociales_faillite_interdiction"
FISCAL = "motifs_exclusion_fiscales_et_sociales_declarations_fiscales"
SOCIAL = "motifs_exclusion_fiscales_et_sociales_declarations_cotisations_sociales"
HANDICAP = "motifs_exclusion_fiscales_et_sociales_travailleurs_handicapes"
FILE_KEYS = [FISCAL, SOCIAL, HANDICAP]

IDENTITY_ANSWERS = {
    "identite_entreprise_identification_siret": SIRET,
    "identite_entreprise_identification_activite_principale": "Fabrication d’ordinateurs",
    COMPANY: "Société d’Études « Œuvre »",
    "identite_entreprise_identification_nom_prenom": "Françoise Lefèvre",
    "identite_entreprise_identification_categorie": "PME",
    "identite_entreprise_identification_adresse_siege_social": "1 rue de la Paix, 75002 Paris",
    CONTACT_EMAIL: "contact@exemple.fr",
    PHONE: "01 23 45 67 89",
}

SITE = " – Passe Marché"
ALREADY_SUBMITTED = "Votre candidature a déjà été transmise"
MISMATCH = "Le contenu du fichier ne correspond pas à son extension."
ARCHIVES_REFUSED = "Les archives ne sont pas acceptées"
EXECUTABLE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + bytes(512)
NOT_SCANNED = "non vérifié"


# The buyer pages' fixtures: the published catalogue loaded, and a recording job queue.
catalogue = buyer_pages.catalogue
jobs = buyer_pages.jobs


# --- Fakes ------------------------------------------------------------------------------------


# --- The candidate ----------------------------------------------------------------------------


class Candidate:
    """A browser that followed `application_url` (or not yet)."""

    def __init__(self, client: Any, identifier: str, application_url: str) -> None:
        self.client = client
        self.identifier = identifier
        self.application_url = application_url
        self.token = dict(parse_qsl(urlsplit(application_url).query))["token"]
        self._csrf: str | None = None

    def url(self, step: str) -> str:
        return f"/candidate/market_applications/{self.identifier}/{step}"

    def open(self) -> Page:
        first = self.client.get(path_of(self.application_url))
        assert first.status_code == 303, first.get_data(as_text=True)[:500]
        location = redirect_path(first)
        assert "token" not in location
        assert location == self.url("company_identification")
        page = self.get_path(location)
        assert page.status == 200, page.html[:500]
        self._csrf = page.csrf_token
        return page

    def get_path(self, path: str) -> Page:
        return Page(self.client.get(path))

    def get(self, step: str) -> Page:
        return self.get_path(self.url(step))

    @property
    def csrf(self) -> str:
        if self._csrf is None:
            self._csrf = self.get("company_identification").csrf_token
        return self._csrf

    def post(
        self, step: str, data: dict[str, Any] | None = None, csrf: bool = True, **kwargs: Any
    ) -> Any:
        form = dict(data or {})
        if csrf:
            form["csrf_token"] = self.csrf
        return self.client.post(self.url(step), data=form, **kwargs)

    def post_files(self, step: str, data: dict[str, Any], **kwargs: Any) -> Any:
        return self.post(step, data, content_type="multipart/form-data", **kwargs)

    def follow(self, response: Any) -> Page:
        return self.get_path(redirect_path(response))


def upload(content: bytes, name: str) -> tuple[io.BytesIO, str]:
    return (io.BytesIO(content), name)


def pdf(label: str = "attestation", size: int = 0) -> bytes:
    return CLEAN_PDF + f"% {label}\n".encode() + b"0" * size


def exclusion_form(**files: Any) -> dict[str, Any]:
    form: dict[str, Any] = {f"{LIQUIDATION}.choice": "non", f"{FAILLITE}.choice": "non"}
    for key, file in files.items():
        form[f"{key}.files"] = file
    return form


# --- The world --------------------------------------------------------------------------------


@pytest.fixture
def mailer(container):
    recording = RecordingMailer()
    container.mailer = recording
    return recording


@pytest.fixture
def new_market(container, catalogue, jobs):
    def make(editor: Any, lots: bool = False, lot_limit: int | None = None) -> str:
        response = editor.create_market(**(TWO_LOTS if lots else NO_LOTS))
        assert response.status_code == 201, response.get_json()
        identifier = response.get_json()["identifier"]
        if lot_limit is not None:
            configuration.save_lot_limit(container.uow(), identifier, lot_limit)
        configuration.finalise_configuration(container.uow(), container.clock, jobs, identifier)
        return identifier

    return make


@pytest.fixture
def market(new_market, editor):
    return new_market(editor)


@pytest.fixture
def new_candidate(app, editor):
    def make(market_identifier: str, siret: str | None = SIRET, client: Any = None) -> Candidate:
        fields = {"siret": siret} if siret else {}
        response = editor.post(
            f"/api/v1/public_markets/{market_identifier}/market_applications",
            {"market_application": fields},
        )
        assert response.status_code == 201, response.get_json()
        body = response.get_json()
        return Candidate(client or app.test_client(), body["identifier"], body["application_url"])

    return make


@pytest.fixture
def candidate(new_candidate, market):
    """An application with the editor's SIRET, its link opened."""
    opened = new_candidate(market)
    opened.open()
    return opened


def stored_documents(container: Any, identifier: str) -> list[Any]:
    with container.uow() as uow:
        return [(d.id, d.attribute_key, d.original_name, d.scan, d.storage_key)
                for d in uow.documents.for_application(identifier)]  # fmt: skip


def stored_uploads(container: Any) -> list[Path]:
    root = Path(container.config.storage_dir) / "uploads"
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def summary_messages(page: Page) -> list[str]:
    summary = page.by_id("resume-des-erreurs")
    assert summary is not None, page.html[:800]
    return [item.text for item in page.find("li", within=summary)]


def field_error(page: Page, name: str) -> str:
    """The summary's message linked to the field `name` (the summary uses `field_id`)."""
    messages = [text for href, text in page.error_summary if href == f"#{_field_id(page, name)}"]
    assert len(messages) == 1, (name, page.error_summary)
    return messages[0]


def _field_id(page: Page, name: str) -> str:
    controls = page.inputs(name) or page.find("textarea", name=name)
    assert controls, name
    identifier = controls[0].get("id") or ""
    # Groups (radios) are linked by their fieldset; single controls by their own id.
    hrefs = {href[1:] for href, _ in page.error_summary}
    if identifier in hrefs:
        return identifier
    for ancestor in controls[0].ancestors:
        if ancestor.get("id") in hrefs:
            return ancestor.get("id") or ""
    return identifier


def application_status(editor: Any, identifier: str) -> dict[str, Any]:
    response = editor.get(f"/api/v1/market_applications/{identifier}")
    assert response.status_code == 200
    return response.get_json()


def fill_everything(candidate: Candidate, company: str = "Société d’Études") -> None:
    response = candidate.post("company_identification", {"company_name": company})
    assert response.status_code in (302, 303), response.get_data(as_text=True)[:800]
    response = candidate.post_files(IDENTITY, dict(IDENTITY_ANSWERS))
    assert response.status_code in (302, 303), response.get_data(as_text=True)[:800]
    files = {key: upload(pdf(key), f"{key[-12:]}.pdf") for key in FILE_KEYS}
    response = candidate.post_files(EXCLUSION, exclusion_form(**files))
    assert response.status_code in (302, 303), response.get_data(as_text=True)[:800]
    response = candidate.post("declaration", {"accept": "1"})
    assert redirect_path(response) == candidate.url("summary")


# --- Access -----------------------------------------------------------------------------------


def test_the_link_opens_the_pages_and_its_token_leaves_the_address(candidate):
    page = candidate.get("company_identification")
    assert page.status == 200
    assert candidate.token not in page.html
    assert candidate.get(IDENTITY).status == 200


def test_the_token_is_dropped_from_any_page_of_the_area(new_candidate, market):
    opened = new_candidate(market)
    response = opened.client.get(opened.url(IDENTITY) + f"?token={opened.token}")
    assert response.status_code == 303
    assert redirect_path(response) == opened.url(IDENTITY)


@pytest.mark.parametrize("token", ["", "faux-jeton", "é"])
def test_a_wrong_token_is_a_french_403(new_candidate, market, token):
    opened = new_candidate(market)
    page = opened.get_path(opened.url("company_identification") + f"?token={token}")
    assert page.status == 403
    assert "Lien invalide ou expiré" in page.html
    assert opened.get("company_identification").status == 403  # nothing was granted


def test_no_token_and_no_grant_is_a_french_403(new_candidate, market):
    opened = new_candidate(market)
    for step in ("company_identification", IDENTITY, "summary", "confirmation"):
        page = opened.get(step)
        assert page.status == 403, step
        assert "Accès non autorisé" in page.html
    response = opened.client.post(opened.url(IDENTITY), data={})
    assert response.status_code in (400, 403)


def test_the_grant_is_limited_to_that_application(new_candidate, market, app):
    client = app.test_client()
    first = new_candidate(market, client=client)
    second = new_candidate(market, siret=OTHER_SIRET, client=client)
    first.open()
    assert first.get(IDENTITY).status == 200
    page = second.get("company_identification")
    assert page.status == 403
    assert "Accès non autorisé" in page.html
    # The first application's token does not open the second one either.
    page = second.get_path(second.url("company_identification") + f"?token={first.token}")
    assert page.status == 403
    assert "Lien invalide ou expiré" in page.html


# --- Steps ------------------------------------------------------------------------------------


def test_steps_and_titles_without_lots(candidate):
    expected = [
        ("company_identification", "Identification de l’entreprise"),
        ("prefill", "Récupération de vos informations"),
        (IDENTITY, IDENTITY_TITLE),
        (EXCLUSION, EXCLUSION_TITLE),
        ("declaration", "Déclaration sur l’honneur"),
        ("summary", "Récapitulatif"),
    ]
    for number, (step, title) in enumerate(expected, start=1):
        page = candidate.get(step)
        assert page.status == 200, step
        assert plain(page.title) == plain(f"Étape {number} sur 6 – {title}{SITE}")
    assert candidate.get("lots").status == 404


def test_steps_and_titles_with_lots(new_market, new_candidate, editor):
    opened = new_candidate(new_market(editor, lots=True))
    opened.open()
    assert opened.get("company_identification").title == (
        f"Étape 1 sur 7 – Identification de l’entreprise{SITE}"
    )
    assert opened.get("lots").title == f"Étape 2 sur 7 – Lots{SITE}"
    assert opened.get("prefill").title == f"Étape 3 sur 7 – Récupération de vos informations{SITE}"
    assert plain(opened.get(IDENTITY).title) == plain(f"Étape 4 sur 7 – {IDENTITY_TITLE}{SITE}")
    assert opened.get("summary").title == f"Étape 7 sur 7 – Récapitulatif{SITE}"


def test_an_error_is_said_in_the_title(candidate):
    page = Page(candidate.post("company_identification", {"company_name": ""}))
    assert page.status == 422
    assert page.title == f"Erreur : Étape 1 sur 6 – Identification de l’entreprise{SITE}"


# --- Identification ---------------------------------------------------------------------------


def test_an_invalid_siret_is_a_422_in_french_and_keeps_what_was_typed(new_candidate, market):
    opened = new_candidate(market, siret=None)
    page = opened.open()
    assert opened.csrf and page.values("siret") == [""]
    page = Page(
        opened.post("company_identification", {"siret": INVALID_SIRET, "company_name": "ACME"})
    )
    assert page.status == 422
    assert field_error(page, "siret") == "Le numéro de SIRET saisi est invalide ou non reconnu."
    assert page.values("siret") == [INVALID_SIRET]
    assert page.values("company_name") == ["ACME"]


def test_a_valid_typed_siret_is_saved(new_candidate, market, editor):
    opened = new_candidate(market, siret=None)
    opened.open()
    response = opened.post("company_identification", {"siret": SIRET, "company_name": "ACME"})
    assert redirect_path(response) == opened.url("prefill")
    assert application_status(editor, opened.identifier)["siret"] == SIRET
    page = opened.get("company_identification")
    assert page.inputs("siret") == []  # confirmed once: read-only from now on
    assert SIRET in page.main_text


def test_the_editors_siret_is_read_only_and_cannot_be_changed(candidate, editor):
    page = candidate.get("company_identification")
    assert page.inputs("siret") == []
    assert f"SIRET : {SIRET}" in page.main_text
    response = candidate.post(
        "company_identification", {"siret": OTHER_SIRET, "company_name": "ACME"}
    )
    assert redirect_path(response) == candidate.url("prefill")
    assert application_status(editor, candidate.identifier)["siret"] == SIRET
    assert OTHER_SIRET not in candidate.get("company_identification").html


def test_a_siret_already_used_on_the_market_is_refused(new_candidate, market, editor):
    new_candidate(market, siret=SIRET)
    opened = new_candidate(market, siret=None)
    opened.open()
    page = Page(opened.post("company_identification", {"siret": SIRET, "company_name": "ACME"}))
    assert page.status == 422
    assert field_error(page, "siret") == "Une candidature existe déjà pour ce SIRET sur ce marché."
    assert application_status(editor, opened.identifier)["siret"] is None


def test_the_company_name_is_required(candidate):
    page = Page(candidate.post("company_identification", {"company_name": "  "}))
    assert page.status == 422
    assert field_error(page, "company_name") == "Indiquez la raison sociale de votre entreprise."


# --- Lots -------------------------------------------------------------------------------------


@pytest.fixture
def lots_candidate(new_market, new_candidate, editor):
    opened = new_candidate(new_market(editor, lots=True, lot_limit=1))
    opened.open()
    return opened


def test_no_lot_is_refused(lots_candidate):
    page = Page(lots_candidate.post("lots", {}))
    assert page.status == 422
    assert field_error(page, "lots") == "Choisissez au moins un lot."


def test_more_lots_than_the_limit_are_refused_and_the_choice_kept(lots_candidate):
    page = Page(lots_candidate.post("lots", {"lots": ["1", "2"]}))
    assert page.status == 422
    assert field_error(page, "lots") == "Vous pouvez choisir au plus 1 lot(s)."
    assert sorted(page.checked("lots")) == ["1", "2"]


def test_a_lot_within_the_limit_is_saved(lots_candidate):
    response = lots_candidate.post("lots", {"lots": ["2"]})
    assert redirect_path(response) == lots_candidate.url("prefill")
    assert lots_candidate.get("lots").checked("lots") == ["2"]


# --- Category steps ---------------------------------------------------------------------------


def test_every_error_of_a_page_at_once_and_typed_values_kept(candidate):
    typed = dict(IDENTITY_ANSWERS)
    typed[CONTACT_EMAIL] = "pas-une-adresse"
    typed[PHONE] = "12"
    typed[COMPANY] = ""
    page = Page(candidate.post_files(IDENTITY, typed))
    assert page.status == 422
    assert len(page.error_summary) == 3, page.error_summary
    assert field_error(page, CONTACT_EMAIL).startswith("Indiquez une adresse électronique")
    assert "10 chiffres" in field_error(page, PHONE)
    assert field_error(page, COMPANY) == "Renseignez ce champ."
    for key, value in typed.items():
        assert page.values(key) == [value], key


def test_answers_are_saved_and_shown_again(candidate):
    response = candidate.post_files(IDENTITY, dict(IDENTITY_ANSWERS))
    assert redirect_path(response) == candidate.url(EXCLUSION)
    page = candidate.get(IDENTITY)
    shown = dict(IDENTITY_ANSWERS, **{PHONE: "+33 1 23 45 67 89"})  # stored normalised
    for key, value in shown.items():
        assert page.values(key) == [value], key


def test_the_valid_answers_of_a_page_with_errors_are_saved(candidate):
    typed = dict(IDENTITY_ANSWERS, **{PHONE: "12"})
    assert candidate.post_files(IDENTITY, typed).status_code == 422
    page = candidate.get(IDENTITY)
    assert page.values(CONTACT_EMAIL) == [IDENTITY_ANSWERS[CONTACT_EMAIL]]


def test_radio_choices_are_kept_after_an_error(candidate):
    page = Page(candidate.post_files(EXCLUSION, {f"{LIQUIDATION}.choice": "non"}))
    assert page.status == 422
    assert page.checked(f"{LIQUIDATION}.choice") == ["non"]
    assert page.checked(f"{FAILLITE}.choice") == []
    assert field_error(page, f"{FAILLITE}.choice") == "Répondez « Oui » ou « Non »."
    for key in FILE_KEYS:
        assert field_error(page, f"{key}.files") == "Joignez au moins un document."


# --- Uploads ----------------------------------------------------------------------------------


def test_a_pdf_that_is_an_executable_is_refused_and_not_stored(candidate, container):
    form = exclusion_form(**{FISCAL: upload(EXECUTABLE, "devis.pdf")})
    page = Page(candidate.post_files(EXCLUSION, form))
    assert page.status == 422
    assert field_error(page, f"{FISCAL}.files") == f"devis.pdf : {MISMATCH}"
    assert stored_documents(container, candidate.identifier) == []
    assert stored_uploads(container) == []


def test_an_executable_is_refused_even_beside_an_accepted_file(candidate, container):
    form = exclusion_form(**{FISCAL: [upload(pdf(), "bon.pdf"), upload(EXECUTABLE, "devis.pdf")]})
    page = Page(candidate.post_files(EXCLUSION, form))
    assert page.status == 422
    assert field_error(page, f"{FISCAL}.files") == f"devis.pdf : {MISMATCH}"
    assert [d[2] for d in stored_documents(container, candidate.identifier)] == ["bon.pdf"]


def _zip_bytes() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        # Stored, not deflated: the member's "%PDF-" stands in the archive's first bytes.
        archive.writestr("facture.pdf", pdf(), compress_type=zipfile.ZIP_STORED)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("content", "name"),
    [
        (_zip_bytes(), "pieces.zip"),
        (_zip_bytes(), "rapport.docx"),
        (_zip_bytes(), "facture.pdf"),  # a ZIP whose stored member is a PDF: no PDF itself
        (gzip.compress(pdf()), "x.pdf"),
    ],
)
def test_an_archive_is_refused(candidate, container, content, name):
    page = Page(candidate.post_files(EXCLUSION, exclusion_form(**{FISCAL: upload(content, name)})))
    assert page.status == 422
    message = field_error(page, f"{FISCAL}.files")
    assert message.startswith(f"{name} : ")
    # A ZIP sent as `.pdf` may also be told its content does not suit its extension.
    assert ARCHIVES_REFUSED in message or (name.endswith(".pdf") and MISMATCH in message)
    assert stored_documents(container, candidate.identifier) == []
    assert stored_uploads(container) == []


def test_without_antivirus_the_file_is_stored_and_said_not_verified(candidate, container):
    assert isinstance(container.scanner, NoAntivirus)
    form = exclusion_form(**{FISCAL: upload(pdf(), "impots.pdf")})
    candidate.post_files(EXCLUSION, form)
    ((_, key, name, scan, storage_key),) = stored_documents(container, candidate.identifier)
    assert (key, name, scan) == (FISCAL, "impots.pdf", "not_scanned")
    assert container.storage.stat(storage_key) is not None
    page = candidate.get(EXCLUSION)
    assert "impots.pdf" in page.main_text
    assert NOT_SCANNED in page.main_text
    assert NOT_SCANNED in candidate.get("summary").main_text


def test_the_real_clamd_refuses_eicar_and_never_stores_it(candidate, container, clamd_socket):  # noqa: F811
    container.scanner = scanner_from_url(f"unix://{clamd_socket}")
    form = exclusion_form(**{FISCAL: upload(EICAR, "notes.txt")})
    page = Page(candidate.post_files(EXCLUSION, form))
    assert page.status == 422
    message = field_error(page, f"{FISCAL}.files")
    assert message.startswith("notes.txt : ")
    assert "virus" in message
    assert stored_documents(container, candidate.identifier) == []
    assert stored_uploads(container) == []


def test_the_real_clamd_passes_a_clean_pdf(candidate, container, clamd_socket):  # noqa: F811
    container.scanner = scanner_from_url(f"unix://{clamd_socket}")
    form = exclusion_form(**{FISCAL: upload(pdf(), "impots.pdf")})
    candidate.post_files(EXCLUSION, form)
    ((_, _, name, scan, storage_key),) = stored_documents(container, candidate.identifier)
    assert (name, scan) == ("impots.pdf", "clean")
    with container.storage.open(storage_key) as file:
        assert file.read() == pdf()
    page = candidate.get(EXCLUSION)
    assert "aucun virus détecté" in page.main_text
    assert NOT_SCANNED not in page.main_text


@pytest.fixture
def small_uploads(container, tmp_path):
    container.uploads = UploadReceiver(max_bytes=50 * 1024, temp_dir=tmp_path / "incoming")
    return container.uploads


def test_an_upload_over_the_limit_is_refused_in_french(candidate, container, small_uploads):
    form = exclusion_form(**{FISCAL: upload(pdf(size=60 * 1024), "gros.pdf")})
    response = candidate.post_files(EXCLUSION, form)
    assert response.status_code in (413, 422)
    if response.status_code == 422:
        message = field_error(Page(response), f"{FISCAL}.files")
        assert message == "gros.pdf : Le fichier dépasse la taille maximale de 50 Ko."
    assert stored_documents(container, candidate.identifier) == []
    assert stored_uploads(container) == []
    assert list((small_uploads.temp_dir or Path("/nonexistent")).glob("*")) == []


def test_a_body_over_the_request_limit_is_a_413(candidate, container, small_uploads):
    form = exclusion_form(**{FISCAL: upload(pdf(size=2 * 1024 * 1024), "enorme.pdf")})
    response = candidate.post_files(EXCLUSION, form)
    assert response.status_code == 413
    assert stored_documents(container, candidate.identifier) == []
    assert stored_uploads(container) == []


def test_a_document_is_deleted_with_csrf(candidate, container):
    candidate.post_files(EXCLUSION, exclusion_form(**{FISCAL: upload(pdf(), "impots.pdf")}))
    ((document_id, *_, storage_key),) = stored_documents(container, candidate.identifier)
    page = candidate.get(EXCLUSION)
    delete_url = candidate.url(f"documents/{document_id}/delete")
    # The delete button sits next to its file and posts the step's form (with its CSRF field).
    assert page.one("button", formaction=delete_url) is not None

    refused = candidate.client.post(delete_url, data={"step": EXCLUSION})
    assert refused.status_code == 400
    assert "Formulaire expiré" in refused.get_data(as_text=True)
    assert container.storage.stat(storage_key) is not None

    response = candidate.client.post(
        delete_url, data={"step": EXCLUSION, "csrf_token": candidate.csrf}
    )
    assert redirect_path(response) == candidate.url(EXCLUSION)
    assert stored_documents(container, candidate.identifier) == []
    assert container.storage.stat(storage_key) is None
    page = candidate.follow(response)
    assert "impots.pdf" not in page.main_text
    assert "Le fichier a été supprimé." in page.main_text


def test_a_step_posted_without_csrf_is_refused(candidate, container):
    response = candidate.post_files(
        EXCLUSION, exclusion_form(**{FISCAL: upload(pdf(), "impots.pdf")}), csrf=False
    )
    assert response.status_code == 400
    assert "Formulaire expiré" in response.get_data(as_text=True)
    assert stored_documents(container, candidate.identifier) == []
    assert (
        candidate.post("company_identification", {"company_name": "X"}, csrf=False).status_code
        == 400
    )


# --- Declaration, summary, submission ---------------------------------------------------------


def test_the_declaration_is_required(candidate):
    page = Page(candidate.post("declaration", {}))
    assert page.status == 422
    assert field_error(page, "accept") == (
        "Cochez la case pour faire votre déclaration sur l’honneur."
    )
    response = candidate.post("declaration", {"accept": "1"})
    assert redirect_path(response) == candidate.url("summary")
    assert candidate.get("declaration").checked("accept") == ["1"]


def test_the_summary_lists_what_is_missing(candidate, jobs, editor):
    page = Page(candidate.post("summary"))
    assert page.status == 422
    text = " ".join(summary_messages(page))
    assert "Renseignez « Email »" in text
    assert "Acceptez la déclaration sur l’honneur." in text
    assert application_status(editor, candidate.identifier)["status"] == "in_progress"
    assert [c for c in jobs.calls if c[0] == submission.GENERATE_DOCUMENTS] == []


@pytest.mark.parametrize(
    ("scan", "message"),
    [
        ("pending", "encore en cours d’analyse antivirus"),
        ("failed", "n’a pas pu être analysé par l’antivirus"),
    ],
)
def test_a_pending_or_failed_scan_blocks_the_submission(
    candidate, container, editor, scan, message
):
    fill_everything(candidate)
    with container.uow() as uow:
        document = uow.documents.for_application(candidate.identifier)[0]
        document.scan = scan
        uow.commit()
    page = Page(candidate.post("summary"))
    assert page.status == 422
    assert message in page.main_text
    assert application_status(editor, candidate.identifier)["status"] == "in_progress"


def test_a_complete_application_is_submitted(candidate, container, jobs, editor):
    fill_everything(candidate)
    summary = candidate.get("summary")
    assert "Société d’Études" in summary.main_text
    response = candidate.post("summary")
    assert redirect_path(response) == candidate.url("confirmation")
    page = candidate.follow(response)
    assert page.status == 200
    assert "Candidature transmise" in page.title
    assert application_status(editor, candidate.identifier)["status"] == "completed"
    generated = [c for c in jobs.calls if c[0] == submission.GENERATE_DOCUMENTS]
    assert generated == [
        (submission.GENERATE_DOCUMENTS, (candidate.identifier, "http://localhost"), None)
    ]

    for step in ("company_identification", IDENTITY, EXCLUSION, "declaration", "summary"):
        response = candidate.client.get(candidate.url(step))
        assert redirect_path(response) == candidate.url("confirmation"), step
        assert ALREADY_SUBMITTED in candidate.follow(response).main_text
    response = candidate.post_files(IDENTITY, dict(IDENTITY_ANSWERS))
    assert redirect_path(response) == candidate.url("confirmation")
    # Submitting twice is harmless.
    again = candidate.post("summary")
    assert redirect_path(again) == candidate.url("confirmation")
    assert len([c for c in jobs.calls if c[0] == submission.GENERATE_DOCUMENTS]) == 1


# --- Magic link -------------------------------------------------------------------------------


def _login(app: Any, candidate: Candidate, email: str) -> Any:
    client = app.test_client()
    page = Page(client.get(candidate.url("login")))
    assert page.status == 200
    return client, client.post(
        candidate.url("login"), data={"email": email, "csrf_token": page.csrf_token}
    )


def _link_of(message: MailMessage) -> str:
    (link,) = re.findall(r"https?://\S+", message.text)
    return link


def test_a_magic_link_is_mailed_and_opens_the_application_once(candidate, app, mailer):
    candidate.post_files(IDENTITY, dict(IDENTITY_ANSWERS))
    client, response = _login(app, candidate, "Contact@Exemple.fr ")
    assert response.status_code == 200
    assert "Vérifiez votre messagerie" in response.get_data(as_text=True)
    (message,) = mailer.sent
    assert message.to == "contact@exemple.fr"
    link = _link_of(message)
    assert path_of(link).startswith(candidate.url("verify") + "?token=")

    assert client.get(candidate.url(IDENTITY)).status_code == 403
    response = client.get(path_of(link))
    assert response.status_code == 303
    location = redirect_path(response)
    assert "token" not in location
    assert location == candidate.url("company_identification")
    assert client.get(location).status_code == 200
    assert client.get(candidate.url(IDENTITY)).status_code == 200

    other = app.test_client()
    page = Page(other.get(path_of(link)))
    assert page.status == 403
    assert other.get(candidate.url(IDENTITY)).status_code == 403


def test_another_email_gets_the_same_page_but_no_mail(candidate, app, mailer):
    candidate.post_files(IDENTITY, dict(IDENTITY_ANSWERS))
    _, right = _login(app, candidate, "contact@exemple.fr")
    mailer.sent.clear()
    _, wrong = _login(app, candidate, "autre@exemple.fr")
    assert wrong.status_code == right.status_code == 200
    assert "Vérifiez votre messagerie" in wrong.get_data(as_text=True)
    assert mailer.sent == []


def test_a_made_up_token_is_refused(candidate, app):
    client = app.test_client()
    page = Page(client.get(candidate.url("verify") + "?token=inventé"))
    assert page.status == 403
    assert client.get(candidate.url(IDENTITY)).status_code == 403


# --- Security headers, attestation ------------------------------------------------------------


def test_candidate_pages_carry_the_security_headers(candidate, app):
    responses = [
        candidate.client.get(candidate.url(step))
        for step in ("company_identification", IDENTITY, "summary")
    ]
    responses.append(app.test_client().get(candidate.url("login")))
    responses.append(app.test_client().get(candidate.url("company_identification")))  # 403
    for response in responses:
        assert response.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
        assert response.headers["X-Frame-Options"] == "DENY"
        assert response.headers["Referrer-Policy"] == "same-origin"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Cache-Control"] == "no-store"
    first = app.test_client().get(path_of(candidate.application_url))
    cookie = first.headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie


def test_the_attestation_needs_the_grant_and_exists_only_once_generated(
    candidate, container, app, jobs
):
    url = candidate.url("attestation")
    assert app.test_client().get(url).status_code == 403
    assert candidate.client.get(url).status_code == 404
    fill_everything(candidate)
    candidate.post("summary")
    assert candidate.client.get(url).status_code == 404
    submission.generate_documents(
        container.uow(), container.clock, container.storage, container.renderer,
        container.packager, jobs, candidate.identifier, "http://localhost",
    )  # fmt: skip
    assert container.storage.stat(
        document_storage_key(DocumentKind.ATTESTATION, candidate.identifier)
    )
    response = candidate.client.get(url)
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    assert response.get_data().startswith(b"%PDF")
    assert app.test_client().get(url).status_code == 403
    page = candidate.get("confirmation")
    assert page.links() and any(a.get("href") == url for a in page.links())
