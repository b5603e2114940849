"""Verifying the webhooks Passe Marché sends, in both signature styles.

Every webhook carries two HMAC-SHA256 signatures keyed by the UTF-8 bytes of the editor's
`webhook_secret`:

- `X-Webhook-Signature-SHA256: sha256=<hex of HMAC(body)>` (the reference's header);
- Standard Webhooks: `webhook-id`, `webhook-timestamp` (Unix seconds) and
  `webhook-signature: v1,<base64 of HMAC("{id}.{timestamp}.{body}")>` (several space-separated
  signatures may be listed during a secret rotation).

`verify_webhook` checks every signature present (one that does not match is tampering), refuses
a timestamp outside the replay window, and with a `ReplayGuard` refuses an id already processed.
Verifying records nothing: call `guard.mark_processed(event.webhook_id)` once the event is
processed (stored, acted upon), so that a webhook whose processing failed is processed again
when the service retries it. The legacy header alone signs no timestamp, so it cannot be held to
a replay window: it is refused unless `allow_legacy_only=True`.

    event = verify_webhook(SECRET, request.headers, request.get_data(), replay_guard=guard)
    process(event)
    guard.mark_processed(event.webhook_id)

In production, deduplicate in your database instead (a unique `webhook-id` column written in
the same transaction as the processing): an in-memory guard is per process and forgets on restart.
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
# The service retries a webhook for about 22 h (26 h with its jitter) with the same webhook-id:
# a processed id is remembered longer than that, so that a late retry is not processed twice.
DEFAULT_RETENTION = 3 * 24 * 3600.0


class WebhookVerificationError(PasseMarcheError):
    """The webhook must not be trusted; `reason` says why (safe to log)."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class ReplayedWebhook(WebhookVerificationError):
    """A genuine webhook already received: acknowledge it (2xx) but do not process it again."""


class ReplayGuard:
    """Remembers the `webhook-id`s of the webhooks processed, for `retention` seconds (default
    3 days, longer than the service's retries). In memory, per process: in production keep the
    ids in your database, so that every worker shares them and a restart forgets none."""

    def __init__(self, retention: float = DEFAULT_RETENTION) -> None:
        if retention <= 0:
            raise ValueError("retention must be positive")
        self.retention = retention
        self._processed: dict[str, float] = {}
        self._lock = threading.Lock()

    def _forget_old(self, now: float) -> None:
        for key in [k for k, at in self._processed.items() if now - at > self.retention]:
            del self._processed[key]

    def was_processed(self, webhook_id: str, now: float | None = None) -> bool:
        """True when `mark_processed(webhook_id)` was called within the retention."""
        now = time.time() if now is None else now
        with self._lock:
            self._forget_old(now)
            return webhook_id in self._processed

    def mark_processed(self, webhook_id: str, now: float | None = None) -> None:
        """Call once the event is processed: its later deliveries are then `ReplayedWebhook`."""
        now = time.time() if now is None else now
        with self._lock:
            self._forget_old(now)
            self._processed[webhook_id] = now


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
    """The verified event, or `WebhookVerificationError` (`ReplayedWebhook` for an id the guard
    was told is processed). `body` must be the exact bytes received, before any JSON decoding.
    Nothing is recorded: call `replay_guard.mark_processed(event.webhook_id)` after processing."""
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
        if replay_guard.was_processed(webhook_id, now):
            raise ReplayedWebhook(f"webhook {webhook_id} already processed")
    return WebhookEvent(
        event=str(payload.get("event", "")),
        webhook_id=webhook_id,
        timestamp=timestamp,
        payload=payload,
    )
