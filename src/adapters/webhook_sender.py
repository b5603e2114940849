"""Webhooks over HTTP: the sender (requests) and the guard on where they may go.

Neither logs a body, a header value or a signature: the error texts they produce name the kind
of failure only (never the URL, whose query string may carry an editor's token).
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Mapping, Sequence
from urllib.parse import urlsplit

import requests
from passemarche.domain.webhook import AttemptOutcome, addresses_refusal, url_refusal

CONNECT_TIMEOUT = 10.0
READ_TIMEOUT = 30.0


class RequestsWebhookSender:
    """POSTs a webhook body; reports a status code or a network error, never raises for them.

    Redirects are not followed (a 3xx is the receiver's answer, retried like any other status):
    following one would send the signed body to a host the guard never checked.
    """

    def __init__(
        self, connect_timeout: float = CONNECT_TIMEOUT, read_timeout: float = READ_TIMEOUT
    ) -> None:
        self.timeout = (connect_timeout, read_timeout)

    def send(self, url: str, body: bytes, headers: Mapping[str, str]) -> AttemptOutcome:
        # A session per attempt: the in-process runner sends from several threads, and a
        # requests.Session is not documented as thread-safe.
        with requests.Session() as session:
            try:
                response = session.post(
                    url,
                    data=body,
                    headers=dict(headers),
                    timeout=self.timeout,
                    allow_redirects=False,
                    stream=True,  # the status is all we need: the body is never read
                )
            except requests.ConnectTimeout:
                return AttemptOutcome(error=f"connection timed out after {self.timeout[0]:g} s")
            except requests.ReadTimeout:
                return AttemptOutcome(error=f"no response within {self.timeout[1]:g} s")
            except requests.exceptions.SSLError as error:
                return AttemptOutcome(error=f"TLS error: {_reason(error)}")
            except requests.ConnectionError as error:
                return AttemptOutcome(error=f"connection failed: {_reason(error)}")
            except requests.RequestException as error:
                return AttemptOutcome(error=f"request failed: {type(error).__name__}")
            with response:
                return AttemptOutcome(status_code=response.status_code)


def _reason(error: BaseException) -> str:
    """The operating system's words for a network failure (e.g. "Connection refused"), found
    down the exception chain; never the library's message, which quotes the URL."""
    seen: set[int] = set()
    stack: list[object] = [error]
    while stack:
        current = stack.pop()
        if not isinstance(current, BaseException) or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, socket.gaierror):
            return "host name could not be resolved"
        if isinstance(current, OSError) and current.strerror:
            return current.strerror
        reason = getattr(current, "reason", None)
        stack.extend([current.__cause__, current.__context__, reason, *current.args])
    return type(error).__name__


Resolver = Callable[[str, int], Sequence[str]]


def resolve_addresses(host: str, port: int) -> list[str]:
    """Every address a connection to host:port may use."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return sorted({str(info[4][0]) for info in infos})


class WebhookTargetGuard:
    """Refuses webhook URLs that are not https (when required) or whose host resolves to a
    private, loopback, link-local, multicast, reserved or unspecified address (unless allowed).

    A host that cannot be resolved now is not refused: the send then fails as a network error
    and is retried. The check runs before each attempt; a DNS answer changed between the check
    and the connection (rebinding) is not caught here.
    """

    def __init__(
        self,
        *,
        require_https: bool,
        allow_private: bool,
        resolver: Resolver = resolve_addresses,
    ) -> None:
        self.require_https = require_https
        self.allow_private = allow_private
        self.resolver = resolver

    def refusal(self, url: str) -> str | None:
        refused = url_refusal(url, require_https=self.require_https)
        if refused is not None or self.allow_private:
            return refused
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port or (443 if parts.scheme == "https" else 80)
        try:
            addresses = self.resolver(host, port)
        except (OSError, UnicodeError):
            return None
        return addresses_refusal(host, addresses, allow_private=self.allow_private)
