"""authlib's authorization server, adapted to the reference's statuses and bodies.

authlib authenticates the client (form fields or HTTP Basic) and validates the grant and scope;
the editor lookup and the token storage go through the services, so only hashes are stored.
"""

from __future__ import annotations

from typing import Any

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import ClientMixin
from authlib.oauth2.rfc6749.errors import InvalidClientError, OAuth2Error
from authlib.oauth2.rfc6749.grants import ClientCredentialsGrant
from flask import Flask, Response, json
from passemarche.domain.editor import (
    DEFAULT_SCOPE,
    SUPPORTED_SCOPES,
    TOKEN_LIFETIME,
    normalise_scope,
)
from passemarche.domain.errors import ClientAuthenticationFailed, EditorNotAuthorized
from passemarche.domain.hashing import secret_matches
from passemarche.domain.identifiers import new_secret
from passemarche.entrypoints.errors import JSON_MIMETYPE
from passemarche.services import tokens
from passemarche.services.tokens import ClientRecord

_AUTH_METHODS = ("client_secret_basic", "client_secret_post")
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


class EditorClient(ClientMixin):
    def __init__(self, record: ClientRecord) -> None:
        self.record = record

    def get_client_id(self) -> str:
        return self.record.client_id

    def get_default_redirect_uri(self) -> None:
        return None

    def get_allowed_scope(self, scope: str | None) -> str:
        return normalise_scope(scope) if scope else DEFAULT_SCOPE

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return False

    def check_client_secret(self, client_secret: str) -> bool:
        return secret_matches(client_secret, self.record.client_secret_hash)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return endpoint == "token" and method in _AUTH_METHODS

    def check_response_type(self, response_type: str) -> bool:
        return False

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == EditorCredentialsGrant.GRANT_TYPE


class EditorCredentialsGrant(ClientCredentialsGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = list(_AUTH_METHODS)

    def validate_token_request(self) -> None:
        super().validate_token_request()
        client: EditorClient = self.request.client
        if not client.record.may_use_api:
            raise InvalidClientError(description=EditorNotAuthorized.message, status_code=401)


class EditorAuthorizationServer(AuthorizationServer):
    def __init__(self, app: Flask, container: Any) -> None:
        super().__init__()
        self.container = container
        app.config.setdefault("OAUTH2_SCOPES_SUPPORTED", list(SUPPORTED_SCOPES))
        app.config.setdefault("OAUTH2_ACCESS_TOKEN_GENERATOR", lambda *args, **kw: new_secret())
        app.config.setdefault(
            "OAUTH2_TOKEN_EXPIRES_IN", {"client_credentials": int(TOKEN_LIFETIME.total_seconds())}
        )
        self.init_app(app)
        self.register_grant(EditorCredentialsGrant)

    def query_client(self, client_id: str) -> EditorClient | None:
        record = tokens.find_client(self.container.uow(), client_id)
        return EditorClient(record) if record is not None else None

    def save_token(self, token: dict[str, Any], request: Any) -> None:
        tokens.record_issued_token(
            self.container.uow(),
            self.container.clock,
            request.client.get_client_id(),
            token["access_token"],
            token.get("scope"),
        )

    def handle_response(self, status_code: int, payload: Any, headers: Any) -> Response:
        if status_code == 200 and isinstance(payload, dict):
            # The reference's field order: access_token, token_type, expires_in, scope.
            order = ("access_token", "token_type", "expires_in", "scope")
            payload = {key: payload[key] for key in order if key in payload}
        headers = [(k, v) for k, v in headers if k.lower() != "content-type"]
        headers.append(("Content-Type", JSON_MIMETYPE))
        return super().handle_response(status_code, payload, headers)

    def handle_error_response(self, request: Any, error: OAuth2Error) -> Response:
        return oauth_error(error.status_code or 400, error.error, _description(error))


def _description(error: OAuth2Error) -> str:
    if error.error == "invalid_client":
        if error.description == EditorNotAuthorized.message:
            return EditorNotAuthorized.message
        return ClientAuthenticationFailed.message
    if error.error == "unsupported_grant_type":
        return "The authorization grant type is not supported"
    if error.error == "invalid_scope":
        return f"The requested scope is invalid; supported scopes: {', '.join(SUPPORTED_SCOPES)}"
    return error.description or error.error


def oauth_error(status: int, error: str, description: str) -> Response:
    if error == "invalid_client":
        status = 401  # the reference answers 401 however the client authenticated
    headers = dict(_NO_STORE)
    if status == 401:
        headers["WWW-Authenticate"] = 'Basic realm="passemarche"'
    body = json.dumps({"error": error, "error_description": description})
    return Response(body, status=status, headers=headers, content_type=JSON_MIMETYPE)
