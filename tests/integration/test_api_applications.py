"""Applications and downloads."""

import hashlib

import pytest
from passemarche.domain.application import DocumentKind, document_storage_key
from passemarche.domain.identifiers import APPLICATION_IDENTIFIER

from tests.integration.conftest import complete_application, finalise_market


@pytest.fixture
def market(editor, container):
    identifier = editor.create_market().get_json()["identifier"]
    finalise_market(container, identifier)
    return identifier


def applications_url(market):
    return f"/api/v1/public_markets/{market}/market_applications"


def create(editor, market, **fields):
    return editor.post(applications_url(market), {"market_application": fields})


def test_an_application_is_created_with_its_url(editor, market):
    response = create(editor, market, siret="73282932000074", provider_user_id="user-candidat-7")
    assert response.status_code == 201
    body = response.get_json()
    assert list(body) == ["identifier", "application_url"]
    assert APPLICATION_IDENTIFIER.match(body["identifier"])
    assert body["application_url"].startswith(
        f"http://localhost/candidate/market_applications/{body['identifier']}/company_identification?token="
    )


def test_the_siret_may_be_omitted_even_the_whole_body(editor, market):
    assert create(editor, market).status_code == 201
    response = editor.post(applications_url(market), {})
    assert response.status_code == 201


def test_the_application_reads_back(editor, market):
    identifier = create(editor, market, siret="73282932000074").get_json()["identifier"]
    body = editor.get(f"/api/v1/market_applications/{identifier}").get_json()
    assert body == {
        "identifier": identifier,
        "market_identifier": market,
        "siret": "73282932000074",
        "status": "in_progress",
        "provider_user_id": None,
        "created_at": body["created_at"],
        "completed_at": None,
        "attestation_available": False,
        "documents_package_available": False,
        "webhook_status": None,
    }


def test_unknown_market_is_404_resource_not_found(editor):
    response = create(editor, "VR-2026-UNKNOWN00000")
    assert (response.status_code, response.get_json()) == (404, {"error": "Resource not found"})


def test_a_market_the_buyer_has_not_finalised_is_403(editor):
    draft = editor.create_market().get_json()["identifier"]
    response = create(editor, draft)
    assert (response.status_code, response.get_json()) == (403, {"error": "Forbidden"})


def test_an_invalid_siret_is_422_siret_is_invalid(editor, market):
    response = create(editor, market, siret="12345678901234")
    assert (response.status_code, response.get_json()) == (422, {"errors": ["Siret is invalid"]})


def test_one_application_per_siret_and_market(editor, market):
    assert create(editor, market, siret="73282932000074").status_code == 201
    response = create(editor, market, siret=" 73282932000074 ")
    assert response.status_code == 422
    assert response.get_json() == {"errors": ["Application already exists for this SIRET"]}


def test_the_same_idempotency_key_creates_one_application(editor, market):
    body = {"market_application": {"siret": "73282932000074"}}
    one = editor.post(applications_url(market), body, **{"Idempotency-Key": "cand-1"})
    two = editor.post(applications_url(market), body, **{"Idempotency-Key": "cand-1"})
    assert one.status_code == two.status_code == 201
    assert one.get_json() == two.get_json()


class TestDownloads:
    @pytest.fixture
    def application(self, editor, market):
        return create(editor, market).get_json()["identifier"]

    @pytest.mark.parametrize("path", ["attestation", "documents_package"])
    def test_an_application_in_progress_is_422(self, editor, application, path):
        response = editor.get(f"/api/v1/market_applications/{application}/{path}")
        assert (response.status_code, response.get_json()) == (
            422,
            {"error": "Application not completed"},
        )

    @pytest.mark.parametrize(
        "path, message",
        [
            ("attestation", "Attestation not available"),
            ("documents_package", "Documents package not available"),
        ],
    )
    def test_completed_but_not_generated_is_404_with_retry_after(
        self, editor, container, application, path, message
    ):
        complete_application(container, application)
        response = editor.get(f"/api/v1/market_applications/{application}/{path}")
        assert (response.status_code, response.get_json()) == (404, {"error": message})
        assert response.headers["Retry-After"] == "30"

    @pytest.mark.parametrize(
        "kind, path, content_type, extension",
        [
            (DocumentKind.ATTESTATION, "attestation", "application/pdf", "pdf"),
            (DocumentKind.DOCUMENTS_PACKAGE, "documents_package", "application/zip", "zip"),
        ],
    )
    def test_a_generated_document_is_streamed_with_its_headers(
        self, editor, container, application, kind, path, content_type, extension
    ):
        complete_application(container, application)
        content = b"%PDF-1.7\n" + bytes(range(256)) * 1000
        container.storage.put(document_storage_key(kind, application), iter([content]))
        response = editor.get(f"/api/v1/market_applications/{application}/{path}")
        assert response.status_code == 200
        assert response.content_type == content_type
        assert response.headers["Content-Length"] == str(len(content))
        assert response.headers["Content-Disposition"] == (
            f'attachment; filename="{path}_{application}.{extension}"'
        )
        assert response.data == content
        assert "Retry-After" not in response.headers
        etag = response.headers["ETag"]
        again = editor.get(
            f"/api/v1/market_applications/{application}/{path}", **{"If-None-Match": etag}
        )
        assert again.status_code == 304
        assert hashlib.sha256(response.data).digest() == hashlib.sha256(content).digest()
