"""Submission, then the documents: generated in the background, stored, downloadable through the
API, and only then announced by `market_application.completed`."""

import io
import json
import zipfile
from datetime import timedelta

import pytest
from passemarche.adapters.catalogue_csv import read_catalogue_file
from passemarche.domain.answers import Answer, AttachedDocument
from passemarche.domain.errors import ValidationFailed
from passemarche.services import submission
from passemarche.services.catalogue import load_catalogue
from pypdf import PdfReader

from tests.integration.conftest import finalise_market
from tests.support import RecordingJobQueue
from tests.unit.test_catalogue import CATALOGUE


@pytest.fixture
def world(editor, container):
    parsed = read_catalogue_file(CATALOGUE)
    load_catalogue(
        container.uow(), container.clock, parsed.categories, parsed.subcategories, parsed.attributes
    )
    container.jobs = RecordingJobQueue()
    market = editor.create_market(
        lot_name=None, lots=[{"name": "Lot A"}, {"name": "Lot B"}]
    ).get_json()["identifier"]
    keys = [
        "identite_entreprise_identification_raison_sociale",
        "identite_entreprise_contact_email",
        "motifs_exclusion_fiscales_et_sociales_declarations_fiscales",
    ]
    finalise_market(container, market, keys)
    application = editor.post(
        f"/api/v1/public_markets/{market}/market_applications",
        {"market_application": {"siret": "73282932000074"}},
    ).get_json()["identifier"]
    return editor, container, market, application, keys


def answer_everything(container, application, keys, scan="clean"):
    now = container.clock.now()
    content = b"%PDF-1.4\n% attestation fiscale\n" + b"0" * 5000
    key = f"uploads/{application}/attestation.pdf"
    container.storage.put(key, iter([content]))
    with container.uow() as uow:
        app = uow.applications.get(application)
        app.company_name = "Société Générale d’Études « Œuvre » – 2024 €"
        app.lot_numbers = [2]
        app.declaration_accepted_at = now
        uow.answers.add(
            Answer(
                application,
                keys[0],
                {"text": "Société Générale d’Études"},
                now,
                "prefilled",
                "insee",
            )
        )
        uow.answers.add(Answer(application, keys[1], {"text": "contact@exemple.fr"}, now))
        uow.documents.add(
            AttachedDocument(
                id=AttachedDocument.new_id(),
                application_identifier=application,
                attribute_key=keys[2],
                original_name="../../etc/passwd.pdf",
                storage_key=key,
                size=len(content),
                content_type="application/pdf",
                sha256="0" * 64,
                scan=scan,
                created_at=now,
            )
        )
        uow.commit()


def test_an_incomplete_application_cannot_be_submitted(world):
    editor, container, market, application, keys = world
    with pytest.raises(ValidationFailed) as caught:
        submission.submit_application(
            container.uow(), container.clock, container.jobs, application, "http://x"
        )
    assert caught.value.messages == [
        "Choisissez au moins un lot.",
        "Renseignez « Raison sociale ».",
        "Renseignez « Email ».",
        "Renseignez « Impôts, taxes et contributions sociales ».",
        "Acceptez la déclaration sur l’honneur.",
    ]
    assert container.jobs.calls == []
    assert (
        editor.get(f"/api/v1/market_applications/{application}").get_json()["status"]
        == "in_progress"
    )


@pytest.mark.parametrize(
    "scan, message",
    [("pending", "encore en cours d’analyse"), ("failed", "n’a pas pu être analysé")],
)
def test_a_file_not_cleared_by_the_antivirus_blocks_the_submission(world, scan, message):
    editor, container, market, application, keys = world
    answer_everything(container, application, keys, scan=scan)
    with pytest.raises(ValidationFailed) as caught:
        submission.submit_application(
            container.uow(), container.clock, container.jobs, application, "http://x"
        )
    assert any(message in m for m in caught.value.messages)


def test_submitting_generates_the_documents_then_notifies_the_editor(world):
    editor, container, market, application, keys = world
    answer_everything(container, application, keys)
    submission.submit_application(
        container.uow(), container.clock, container.jobs, application, "https://pm.example"
    )
    submission.submit_application(
        container.uow(), container.clock, container.jobs, application, "https://pm.example"
    )
    assert container.jobs.calls == [
        ("generate_documents", (application, "https://pm.example"), None)
    ]

    # Completed, not generated yet: the editor is told to come back.
    response = editor.get(f"/api/v1/market_applications/{application}/attestation")
    assert (response.status_code, response.get_json()) == (
        404,
        {"error": "Attestation not available"},
    )

    for _ in range(2):  # a repeated job is harmless
        submission.generate_documents(
            container.uow(),
            container.clock,
            container.storage,
            container.renderer,
            container.packager,
            container.jobs,
            application,
            "https://pm.example",
        )
    deliveries = [call for call in container.jobs.calls if call[0] == "deliver_webhook"]
    assert len(deliveries) == 1

    pdf = editor.get(f"/api/v1/market_applications/{application}/attestation")
    assert pdf.status_code == 200 and pdf.content_type == "application/pdf"
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.data)).pages)
    assert "Attestation de candidature" in text
    assert "Société Générale d’Études « Œuvre » – 2024 €" in text
    assert "73282932000074" in text and "Lot 2 : Lot B" in text
    assert "Attestation de test" in text

    package = editor.get(f"/api/v1/market_applications/{application}/documents_package")
    assert package.status_code == 200 and package.content_type == "application/zip"
    names = zipfile.ZipFile(io.BytesIO(package.data)).namelist()
    assert f"buyer_attestation_{application}.pdf" in names
    assert [n for n in names if n.startswith("documents/")] == [
        "documents/user_02_01_motifs_exclusion_fiscales_et_sociales_declarations_fiscales_passwd.pdf"
    ]

    with container.uow() as uow:
        delivery = uow.webhooks.latest_for(application)
        payload = json.loads(delivery.payload)
    assert payload["event"] == "market_application.completed"
    assert payload["market_identifier"] == market
    assert payload["market_application"]["siret"] == "73282932000074"
    assert payload["market_application"]["attestation_url"] == (
        f"https://pm.example/api/v1/market_applications/{application}/attestation"
    )
    body = editor.get(f"/api/v1/market_applications/{application}").get_json()
    assert body["attestation_available"] and body["documents_package_available"]
    assert body["webhook_status"] == "pending"


def test_a_market_past_its_deadline_refuses_the_submission(world):
    from passemarche.domain.errors import Forbidden

    editor, container, market, application, keys = world
    answer_everything(container, application, keys)

    class Later:
        def now(self):
            return container.clock.now() + timedelta(days=365 * 10)

    with pytest.raises(Forbidden):
        submission.submit_application(
            container.uow(), Later(), container.jobs, application, "http://x"
        )


def test_the_in_process_queue_runs_the_generation_and_retries_a_failure(editor, container):
    from passemarche.adapters.job_queue import InProcessJobQueue
    from passemarche.entrypoints import jobs as job_registry

    parsed = read_catalogue_file(CATALOGUE)
    load_catalogue(
        container.uow(), container.clock, parsed.categories, parsed.subcategories, parsed.attributes
    )
    market = editor.create_market().get_json()["identifier"]
    finalise_market(container, market, ["identite_entreprise_contact_email"])
    application = editor.post(
        f"/api/v1/public_markets/{market}/market_applications",
        {"market_application": {"siret": "73282932000074"}},
    ).get_json()["identifier"]
    now = container.clock.now()
    with container.uow() as uow:
        app = uow.applications.get(application)
        app.declaration_accepted_at = now
        app.lot_numbers = [1]
        uow.answers.add(
            Answer(application, "identite_entreprise_contact_email", {"text": "a@b.fr"}, now)
        )
        uow.commit()

    real_renderer = container.renderer

    class FailsOnce:
        failures = 0

        def candidate_attestation(self, dossier):
            return real_renderer.candidate_attestation(dossier)

        def buyer_attestation(self, dossier):
            if FailsOnce.failures == 0:
                FailsOnce.failures += 1
                raise OSError("disk full")
            return real_renderer.buyer_attestation(dossier)

    container.renderer = FailsOnce()
    original = job_registry.GENERATION_RETRY_DELAYS
    job_registry.GENERATION_RETRY_DELAYS = (0.1, 0.1)
    try:
        queue = InProcessJobQueue(lambda job, *args: job_registry.run_job(container, job, *args))
        container.jobs = queue
        submission.submit_application(
            container.uow(), container.clock, queue, application, "http://pm"
        )
        queue.drain(10)
    finally:
        job_registry.GENERATION_RETRY_DELAYS = original
    assert FailsOnce.failures == 1
    response = editor.get(f"/api/v1/market_applications/{application}/documents_package")
    assert response.status_code == 200
    assert editor.get(f"/api/v1/market_applications/{application}").get_json()[
        "webhook_status"
    ] in (
        "failed",  # the test editor has no webhook URL: the delivery fails at once, visibly
    )
