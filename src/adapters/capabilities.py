"""Capability tokens for the buyer and candidate links: HMAC-SHA256 of the purpose and the
identifier under the service's secret key. Deterministic (a replayed create returns the same URL)
and unguessable without the key."""

from __future__ import annotations

import base64
import hashlib
import hmac


class HmacCapabilitySigner:
    def __init__(self, secret_key: str) -> None:
        self._key = secret_key.encode("utf-8")

    def sign(self, purpose: str, identifier: str) -> str:
        digest = hmac.new(self._key, f"{purpose}:{identifier}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")

    def verify(self, purpose: str, identifier: str, token: str) -> bool:
        expected = self.sign(purpose, identifier).encode("ascii")
        return hmac.compare_digest(expected, token.encode("utf-8", "surrogatepass"))
