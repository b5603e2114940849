"""Applications: `POST /api/v1/public_markets/{id}/market_applications`, `GET
/api/v1/market_applications/{id}`, and the two downloads (their own blueprint: their own budget)."""

from __future__ import annotations

from typing import Any

from flask import Response, current_app, request
from flask_smorest import Blueprint
from passemarche.domain.application import DocumentKind
from passemarche.entrypoints.api.applications.schemas import (
    ApplicationCreatedSchema,
    ApplicationSchema,
    CreateApplicationRequestSchema,
)
from passemarche.entrypoints.api.auth import current_principal
from passemarche.entrypoints.api.idempotency import IDEMPOTENCY_HEADER_DOC, idempotency_request
from passemarche.entrypoints.api.schemas import ErrorSchema, document_common_errors
from passemarche.entrypoints.api.urls import application_url
from passemarche.services import applications
from werkzeug.wsgi import wrap_file

blp = Blueprint("applications", __name__, url_prefix="/api/v1", description="Candidatures")
downloads = Blueprint(
    "downloads", __name__, url_prefix="/api/v1", description="Téléchargement des documents"
)


@blp.route("/public_markets/<string:market_identifier>/market_applications", methods=["POST"])
@blp.arguments(CreateApplicationRequestSchema, error_status_code=400)
@blp.response(201, ApplicationCreatedSchema, description="Candidature créée")
@blp.doc(parameters=[IDEMPOTENCY_HEADER_DOC])
@blp.alt_response(400, schema=ErrorSchema, description="Corps JSON mal formé")
@blp.alt_response(403, schema=ErrorSchema, description="Marché non finalisé par l'acheteur ou clos")
@blp.alt_response(404, schema=ErrorSchema, description="Marché inconnu ou d'un autre éditeur")
@blp.alt_response(413, schema=ErrorSchema, description="Corps de requête trop volumineux (1 Mio)")
@blp.alt_response(415, schema=ErrorSchema, description="Content-Type autre que JSON")
@blp.alt_response(422, schema=ErrorSchema, description="SIRET invalide ou candidature existante")
@document_common_errors(blp, 401, 429)
def create_application(
    body: dict[str, Any], market_identifier: str
) -> tuple[dict[str, str], int, dict[str, str]]:
    container = current_app.extensions["passemarche"]
    payload = body["market_application"]
    created = applications.create_application(
        container.uow(),
        container.clock,
        current_principal(),
        market_identifier,
        payload,
        idempotency_request(f"create_application:{market_identifier}", payload),
    )
    headers = {"Idempotent-Replayed": "true"} if created.replayed else {}
    result = {
        "identifier": created.identifier,
        "application_url": application_url(created.identifier),
    }
    return result, 201, headers


@blp.route("/market_applications/<string:identifier>", methods=["GET"])
@blp.response(200, ApplicationSchema)
@blp.alt_response(404, schema=ErrorSchema, description="Candidature inconnue ou d'un autre éditeur")
@document_common_errors(blp, 401, 403, 429)
def read_application(identifier: str) -> applications.ApplicationView:
    container = current_app.extensions["passemarche"]
    return applications.get_application(
        container.uow(), container.storage, current_principal(), identifier
    )


def _download(identifier: str, kind: DocumentKind) -> Response:
    container = current_app.extensions["passemarche"]
    found = applications.get_download(
        container.uow(), container.storage, current_principal(), identifier, kind
    )
    etag = f'"{found.stored.etag}"'
    headers = {
        "Content-Disposition": f'attachment; filename="{found.filename}"',
        "ETag": etag,
        "Cache-Control": "private, no-cache",
        "X-Content-Type-Options": "nosniff",
    }
    if request.if_none_match.contains(found.stored.etag) or request.if_none_match.star_tag:
        return Response(status=304, headers=headers)
    stream = container.storage.open(found.stored.key)
    response = Response(
        wrap_file(request.environ, stream),
        mimetype=found.content_type,
        headers=headers,
        direct_passthrough=True,
    )
    response.content_length = found.stored.size
    return response


_DOWNLOAD_DOC = {
    "responses": {
        "200": {
            "description": "Le fichier",
            "headers": {
                "Content-Disposition": {"schema": {"type": "string"}},
                "ETag": {"schema": {"type": "string"}},
            },
        }
    }
}


@downloads.route("/market_applications/<string:identifier>/attestation", methods=["GET"])
@downloads.doc(**_DOWNLOAD_DOC)
@downloads.doc(
    responses={
        "200": {"content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}}}
    }
)
@downloads.alt_response(
    404, schema=ErrorSchema, description="Candidature inconnue, ou attestation pas encore générée"
)
@downloads.alt_response(422, schema=ErrorSchema, description="Candidature non finalisée")
@document_common_errors(downloads, 401, 403, 429)
def download_attestation(identifier: str) -> Response:
    return _download(identifier, DocumentKind.ATTESTATION)


@downloads.route("/market_applications/<string:identifier>/documents_package", methods=["GET"])
@downloads.doc(**_DOWNLOAD_DOC)
@downloads.doc(
    responses={
        "200": {"content": {"application/zip": {"schema": {"type": "string", "format": "binary"}}}}
    }
)
@downloads.alt_response(
    404, schema=ErrorSchema, description="Candidature inconnue, ou dossier pas encore généré"
)
@downloads.alt_response(422, schema=ErrorSchema, description="Candidature non finalisée")
@document_common_errors(downloads, 401, 403, 429)
def download_documents_package(identifier: str) -> Response:
    return _download(identifier, DocumentKind.DOCUMENTS_PACKAGE)
