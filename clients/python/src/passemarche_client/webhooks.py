"""Verifying the webhooks Passe Marché sends, in both signature styles.

Every webhook carries two HMAC-SHA256 signatures keyed by the UTF-8 bytes of the editor's
`webhook_secret`:

- `X-Webhook-Signature-SHA256: sha256=<hex of HMAC(body)>` (the reference's header);
- Standard Webhooks: `webhook-id`, `webhook-timestamp` (Unix seconds) and
  `webhook-signature: v1,<base64 of HMAC("{id}.{timestamp}.{body}")>` (several space-separated
  signatures may be listed during a secret rotation).

`verify_webhook` checks every signature present (one that does not match is tampering), refuses
a timestamp outside the replay window, and with a `ReplayGuard` refuses an id seen before.
The legacy header alone signs no timestamp, so it cannot be held to a replay window: it is
refused unless `allow_legacy_only=True`.

    event = verify_webhook(SECRET, request.headers, request.get_data(), replay_guard=guard)
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Mapping
from typing import Any

from passemarche_client.errors import PasseMarcheError
from passemarche_client.models import WebhookEvent

LEGACY_HEADER = "X-Webhook-Signature-SHA256"
DEFAULT_TOLERANCE = 300  # seconds, as Standard Webhooks recommends


class WebhookVerificationError(PasseMarcheError):
    """The webhook must not be trusted; `reason` says why (safe to log)."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class ReplayedWebhook(WebhookVerificationError):
    """A genuine webhook already received: acknowledge it (2xx) but do not process it again."""


class ReplayGuard:
    """Remembers the `webhook-id`s seen within the replay window (in memory, per process; use
    your database in production so that every worker shares them)."""

    def __init__(self, ttl: float = 2 * DEFAULT_TOLERANCE) -> None:
        self.ttl = ttl
        self._seen: dict[str, float] = {}
        self._lock = threading.Lock()

    def remember(self, webhook_id: str, now: float | None = None) -> bool:
        """True the first time an id is seen, False afterwards."""
        now = time.time() if now is None else now
        with self._lock:
            for key in [k for k, at in self._seen.items() if now - at > self.ttl]:
                del self._seen[key]
            if webhook_id in self._seen:
                return False
            self._seen[webhook_id] = now
            return True


def _hmac(secret: str, message: bytes) -> bytes:
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).digest()


def sign_webhook(
    secret: str, body: bytes, webhook_id: str, timestamp: int | None = None
) -> dict[str, str]:
    """The headers Passe Marché would send with `body` (for tests and local tools)."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    signed = f"{webhook_id}.{timestamp}.".encode() + body
    return {
        "Content-Type": "application/json",
        LEGACY_HEADER: "sha256=" + _hmac(secret, body).hex(),
        "webhook-id": webhook_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": "v1," + base64.b64encode(_hmac(secret, signed)).decode(),
    }


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is not None:
        return value
    lowered = name.lower()
    for key, value in headers.items():
        if key.lower() == lowered:
            return value
    return None


def verify_webhook(
    secret: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    tolerance: float = DEFAULT_TOLERANCE,
    now: float | None = None,
    replay_guard: ReplayGuard | None = None,
    allow_legacy_only: bool = False,
) -> WebhookEvent:
    """The verified event, or `WebhookVerificationError` (`ReplayedWebhook` for an id already
    seen). `body` must be the exact bytes received, before any JSON decoding."""
    if not secret:
        raise WebhookVerificationError("no webhook secret configured")
    legacy = _header(headers, LEGACY_HEADER)
    webhook_id = _header(headers, "webhook-id")
    timestamp_text = _header(headers, "webhook-timestamp")
    signatures = _header(headers, "webhook-signature")
    standard = webhook_id is not None or timestamp_text is not None or signatures is not None
    timestamp: int | None = None

    if legacy is None and not standard:
        raise WebhookVerificationError("no signature")
    if legacy is not None:
        expected = "sha256=" + _hmac(secret, body).hex()
        if not hmac.compare_digest(expected.encode(), legacy.strip().encode()):
            raise WebhookVerificationError(f"{LEGACY_HEADER} does not match the body")
    if standard:
        if not (webhook_id and timestamp_text and signatures):
            raise WebhookVerificationError("incomplete Standard Webhooks headers")
        try:
            timestamp = int(timestamp_text)
        except ValueError:
            raise WebhookVerificationError("webhook-timestamp is not a number") from None
        current = time.time() if now is None else now
        if abs(current - timestamp) > tolerance:
            raise WebhookVerificationError("webhook-timestamp outside the replay window")
        signed = f"{webhook_id}.{timestamp}.".encode() + body
        expected_v1 = base64.b64encode(_hmac(secret, signed)).decode()
        candidates = [
            entry.split(",", 1)[1]
            for entry in signatures.split()
            if entry.startswith("v1,") and "," in entry
        ]
        if not any(hmac.compare_digest(expected_v1.encode(), c.encode()) for c in candidates):
            raise WebhookVerificationError("webhook-signature does not match")
    elif not allow_legacy_only:
        raise WebhookVerificationError("no webhook-timestamp: the replay window cannot be checked")

    try:
        payload: Any = json.loads(body)
    except ValueError:
        raise WebhookVerificationError("the body is not JSON") from None
    if not isinstance(payload, dict):
        raise WebhookVerificationError("the body is not a JSON object")
    if replay_guard is not None and webhook_id is not None:
        if not replay_guard.remember(webhook_id, now):
            raise ReplayedWebhook(f"webhook {webhook_id} already received")
    return WebhookEvent(
        event=str(payload.get("event", "")),
        webhook_id=webhook_id,
        timestamp=timestamp,
        payload=payload,
    )
