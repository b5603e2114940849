"""`POST /oauth/token`."""

from __future__ import annotations

import base64

from flask import Response, current_app, request
from flask_smorest import Blueprint
from marshmallow import Schema, fields
from passemarche.domain.errors import ClientAuthenticationFailed
from passemarche.entrypoints.api.schemas import RateLimitErrorSchema

blp = Blueprint(
    "oauth",
    __name__,
    url_prefix="/oauth",
    description="Obtention d'un token d'accès (OAuth2 client credentials)",
)


class TokenRequestSchema(Schema):
    grant_type = fields.String(required=True, metadata={"example": "client_credentials"})
    client_id = fields.String(metadata={"description": "Ou en HTTP Basic"})
    client_secret = fields.String(metadata={"description": "Ou en HTTP Basic"})
    scope = fields.String(
        metadata={"example": "api_access", "description": "api_access, api_read ou api_write"}
    )


class TokenSchema(Schema):
    access_token = fields.String()
    token_type = fields.String(metadata={"example": "Bearer"})
    expires_in = fields.Integer(metadata={"example": 86400})
    scope = fields.String(metadata={"example": "api_access"})


class OAuthErrorSchema(Schema):
    error = fields.String(metadata={"example": "invalid_client"})
    error_description = fields.String(metadata={"example": "Client authentication failed"})


@blp.route("/token", methods=["POST"])
@blp.doc(
    security=[],
    requestBody={
        "required": True,
        "content": {"application/x-www-form-urlencoded": {"schema": TokenRequestSchema}},
    },
)
@blp.alt_response(200, schema=TokenSchema, description="Token émis")
@blp.alt_response(400, schema=OAuthErrorSchema, description="Requête ou grant type invalide")
@blp.alt_response(401, schema=OAuthErrorSchema, description="Client invalide ou éditeur inactif")
@blp.alt_response(429, schema=RateLimitErrorSchema, description="Limite de taux dépassée")
def issue_token() -> Response:
    from passemarche.entrypoints.api.oauth.server import oauth_error

    if not request.form.get("grant_type"):
        return oauth_error(400, "invalid_request", "The grant_type parameter is missing")
    if not basic_credentials_readable(request.headers.get("Authorization", "")):
        return oauth_error(401, "invalid_client", ClientAuthenticationFailed.message)
    server = current_app.extensions["passemarche_oauth"]
    return server.create_token_response()


def basic_credentials_readable(header: str) -> bool:
    """HTTP Basic credentials that are base64 of UTF-8 text (authlib would crash on others)."""
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return True
    try:
        base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return False
    return True
