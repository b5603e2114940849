"""JSON over HTTP for the data sources, and the download of the documents they point at.

One `SourceHttp` serves one fetch (it wraps a `requests.Session`, which is not documented as
thread-safe: fetches run in parallel jobs, so each has its own). A call is retried once on a
transient error (connection error, timeout, 429, 500/502/503/504), then its final answer becomes
an outcome:

- 200 with a JSON body → completed (the parsed body);
- 404 → not found;
- 401 / 403 → unavailable: our credentials are refused, logged at ERROR once per process for a
  source and a status (every fetch would say it again);
- anything else (422, other 4xx, 5xx, a timeout, a body that is not JSON) → failed.

Every attempt is one structured log line (source, path without the query string, status,
attempt, duration); the bearer token, the query string and the bodies are never logged.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
from passemarche.domain.prefill import FetchedDocument, FetchStatus
from passemarche.domain.uploads import SNIFF_BYTES, FileKind, sniff

log = logging.getLogger("passemarche.data_sources")

CONNECT_TIMEOUT = 10.0
READ_TIMEOUT = 30.0
MAX_RETRY_AFTER = 3.0  # seconds: a longer Retry-After is cut short (the retry is a courtesy)
RETRY_DELAY = 1.0  # seconds before the retry when the server gave no Retry-After
MAX_DOCUMENT_BYTES = 20 * 1024 * 1024
MAX_DOWNLOAD_SECONDS = 60.0  # a server trickling bytes cannot hold a worker longer
MAX_REDIRECTS = 3
DOCUMENT_HOST_SUFFIX = ".api.gouv.fr"  # where API Entreprise keeps its documents
TRANSIENT_STATUSES = frozenset({429, 500, 502, 503, 504})
REFUSED_STATUSES = frozenset({401, 403})
DOCUMENT_KINDS: dict[FileKind, str] = {
    FileKind.PDF: "pdf",
    FileKind.JPEG: "jpg",
    FileKind.PNG: "png",
}
_CHUNK = 64 * 1024


Origin = tuple[str, str, int | None]  # scheme, host, port


def origin_of(url: str) -> Origin:
    """Scheme, host and port (the default port of the scheme when none is written)."""
    parts = urlsplit(url)
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        port = None
    return (parts.scheme.lower(), (parts.hostname or "").lower(), port)


def document_url_refusal(url: str, trusted_origin: Origin | None) -> str | None:
    """Why a document URL an API gave must not be fetched, or None when it may."""
    scheme, host, port = origin_of(url)
    if scheme not in ("http", "https") or not host:
        return "not an http(s) URL"
    if trusted_origin is not None and (scheme, host, port) == trusted_origin:
        return None
    if scheme != "https":
        return "a document elsewhere than the API must be https"
    if not (host == DOCUMENT_HOST_SUFFIX[1:] or host.endswith(DOCUMENT_HOST_SUFFIX)):
        return "document host not allowed"
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, port)}
    except OSError:
        return "document host does not resolve"
    if any(not ipaddress.ip_address(str(a).split("%")[0]).is_global for a in addresses):
        return "document host resolves to a private address"
    return None


@dataclass(frozen=True)
class HttpSettings:
    """Timeouts and limits; the defaults are the production ones, tests shorten them."""

    connect_timeout: float = CONNECT_TIMEOUT
    read_timeout: float = READ_TIMEOUT
    max_retry_after: float = MAX_RETRY_AFTER
    retry_delay: float = RETRY_DELAY
    max_document_bytes: int = MAX_DOCUMENT_BYTES
    max_download_seconds: float = MAX_DOWNLOAD_SECONDS

    @property
    def timeout(self) -> tuple[float, float]:
        return (self.connect_timeout, self.read_timeout)


class RefusalLog:
    """Remembers which (source, status) refusals were already logged at ERROR in this process."""

    def __init__(self) -> None:
        self._seen: set[tuple[str, int]] = set()
        self._lock = threading.Lock()

    def first_time(self, source: str, status: int) -> bool:
        with self._lock:
            if (source, status) in self._seen:
                return False
            self._seen.add((source, status))
            return True


REFUSALS = RefusalLog()  # the process-wide one


@dataclass(frozen=True)
class JsonAnswer:
    """A JSON call's outcome; `body` is the parsed JSON when completed."""

    outcome: FetchStatus
    body: Any = None
    status: int | None = None
    detail: str | None = None


@dataclass(frozen=True)
class Download:
    """A document download: the checked document, or why it was refused."""

    document: FetchedDocument | None = None
    refusal: str | None = None


class SourceHttp:
    """The HTTP calls of one fetch for one source (see the module docstring)."""

    def __init__(
        self,
        source: str,
        session: requests.Session,
        settings: HttpSettings,
        *,
        refusals: RefusalLog = REFUSALS,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.source = source
        self.session = session
        self.settings = settings
        self.refusals = refusals
        self.sleep = sleep

    # --- JSON -------------------------------------------------------------------------------

    def get_json(
        self,
        url: str,
        params: Mapping[str, str | int] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> JsonAnswer:
        response, error = self._get(url, params=params, headers=headers, stream=False)
        if response is None:
            return JsonAnswer(FetchStatus.FAILED, detail=error)
        status = response.status_code
        if status == 200:
            try:
                body = response.json()
            except ValueError:
                return JsonAnswer(FetchStatus.FAILED, status=status, detail="body is not JSON")
            return JsonAnswer(FetchStatus.COMPLETED, body=body, status=status)
        detail = f"HTTP {status}{_error_text(response)}"
        if status == 404:
            return JsonAnswer(FetchStatus.NOT_FOUND, status=status, detail=detail)
        if status in REFUSED_STATUSES:
            if self.refusals.first_time(self.source, status):
                log.error(
                    "data source refused our credentials",
                    extra={"fields": {"source": self.source, "status": status, "detail": detail}},
                )
            return JsonAnswer(FetchStatus.UNAVAILABLE, status=status, detail=detail)
        return JsonAnswer(FetchStatus.FAILED, status=status, detail=detail)

    # --- documents --------------------------------------------------------------------------

    def download(
        self,
        url: str,
        base_name: str,
        headers: Mapping[str, str] | None = None,
        trusted_origin: Origin | None = None,
    ) -> Download:
        """GETs a document and checks it: at most `max_document_bytes` within
        `max_download_seconds`, and a PDF, a JPEG or a PNG by its first bytes. The file is named
        `base_name` plus the extension of its kind.

        The URL comes from the API's answer, so it is not trusted blindly (SSRF): it must be on
        `trusted_origin` (the API's own scheme, host and port), or https on a public address of
        an ``api.gouv.fr`` host. Redirects are followed by hand (3 at most), each hop checked the
        same way; `headers` (the bearer token) only go to `trusted_origin`."""
        started = time.monotonic()
        for _hop in range(MAX_REDIRECTS + 1):
            refusal = document_url_refusal(url, trusted_origin)
            if refusal is not None:
                log.warning(
                    "document URL refused",
                    extra={"fields": {"source": self.source, "reason": refusal}},
                )
                return Download(refusal=refusal)
            own = trusted_origin is not None and origin_of(url) == trusted_origin
            response, error = self._get(
                url, params=None, headers=headers if own else None, stream=True
            )
            if response is None:
                return Download(refusal=error)
            if not response.is_redirect:
                break
            location = response.headers.get("Location", "")
            response.close()
            url = urljoin(url, location)
        else:
            return Download(refusal="too many redirects")
        with response:
            if response.status_code != 200:
                return Download(refusal=f"HTTP {response.status_code}")
            limit = self.settings.max_document_bytes
            declared = response.headers.get("Content-Length", "")
            if declared.isdigit() and int(declared) > limit:
                return Download(refusal=f"larger than {limit} bytes")
            content = bytearray()
            try:
                for chunk in response.iter_content(_CHUNK):
                    content += chunk
                    if len(content) > limit:
                        return Download(refusal=f"larger than {limit} bytes")
                    if time.monotonic() - started > self.settings.max_download_seconds:
                        return Download(refusal="download too slow")
            except requests.RequestException as exc:
                return Download(refusal=f"download interrupted: {type(exc).__name__}")
        kind = sniff(bytes(content[:SNIFF_BYTES]))
        extension = DOCUMENT_KINDS.get(kind)
        if extension is None:
            return Download(refusal=f"not a PDF or an image ({kind.value})")
        return Download(document=FetchedDocument(f"{base_name}.{extension}", bytes(content)))

    # --- one call, retried once -------------------------------------------------------------

    def _get(
        self,
        url: str,
        *,
        params: Mapping[str, str | int] | None,
        headers: Mapping[str, str] | None,
        stream: bool,
    ) -> tuple[requests.Response | None, str | None]:
        """The final response (or None and why) after at most one retry."""
        path = urlsplit(url).path
        response: requests.Response | None = None
        error: str | None = None
        for attempt in (1, 2):
            started = time.perf_counter()
            response, error = None, None
            try:
                response = self.session.get(
                    url,
                    params=params,
                    headers=dict(headers or {}),
                    timeout=self.settings.timeout,
                    stream=stream,
                    allow_redirects=False,  # documents: followed by hand, each hop checked
                )
            except requests.ConnectTimeout:
                error = f"connection timed out after {self.settings.connect_timeout:g} s"
            except requests.ReadTimeout:
                error = f"no response within {self.settings.read_timeout:g} s"
            except requests.ConnectionError:
                error = "connection failed"
            except requests.RequestException as exc:
                error = f"request failed: {type(exc).__name__}"
            fields: dict[str, Any] = {
                "source": self.source,
                "path": path,
                "status": response.status_code if response is not None else None,
                "attempt": attempt,
                "duration_ms": round((time.perf_counter() - started) * 1000, 2),
            }
            if error:
                fields["error"] = error
            log.info("data source call", extra={"fields": fields})
            transient = response is None or response.status_code in TRANSIENT_STATUSES
            if attempt == 2 or not transient:
                break
            delay = self._retry_delay(response)
            if response is not None:
                response.close()
            self.sleep(delay)
        if response is None and error is None:  # pragma: no cover - the loop always sets one
            error = "no response"
        return response, error

    def _retry_delay(self, response: requests.Response | None) -> float:
        delay = self.settings.retry_delay
        if response is not None and response.status_code == 429:
            value = response.headers.get("Retry-After", "").strip()
            if value.isdigit():
                delay = float(value)
        return max(0.0, min(delay, self.settings.max_retry_after))


def _error_text(response: requests.Response) -> str:
    """ ": <title>: <detail>" from API Entreprise's error shape, when there is one (for logs)."""
    try:
        body = response.json()
    except ValueError:
        return ""
    errors = body.get("errors") if isinstance(body, dict) else None
    if not isinstance(errors, list) or not errors or not isinstance(errors[0], dict):
        return ""
    first = errors[0]
    parts = [str(first[k]) for k in ("title", "detail") if isinstance(first.get(k), str)]
    return (": " + ": ".join(parts))[:300] if parts else ""
