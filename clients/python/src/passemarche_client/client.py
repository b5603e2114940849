"""The Passe Marché API client: one method per endpoint, typed results, retries, token cache.

Example (see docs/INTEGRATORS.md):

from passemarche_client import PasseMarcheClient

client = PasseMarcheClient("https://sandbox.passemarche.data.gouv.fr", CLIENT_ID, SECRET)
market = client.create_market(
    name="Fourniture de matériel informatique", deadline="2030-12-31T23:59:59Z",
    siret="13002526500013", market_type_codes=["supplies"], lot_name="Lot 1",
)
# send the buyer to market.configuration_url, wait for `market.completed`, then:
application = client.create_application(market.identifier, siret="73282932000074")
# send the candidate to application.application_url, wait for
# `market_application.completed`, then:
client.download_attestation(application.identifier, "out/")
client.download_documents_package(application.identifier, "out/")
"""

from __future__ import annotations

import os
import re
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

import requests

from passemarche_client import __version__
from passemarche_client.auth import TokenCache
from passemarche_client.errors import (
    ApiError,
    NotFound,
    ProtocolError,
    TransportError,
    error_for,
)
from passemarche_client.logging import log_call
from passemarche_client.models import (
    Application,
    CreatedApplication,
    CreatedMarket,
    Download,
    Lot,
    Market,
    Token,
)
from passemarche_client.retry import (
    RETRY_AFTER_STATUSES,
    RetryPolicy,
    is_retryable_status,
    retry_after_seconds,
)

DEFAULT_TIMEOUT = 30.0  # the reference's recommendation for every call…
DOWNLOAD_TIMEOUT = 300.0  # …and for downloads
CHUNK_SIZE = 64 * 1024
NETWORK_ERRORS = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
)
_FILENAME = re.compile(r'filename="?([^";]+)"?')
_UNSAFE_IN_NAME = re.compile(r"[^A-Za-z0-9._-]")
OK = (200,)
CREATED = (201, 200)  # 200: an idempotent replay may be answered so
T = TypeVar("T")


class PasseMarcheClient:
    """A client for one editor (one `client_id`). Thread-safe as long as the `requests.Session`
    it uses is not shared with other code that changes it."""

    def __init__(
        self,
        base_url: str,
        client_id: str,
        client_secret: str,
        *,
        scope: str = "api_access",
        timeout: float = DEFAULT_TIMEOUT,
        download_timeout: float = DOWNLOAD_TIMEOUT,
        retry: RetryPolicy | None = None,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        renew_before: float = 300.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.scope = scope
        self.timeout = timeout
        self.download_timeout = download_timeout
        self.retry = retry or RetryPolicy()
        self._client_id = client_id
        self._client_secret = client_secret
        self._session = session or requests.Session()
        self._sleep = sleep
        self._tokens = TokenCache(self._request_token, renew_before=renew_before)
        self.user_agent = f"passemarche-client-python/{__version__}"

    def __repr__(self) -> str:
        return f"PasseMarcheClient({self.base_url!r}, client_id={self._client_id!r})"

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> PasseMarcheClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- OAuth ---------------------------------------------------------------------------

    def token(self) -> Token:
        """The current access token, asked for when there is none or it expires soon."""
        return self._tokens.get()

    def _request_token(self) -> Token:
        response = self._send(
            "POST",
            "/oauth/token",
            data={
                "grant_type": "client_credentials",
                "client_id": self._client_id,
                "client_secret": self._client_secret,
                "scope": self.scope,
            },
            authenticated=False,
            expected=OK,
        )

        def token(body: dict[str, Any]) -> Token:
            expires_in = int(body.get("expires_in", 0))
            return Token(
                access_token=str(body["access_token"]),
                token_type=body.get("token_type", "Bearer"),
                expires_in=expires_in,
                scope=body.get("scope", self.scope),
                expires_at=time.monotonic() + expires_in,
            )

        return _parse(response, "POST /oauth/token", token)

    # --- Markets -------------------------------------------------------------------------

    def create_market(
        self,
        *,
        name: str,
        deadline: str | datetime,
        siret: str,
        market_type_codes: Iterable[str],
        lot_name: str | None = None,
        lots: Iterable[Lot | Mapping[str, Any]] | None = None,
        lot_limit: int | None = None,
        provider_user_id: str | None = None,
        idempotency_key: str | None = None,
    ) -> CreatedMarket:
        """`POST /api/v1/public_markets`. An `Idempotency-Key` (generated when not given) is sent
        with every attempt, so a retried request never creates a second market."""
        fields: dict[str, Any] = {
            "name": name,
            "deadline": _iso(deadline),
            "siret": siret,
            "market_type_codes": list(market_type_codes),
        }
        if lot_name is not None:
            fields["lot_name"] = lot_name
        if lots is not None:
            fields["lots"] = [_lot_json(lot) for lot in lots]
        if lot_limit is not None:
            fields["lot_limit"] = lot_limit
        if provider_user_id is not None:
            fields["provider_user_id"] = provider_user_id
        return self._create(
            "/api/v1/public_markets",
            {"public_market": fields},
            idempotency_key,
            lambda body, replayed: CreatedMarket(
                identifier=str(body["identifier"]),
                configuration_url=str(body["configuration_url"]),
                replayed=replayed,
            ),
        )

    def get_market(self, identifier: str) -> Market:
        """`GET /api/v1/public_markets/{identifier}`."""
        path = f"/api/v1/public_markets/{_segment(identifier)}"
        return _parse(self._send("GET", path, expected=OK), f"GET {path}", Market.from_json)

    # --- Applications --------------------------------------------------------------------

    def create_application(
        self,
        market_identifier: str,
        *,
        siret: str | None = None,
        provider_user_id: str | None = None,
        idempotency_key: str | None = None,
    ) -> CreatedApplication:
        """`POST /api/v1/public_markets/{market_identifier}/market_applications`; the market must
        have been finalised by the buyer (else `Forbidden`)."""
        fields: dict[str, Any] = {}
        if siret is not None:
            fields["siret"] = siret
        if provider_user_id is not None:
            fields["provider_user_id"] = provider_user_id
        return self._create(
            f"/api/v1/public_markets/{_segment(market_identifier)}/market_applications",
            {"market_application": fields},
            idempotency_key,
            lambda body, replayed: CreatedApplication(
                identifier=str(body["identifier"]),
                application_url=str(body["application_url"]),
                replayed=replayed,
            ),
        )

    def _create(
        self,
        path: str,
        payload: dict[str, Any],
        idempotency_key: str | None,
        build: Callable[[dict[str, Any], bool], T],
    ) -> T:
        """A POST that creates: one `Idempotency-Key` for every attempt (a retried POST never
        creates twice), 201 expected (200 for a replay), the typed result."""
        response = self._send(
            "POST",
            path,
            json=payload,
            idempotency_key=idempotency_key or str(uuid.uuid4()),
            expected=CREATED,
        )
        replayed = response.headers.get("Idempotent-Replayed", "").lower() == "true"
        return _parse(response, f"POST {path}", lambda body: build(body, replayed))

    def get_application(self, identifier: str) -> Application:
        """`GET /api/v1/market_applications/{identifier}`."""
        path = f"/api/v1/market_applications/{_segment(identifier)}"
        return _parse(self._send("GET", path, expected=OK), f"GET {path}", Application.from_json)

    # --- Downloads -----------------------------------------------------------------------

    def download_attestation(
        self, identifier: str, destination: str | os.PathLike[str], *, wait: float = 0.0
    ) -> Download:
        """The attestation PDF, streamed to `destination` (a file, or a folder where the
        server's file name is used). `wait` seconds: keep asking while it is being generated."""
        return self._download(
            f"/api/v1/market_applications/{_segment(identifier)}/attestation",
            _folder_or_file(destination),
            f"attestation_{_safe_name(identifier)}.pdf",
            wait,
        )

    def download_documents_package(
        self, identifier: str, destination: str | os.PathLike[str], *, wait: float = 0.0
    ) -> Download:
        """The documents ZIP, streamed to `destination` (see `download_attestation`)."""
        return self._download(
            f"/api/v1/market_applications/{_segment(identifier)}/documents_package",
            _folder_or_file(destination),
            f"documents_package_{_safe_name(identifier)}.zip",
            wait,
        )

    def _download(self, path: str, destination: Path, default_name: str, wait: float) -> Download:
        deadline = time.monotonic() + wait
        while True:
            try:
                return self._send(
                    "GET",
                    path,
                    timeout=self.download_timeout,
                    sink=lambda response: _save(response, destination, default_name),
                    expected=OK,
                )
            except NotFound as error:
                # "Attestation not available" comes with Retry-After: generation is under way.
                if error.retry_after is None or time.monotonic() >= deadline:
                    raise
                self._sleep(max(0.2, min(error.retry_after, deadline - time.monotonic(), 2.0)))

    # --- The one place requests are sent -------------------------------------------------

    def _send(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        data: Mapping[str, str] | None = None,
        authenticated: bool = True,
        idempotency_key: str | None = None,
        timeout: float | None = None,
        sink: Callable[[requests.Response], Any] | None = None,
        expected: tuple[int, ...] = OK,
    ) -> Any:
        """Sends one call with its retries. Returns the response, or what `sink` made of it
        (the response is then streamed, and a network error while reading it is retried like
        any other), when its status is one of `expected`. Another status below 400 (a redirect,
        a 204…) raises `ProtocolError`; 4xx and 5xx raise the typed `ApiError`."""
        url = self.base_url + path
        renewed = False
        attempt = 0
        while True:
            attempt += 1
            headers = {"User-Agent": self.user_agent, "Accept": "application/json"}
            token: Token | None = None
            if authenticated:
                token = self._tokens.get()
                headers["Authorization"] = f"Bearer {token.access_token}"
            if idempotency_key:
                headers["Idempotency-Key"] = idempotency_key
            started = time.monotonic()
            try:
                response = self._session.request(
                    method,
                    url,
                    json=json,
                    data=data,
                    headers=headers,
                    timeout=timeout or self.timeout,
                    stream=sink is not None,
                    allow_redirects=False,
                )
                result = (
                    sink(response)
                    if sink is not None and response.status_code in expected
                    else None
                )
            except NETWORK_ERRORS as error:
                delay = self.retry.delay_before_retry(attempt)
                log_call(
                    method,
                    path,
                    None,
                    attempt,
                    time.monotonic() - started,
                    error=type(error).__name__,
                    retry_in=delay,
                )
                if delay is None:
                    raise TransportError(
                        f"{method} {path}: {type(error).__name__} after {attempt} attempt(s)"
                    ) from error
                self._sleep(delay)
                continue
            status = response.status_code
            request_id = response.headers.get("X-Request-Id")
            if status in expected:
                log_call(
                    method, path, status, attempt, time.monotonic() - started, request_id=request_id
                )
                return result if sink is not None else response
            if status < 400:
                response.close()
                log_call(
                    method,
                    path,
                    status,
                    attempt,
                    time.monotonic() - started,
                    request_id=request_id,
                    error="unexpected status",
                )
                location = response.headers.get("Location", "").split("?", 1)[0]
                raise ProtocolError(
                    f"{method} {path}: unexpected HTTP {status}"
                    + (f" (redirect to {location}: check the base URL)" if location else ""),
                    status=status,
                    request_id=request_id,
                )
            body = _json_or_none(response)
            response.close()
            if status == 401 and token is not None and not renewed:
                # Expired or revoked (a newer token for the same scopes revokes the older one).
                renewed = True
                self._tokens.invalidate(token)
                log_call(
                    method,
                    path,
                    status,
                    attempt,
                    time.monotonic() - started,
                    request_id=request_id,
                    error="token refused, renewing",
                    retry_in=0,
                )
                continue
            retry_after = retry_after_seconds(response.headers, body)
            delay = (
                self.retry.delay_before_retry(
                    attempt, retry_after if status in RETRY_AFTER_STATUSES else None
                )
                if is_retryable_status(status)
                else None
            )
            log_call(
                method,
                path,
                status,
                attempt,
                time.monotonic() - started,
                request_id=request_id,
                retry_in=delay,
            )
            if delay is None:
                raise error_for(status, body, request_id, retry_after)
            self._sleep(delay)


def _iso(value: str | datetime) -> str:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("deadline: give an aware datetime (the API reads naive ones as UTC)")
        return value.isoformat()
    return value


def _lot_json(lot: Lot | Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(lot, Lot):
        return {"name": lot.name, **({"cpv_code": lot.cpv_code} if lot.cpv_code else {})}
    return dict(lot)


def _folder_or_file(destination: str | os.PathLike[str]) -> Path:
    """A path ending with a separator is a folder, created if needed (Path() drops the slash)."""
    text = os.fspath(destination)
    path = Path(text)
    if text.endswith(("/", os.sep)):
        path.mkdir(parents=True, exist_ok=True)
    return path


def _segment(identifier: str) -> str:
    """An identifier as one path segment: `/`, `?`, `#`, `..` cannot reach another endpoint."""
    return quote(str(identifier), safe="")


def _safe_name(identifier: str) -> str:
    """An identifier usable in a default file name (never a path)."""
    return _UNSAFE_IN_NAME.sub("_", str(identifier))


def _parse(response: requests.Response, call: str, build: Callable[[dict[str, Any]], T]) -> T:
    """`build` applied to the JSON object of a success; `ProtocolError` when the body is not
    JSON, not an object, or lacks what `build` needs."""
    request_id = response.headers.get("X-Request-Id")
    try:
        body = response.json()
    except ValueError:
        raise ProtocolError(
            f"{call}: HTTP {response.status_code} with a body that is not JSON "
            f"({response.headers.get('Content-Type') or 'no Content-Type'})",
            status=response.status_code,
            request_id=request_id,
        ) from None
    if not isinstance(body, dict):
        raise ProtocolError(
            f"{call}: HTTP {response.status_code} with JSON that is not an object",
            status=response.status_code,
            request_id=request_id,
        )
    try:
        return build(body)
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise ProtocolError(
            f"{call}: HTTP {response.status_code} with an unexpected body "
            f"({type(error).__name__}: {error})",
            status=response.status_code,
            request_id=request_id,
        ) from None


def _json_or_none(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _save(response: requests.Response, destination: Path, default_name: str) -> Download:
    """Streams the body to a temporary file next to the target, renamed once complete: an
    interrupted download never leaves a truncated file under the final name."""
    disposition = response.headers.get("Content-Disposition", "")
    match = _FILENAME.search(disposition)
    filename = os.path.basename(match.group(1)) if match else None
    if filename in ("", ".", ".."):
        filename = None
    target = destination / (filename or default_name) if destination.is_dir() else destination
    target.parent.mkdir(parents=True, exist_ok=True)
    # A name of its own in the target's folder (same file system, so the rename is atomic):
    # never a file another download, or anything else, is using.
    handle, partial_name = tempfile.mkstemp(
        prefix=f".{target.name}.", suffix=".part", dir=target.parent
    )
    partial = Path(partial_name)
    size = 0
    try:
        with os.fdopen(handle, "wb") as out:
            for chunk in response.iter_content(CHUNK_SIZE):
                out.write(chunk)
                size += len(chunk)
        expected = response.headers.get("Content-Length")
        if expected is not None and int(expected) != size:
            raise requests.exceptions.ChunkedEncodingError(f"received {size} bytes of {expected}")
        os.replace(partial, target)
    finally:
        response.close()
        partial.unlink(missing_ok=True)
    return Download(
        path=target,
        size=size,
        content_type=response.headers.get("Content-Type", ""),
        filename=filename,
        etag=response.headers.get("ETag"),
    )


__all__ = ["ApiError", "PasseMarcheClient", "ProtocolError"]
