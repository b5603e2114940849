"""`POST /api/v1/public_markets` and `GET /api/v1/public_markets/{identifier}`."""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask_smorest import Blueprint
from passemarche.entrypoints.api.auth import current_principal
from passemarche.entrypoints.api.idempotency import IDEMPOTENCY_HEADER_DOC, idempotency_request
from passemarche.entrypoints.api.markets.schemas import (
    CreateMarketRequestSchema,
    MarketCreatedSchema,
    MarketSchema,
)
from passemarche.entrypoints.api.schemas import ErrorSchema, document_common_errors
from passemarche.entrypoints.api.urls import configuration_url
from passemarche.services import markets, prefill

blp = Blueprint(
    "markets", __name__, url_prefix="/api/v1/public_markets", description="Marchés publics"
)


@blp.route("", methods=["POST"])
@blp.arguments(CreateMarketRequestSchema, error_status_code=400)
@blp.response(201, MarketCreatedSchema, description="Marché créé")
@blp.doc(parameters=[IDEMPOTENCY_HEADER_DOC])
@blp.alt_response(400, schema=ErrorSchema, description="Corps JSON absent ou mal formé")
@blp.alt_response(403, schema=ErrorSchema, description="Marché de défense non autorisé")
@blp.alt_response(413, schema=ErrorSchema, description="Corps de requête trop volumineux (1 Mio)")
@blp.alt_response(415, schema=ErrorSchema, description="Content-Type autre que JSON")
@blp.alt_response(
    422,
    schema=ErrorSchema,
    description="Erreurs de validation (liste), ou SIRET invalide (objet {siret: [...]})",
)
@document_common_errors(blp, 401, 429)
def create_market(body: dict[str, Any]) -> tuple[dict[str, str], int, dict[str, str]]:
    container = current_app.extensions["passemarche"]
    payload = body["public_market"]
    created = markets.create_market(
        container.uow(),
        container.clock,
        current_principal(),
        payload,
        idempotency_request("create_market", payload),
    )
    if not created.replayed:
        prefill.schedule_buyer_name_lookup(
            container.jobs, container.data_sources, created.identifier
        )
    headers = {"Idempotent-Replayed": "true"} if created.replayed else {}
    result = {
        "identifier": created.identifier,
        "configuration_url": configuration_url(created.identifier),
    }
    return result, 201, headers


@blp.route("/<string:identifier>", methods=["GET"])
@blp.response(200, MarketSchema)
@blp.alt_response(404, schema=ErrorSchema, description="Marché inconnu ou d'un autre éditeur")
@document_common_errors(blp, 401, 403, 429)
def read_market(identifier: str) -> markets.MarketView:
    container = current_app.extensions["passemarche"]
    return markets.get_market(container.uow(), current_principal(), identifier)
