"""Pre-fill end to end, over real HTTP to the API Entreprise and BODACC replicas (threads on
127.0.0.1), with the in-process job runner: the candidate confirms its identity, the sources are
fetched in the background, the status page ends, the category steps show the pre-filled values
read-only (and the manual ones with their reason), and the attestations and the package carry
the values with their origin and the downloaded attestations under `documents/api_…`.

Also: nothing configured (everything by hand, and said so), a failing source (manual inputs with
the reason), a BODACC finding the candidate explains, and the global deadline."""

from __future__ import annotations

import io
import time
import zipfile
from collections.abc import Iterator
from typing import Any

import pypdf
import pytest
from passemarche.config import Config
from passemarche.entrypoints.bootstrap import Container, bootstrap
from passemarche.sandbox import create_bodacc_app, create_sandbox_app, serve_in_thread
from passemarche.services import market_configuration as configuration
from werkzeug.serving import make_server

from tests.integration.conftest import make_config
from tests.integration.test_buyer_pages import NO_LOTS, Page, redirect_path
from tests.integration.test_buyer_pages import catalogue as catalogue  # noqa: F401 - fixture
from tests.integration.test_candidate_pages import (
    CONTACT_EMAIL,
    EXCLUSION,
    FAILLITE,
    FISCAL,
    IDENTITY,
    LIQUIDATION,
    PHONE,
    SOCIAL,
    Candidate,
    pdf,
    upload,
)

DEMO_SIRET = "13002526500013"  # every replica endpoint answers its 200 sample
FAILING_SIRET = "50000000500008"  # every API Entreprise endpoint answers 500
LIQUIDATION_SIRET = "90000001900001"  # BODACC: a liquidation judiciaire notice
SLOW_SIRET = "40800000800008"  # API Entreprise answers after `slow_seconds`
COMPANY = "identite_entreprise_identification_raison_sociale"
TURNOVER = "capacite_economique_financiere_chiffre_affaires_global_annuel"
ESS = "capacites_techniques_professionnelles_certificats_ess"
DINUM = "DIRECTION INTERMINISTERIELLE DU NUMERIQUE"
TOKEN = "sandbox-token"  # noqa: S105 - the replica's public value
JOBS_TIMEOUT = 30.0


@pytest.fixture(scope="module")
def replicas() -> Iterator[dict[str, str]]:
    api = make_server("127.0.0.1", 0, create_sandbox_app(TOKEN, 3.0), threaded=True)
    bodacc = make_server("127.0.0.1", 0, create_bodacc_app(), threaded=True)
    serve_in_thread(api)
    serve_in_thread(bodacc)
    yield {
        "api": f"http://127.0.0.1:{api.server_port}",
        "bodacc": f"http://127.0.0.1:{bodacc.server_port}",
    }
    api.shutdown()
    bodacc.shutdown()


@pytest.fixture
def config(database_url: str, tmp_path: Any, replicas: dict[str, str], request: Any) -> Config:
    marker = request.node.get_closest_marker("prefill_config")
    overrides = dict(marker.kwargs) if marker else {}
    values = {
        "api_entreprise_base_url": replicas["api"],
        "api_entreprise_token": TOKEN,
        "bodacc_base_url": replicas["bodacc"],
        "prefill_deadline_seconds": 20.0,
        **overrides,
    }
    return make_config(database_url, tmp_path, **values)


@pytest.fixture
def container(config: Config) -> Iterator[Container]:
    built = bootstrap(config)
    yield built
    built.jobs.drain(JOBS_TIMEOUT)  # type: ignore[attr-defined]
    built.engine.dispose()


@pytest.fixture
def market(container: Container, catalogue: Any, editor: Any) -> str:
    """A services market (buyer SIRET: the demo one) with the turnover and the ESS question too."""
    response = editor.create_market(**NO_LOTS)
    assert response.status_code == 201, response.get_json()
    identifier = response.get_json()["identifier"]
    configuration.save_optional_choice(
        container.uow(), identifier, "capacite_economique_financiere", [TURNOVER]
    )
    configuration.save_optional_choice(
        container.uow(), identifier, "capacites_techniques_professionnelles", [ESS]
    )
    configuration.finalise_configuration(
        container.uow(), container.clock, container.jobs, identifier
    )
    return identifier


def apply(app: Any, editor: Any, market: str, siret: str) -> Candidate:
    response = editor.post(
        f"/api/v1/public_markets/{market}/market_applications",
        {"market_application": {"siret": siret}},
    )
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    candidate = Candidate(app.test_client(), body["identifier"], body["application_url"])
    candidate.open()
    return candidate


def confirm_identity(candidate: Candidate, container: Container) -> Page:
    response = candidate.post("company_identification", {"company_name": "Ma société"})
    assert redirect_path(response) == candidate.url("prefill")
    assert container.jobs.drain(JOBS_TIMEOUT)  # type: ignore[attr-defined]
    return candidate.get("prefill")


def status(candidate: Candidate) -> dict[str, Any]:
    response = candidate.client.get(candidate.url("prefill/status"))
    assert response.status_code == 200
    body: dict[str, Any] = response.get_json()
    return body


def texts(pdf_bytes: bytes) -> str:
    return "\n".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(pdf_bytes)).pages)


def submit(candidate: Candidate, container: Container, step_forms: dict[str, Any]) -> None:
    for step, form in step_forms.items():
        response = candidate.post_files(step, form)
        assert response.status_code in (302, 303), (step, Page(response).main_text[:1500])
    assert redirect_path(candidate.post("declaration", {"accept": "1"})) == candidate.url("summary")
    response = candidate.post("summary")
    assert redirect_path(response) == candidate.url("confirmation"), Page(response).main_text
    assert container.jobs.drain(JOBS_TIMEOUT)  # type: ignore[attr-defined]


def test_a_sandbox_siret_is_prefilled_and_its_documents_reach_the_package(
    app: Any, container: Container, editor: Any, market: str
) -> None:
    candidate = apply(app, editor, market, DEMO_SIRET)
    page = confirm_identity(candidate, container)
    body = status(candidate)
    assert body["finished"] is True
    statuses = {s["source"]: s["status"] for s in body["sources"]}
    assert statuses == {
        "insee": "completed",
        "rne": "completed",
        "bodacc": "completed",
        "urssaf_attestation_vigilance": "completed",
        "attestations_fiscales": "completed",
        "dgfip_chiffres_affaires": "completed",
    }
    assert "Continuer" in page.main_text and "Récupéré" in page.main_text
    assert redirect_path(candidate.post("prefill")) == candidate.url(IDENTITY)

    identity = candidate.get(IDENTITY)
    assert DINUM in identity.main_text
    assert "Récupéré automatiquement" in identity.main_text
    assert identity.inputs(COMPANY) == []  # not editable
    assert identity.inputs(CONTACT_EMAIL)  # typed by the candidate
    exclusion = candidate.get(EXCLUSION)
    assert "attestation_vigilance" in exclusion.main_text  # the fetched document's name
    assert exclusion.inputs(f"{SOCIAL}.files") == []
    assert exclusion.inputs(f"{LIQUIDATION}.choice") == []  # BODACC answered « Non »

    submit(
        candidate,
        container,
        {
            IDENTITY: {CONTACT_EMAIL: "contact@exemple.fr", PHONE: "01 23 45 67 89"},
            EXCLUSION: {},
            "capacite_economique_financiere": {},
            "capacites_techniques_professionnelles": {},
        },
    )
    attestation = editor.get(f"/api/v1/market_applications/{candidate.identifier}/attestation")
    assert attestation.status_code == 200
    text = texts(attestation.data)
    assert DINUM in text  # the value, in the candidate's own copy
    assert "Récupéré automatiquement (source : INSEE — répertoire Sirene)" in text
    assert "Acheteur" in text and DINUM in text.split("Entreprise candidate")[0]  # buyer name

    package = editor.get(f"/api/v1/market_applications/{candidate.identifier}/documents_package")
    assert package.status_code == 200
    with zipfile.ZipFile(io.BytesIO(package.data)) as archive:
        names = archive.namelist()
        fetched = [n for n in names if n.startswith("documents/api_")]
        assert any(FISCAL in n for n in fetched), names
        assert any(SOCIAL in n for n in fetched), names
        assert all(archive.read(n).startswith(b"%PDF") for n in fetched)
        buyer = texts(archive.read(f"buyer_attestation_{candidate.identifier}.pdf"))
    assert "Déclaré par le candidat" in buyer and "Récupéré automatiquement" in buyer
    assert "900 001" in buyer.replace("\u00a0", " ")  # the DGFIP turnover
    assert "contact@exemple.fr" in buyer


@pytest.mark.prefill_config(api_entreprise_token=None, bodacc_base_url=None)
def test_with_nothing_configured_everything_is_typed_and_the_pages_say_so(
    app: Any, container: Container, editor: Any, market: str
) -> None:
    candidate = apply(app, editor, market, DEMO_SIRET)
    page = confirm_identity(candidate, container)
    assert "n’est pas configurée" in page.main_text
    assert status(candidate)["finished"] is True
    identity = candidate.get(IDENTITY)
    assert identity.inputs(COMPANY)
    assert "n’est pas disponible sur ce service" in identity.main_text


def test_a_failing_source_turns_its_attributes_into_manual_inputs(
    app: Any, container: Container, editor: Any, market: str
) -> None:
    candidate = apply(app, editor, market, FAILING_SIRET)
    confirm_identity(candidate, container)
    statuses = {s["source"]: s["status"] for s in status(candidate)["sources"]}
    assert statuses["insee"] == "failed"
    assert statuses["bodacc"] == "completed"  # BODACC is not API Entreprise: no notice
    identity = candidate.get(IDENTITY)
    assert identity.inputs(COMPANY)
    assert "INSEE — répertoire Sirene" in identity.main_text and "a échoué" in identity.main_text
    exclusion = candidate.get(EXCLUSION)
    assert exclusion.inputs(f"{FISCAL}.files")  # an upload again


def test_a_bodacc_finding_is_answered_and_the_candidate_may_explain_it(
    app: Any, container: Container, editor: Any, market: str
) -> None:
    candidate = apply(app, editor, market, LIQUIDATION_SIRET)
    confirm_identity(candidate, container)
    exclusion = candidate.get(EXCLUSION)
    assert "Une annonce a été publiée au BODACC" in exclusion.main_text
    assert exclusion.inputs(f"{LIQUIDATION}.choice") == []
    assert exclusion.find("textarea", name=f"{LIQUIDATION}.explanation")
    assert exclusion.inputs(f"{FAILLITE}.choice") == []  # « Non », pre-filled
    form = {
        f"{LIQUIDATION}.explanation": "Plan de redressement adopté le 2 mars 2026.",
        f"{LIQUIDATION}.files": upload(pdf("jugement"), "jugement.pdf"),
        f"{FISCAL}.files": upload(pdf("fiscal"), "fiscal.pdf"),
        f"{SOCIAL}.files": upload(pdf("social"), "social.pdf"),
        "motifs_exclusion_fiscales_et_sociales_travailleurs_handicapes.files": upload(
            pdf("handicap"), "handicap.pdf"
        ),
    }
    response = candidate.post_files(EXCLUSION, form)
    assert response.status_code in (302, 303), Page(response).main_text[:1500]
    again = candidate.get(EXCLUSION)
    assert "Plan de redressement adopté" in again.html
    summary = candidate.get("summary").main_text
    assert "Explication du candidat : Plan de redressement adopté le 2 mars 2026." in summary
    assert "Source : BODACC — annonces de procédures collectives" in summary
    assert "jugement.pdf" in again.main_text
    with container.uow() as uow:
        answer = uow.answers.get(candidate.identifier, LIQUIDATION)
        assert answer.origin == "prefilled" and answer.source == "bodacc"
        assert answer.value["choice"] == "oui"
        assert answer.value["explanation"] == "Plan de redressement adopté le 2 mars 2026."


@pytest.mark.prefill_config(prefill_deadline_seconds=1.0)
def test_the_global_deadline_ends_the_status_page(
    app: Any, container: Container, editor: Any, market: str
) -> None:
    candidate = apply(app, editor, market, SLOW_SIRET)
    response = candidate.post("company_identification", {"company_name": "Lente"})
    assert redirect_path(response) == candidate.url("prefill")
    time.sleep(1.2)
    body = status(candidate)
    assert body["finished"] is True
    statuses = {s["source"]: s["status"] for s in body["sources"]}
    assert statuses["insee"] == "failed"
    assert "Continuer" in candidate.get("prefill").main_text
    assert redirect_path(candidate.post("prefill")) == candidate.url(IDENTITY)


def test_files_posted_for_a_prefilled_attribute_are_not_stored(
    app: Any, container: Container, editor: Any, market: str
) -> None:
    candidate = apply(app, editor, market, DEMO_SIRET)
    confirm_identity(candidate, container)
    form = {
        f"{SOCIAL}.files": upload(pdf("mine"), "mine.pdf"),  # pre-filled: no input on the page
        f"{LIQUIDATION}.files": upload(pdf("x"), "x.pdf"),  # BODACC said « Non »: not editable
        f"{LIQUIDATION}.choice": "oui",
    }
    response = candidate.post_files(EXCLUSION, form)
    assert response.status_code in (302, 303), Page(response).main_text[:1500]
    with container.uow() as uow:
        declared = [
            d.attribute_key
            for d in uow.documents.for_application(candidate.identifier)
            if d.origin == "declared"
        ]
        assert declared == []
        assert uow.answers.get(candidate.identifier, LIQUIDATION).value["choice"] == "non"


def test_skipping_the_status_page_still_starts_the_fetch(
    app: Any, container: Container, editor: Any, market: str
) -> None:
    candidate = apply(app, editor, market, DEMO_SIRET)  # the editor gave the SIRET
    assert candidate.get(EXCLUSION).status == 200  # straight there, by its address
    assert container.jobs.drain(JOBS_TIMEOUT)  # type: ignore[attr-defined]
    assert status(candidate)["finished"] is True
    assert "attestation_vigilance" in candidate.get(EXCLUSION).main_text


def test_a_failed_source_can_be_asked_again_from_the_status_page(
    app: Any, container: Container, editor: Any, market: str
) -> None:
    candidate = apply(app, editor, market, FAILING_SIRET)
    page = confirm_identity(candidate, container)
    assert "Relancer" in page.main_text
    response = candidate.post("prefill/run_again", {"source": "insee"})
    assert redirect_path(response) == candidate.url("prefill")
    assert "Nouvelle tentative : INSEE — répertoire Sirene." in candidate.get("prefill").main_text
    assert container.jobs.drain(JOBS_TIMEOUT)  # type: ignore[attr-defined]
    statuses = {s["source"]: s["status"] for s in status(candidate)["sources"]}
    assert statuses["insee"] == "failed"  # the replica still answers 500
    candidate.post("prefill/run_again", {"source": "insee"})
    assert container.jobs.drain(JOBS_TIMEOUT)  # type: ignore[attr-defined]
    refused = candidate.post("prefill/run_again", {"source": "insee"})  # a fourth run
    assert "ne peut pas être interrogée à nouveau" in candidate.follow(refused).main_text
    assert candidate.post("prefill/run_again", {"source": "insee"}, csrf=False).status_code in (
        400,
        403,
    )
