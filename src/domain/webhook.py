"""Webhook deliveries: the signed notifications sent to an editor, their life cycle, retry
schedule, signature headers and the rules on where they may be sent. Sending itself is a port
(services.ports.WebhookSender); resolving a host name belongs to an adapter."""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import json
import random
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from urllib.parse import urlsplit

from passemarche.domain.application import Application
from passemarche.domain.errors import DomainError
from passemarche.domain.market import Market


class WebhookEvent(StrEnum):
    MARKET_COMPLETED = "market.completed"
    APPLICATION_COMPLETED = "market_application.completed"


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    PROCESSING = "processing"
    DELIVERED = "delivered"
    FAILED = "failed"


# Statuses that will not get better by retrying: the editor must fix something first.
NON_RETRYABLE_STATUSES = frozenset({400, 401, 403, 404, 405, 410, 422})

# About a day over 10 attempts: 30 s, 2 min, 10 min, 30 min, 1 h, 2 h, 4 h, 6 h, 8 h (≈ 21.7 h).
DEFAULT_RETRY_DELAYS: tuple[float, ...] = (30, 120, 600, 1800, 3600, 7200, 14400, 21600, 28800)


class DeliveryNotRetryable(DomainError):
    message = "Only a failed delivery can be retried"


@dataclass(frozen=True)
class RetrySchedule:
    """Delays between attempts, in seconds, each spread by ±`jitter` so that many deliveries
    failing together do not all come back at the same instant."""

    delays: Sequence[float] = DEFAULT_RETRY_DELAYS
    jitter: float = 0.2

    @property
    def max_attempts(self) -> int:
        return len(self.delays) + 1

    def delay_after(self, attempt: int, rng: random.Random | None = None) -> timedelta | None:
        """The wait after the `attempt`-th attempt failed, or None when none is left."""
        if attempt >= self.max_attempts:
            return None
        base = self.delays[attempt - 1]
        spread = (rng or _RNG).uniform(1 - self.jitter, 1 + self.jitter)
        return timedelta(seconds=base * spread)


_RNG = random.SystemRandom()


@dataclass(frozen=True)
class AttemptOutcome:
    """What one HTTP attempt gave: a status code, or a network error."""

    status_code: int | None = None
    error: str | None = None

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300

    @property
    def retryable(self) -> bool:
        return not self.delivered and self.status_code not in NON_RETRYABLE_STATUSES


@dataclass(eq=False)
class WebhookDelivery:
    id: str
    event: str
    editor_client_id: str
    resource_identifier: str
    payload: str
    created_at: datetime
    status: str = DeliveryStatus.PENDING.value
    attempts: int = 0
    last_status_code: int | None = None
    last_error: str | None = None
    next_attempt_at: datetime | None = None
    delivered_at: datetime | None = None

    @classmethod
    def new(
        cls, event: WebhookEvent, editor_client_id: str, resource_identifier: str, payload: dict,
        now: datetime,
    ) -> WebhookDelivery:  # fmt: skip
        return cls(
            id="msg_" + secrets.token_hex(16),
            event=event.value,
            editor_client_id=editor_client_id,
            resource_identifier=resource_identifier,
            payload=json.dumps(payload, ensure_ascii=False, separators=(",", ":")),
            created_at=now,
            next_attempt_at=now,
        )

    @property
    def body(self) -> bytes:
        """The exact bytes sent (and signed) on every attempt."""
        return self.payload.encode("utf-8")

    def start_attempt(self) -> bool:
        """False when there is nothing to send (already delivered or given up)."""
        if self.status in (DeliveryStatus.DELIVERED.value, DeliveryStatus.FAILED.value):
            return False
        self.status = DeliveryStatus.PROCESSING.value
        return True

    def record(
        self, outcome: AttemptOutcome, now: datetime, schedule: RetrySchedule
    ) -> timedelta | None:
        """Apply one attempt's outcome; returns the delay before the next attempt, if any."""
        self.attempts += 1
        self.last_status_code = outcome.status_code
        self.last_error = outcome.error
        if outcome.delivered:
            self.status = DeliveryStatus.DELIVERED.value
            self.delivered_at = now
            self.next_attempt_at = None
            return None
        delay = schedule.delay_after(self.attempts) if outcome.retryable else None
        if delay is None:
            self.status = DeliveryStatus.FAILED.value
            self.next_attempt_at = None
            return None
        self.status = DeliveryStatus.PENDING.value
        self.next_attempt_at = now + delay
        return delay

    def fail(self, reason: str, now: datetime) -> None:
        """Give up without sending (no URL configured, a refused target...)."""
        self.attempts += 1
        self.status = DeliveryStatus.FAILED.value
        self.last_error = reason
        self.last_status_code = None
        self.next_attempt_at = None

    def retry_by_hand(self, now: datetime) -> None:
        if self.status != DeliveryStatus.FAILED.value:
            raise DeliveryNotRetryable()
        self.status = DeliveryStatus.PENDING.value
        self.attempts = 0
        self.next_attempt_at = now


def timestamp(moment: datetime) -> str:
    """ISO 8601 UTC with milliseconds: 2024-06-15T14:30:45.123Z."""
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def market_completed_payload(market: Market, now: datetime) -> dict[str, object]:
    return {
        "event": WebhookEvent.MARKET_COMPLETED.value,
        "timestamp": timestamp(now),
        "market": {
            "identifier": market.identifier,
            "name": market.name,
            "lots": [{"name": lot.name} for lot in market.lots],
            "deadline": timestamp(market.deadline),
            "market_type_codes": list(market.market_type_codes),
            "completed_at": timestamp(market.completed_at or now),
            "field_keys": list(market.field_keys),
        },
    }


USER_AGENT = "PasseMarche-Webhook/1.0"


def signed_headers(delivery_id: str, body: bytes, secret: str, now: datetime) -> dict[str, str]:
    """The headers of one attempt, signed twice over the exact body bytes.

    Both signatures use the same HMAC-SHA256 key: the UTF-8 bytes of the editor's webhook secret,
    as shown to the editor (a plain URL-safe string, not a `whsec_`-prefixed base64 key).

    - `X-Webhook-Signature-SHA256: sha256=<hex>` signs the body alone (the reference's header).
    - `webhook-signature: v1,<base64>` signs `{webhook-id}.{webhook-timestamp}.{body}` (Standard
      Webhooks), so a receiver can refuse replays. `webhook-id` is the delivery id, the same on
      every attempt; `webhook-timestamp` is the attempt's time in Unix seconds. A receiver using a
      Standard Webhooks library, which base64-decodes its key, passes it
      `"whsec_" + base64(secret.encode("utf-8"))`.
    """
    key = secret.encode("utf-8")
    sent_at = str(int(now.timestamp()))
    body_digest = hmac.new(key, body, hashlib.sha256).hexdigest()
    signed_content = f"{delivery_id}.{sent_at}.".encode() + body
    standard = base64.b64encode(hmac.new(key, signed_content, hashlib.sha256).digest()).decode()
    return {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-Webhook-Signature-SHA256": f"sha256={body_digest}",
        "webhook-id": delivery_id,
        "webhook-timestamp": sent_at,
        "webhook-signature": f"v1,{standard}",
    }


def url_refusal(url: str, *, require_https: bool) -> str | None:
    """Why a webhook URL may not be called whatever its host resolves to, or None."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018  (raises ValueError on a port out of range)
    except ValueError:
        return "Webhook URL is not a valid URL"
    if parts.scheme not in ("http", "https"):
        return "Webhook URL must be an http or https URL"
    if require_https and parts.scheme != "https":
        return "Webhook URL must use https"
    if not host:
        return "Webhook URL has no host"
    return None


def addresses_refusal(host: str, addresses: Iterable[str], *, allow_private: bool) -> str | None:
    """Why a host resolving to these addresses may not be called, or None.

    Every address counts: a name resolving to one public and one private address is refused, as
    the connection may use either. `allow_private` (development and tests) lifts the rule.
    """
    if allow_private:
        return None
    for address in addresses:
        kind = _non_public_kind(address)
        if kind is not None:
            where = host if address == host else f"{host} resolves to {address}, which"
            return f"Webhook host {where} is a {kind} address"
    return None


def _non_public_kind(address: str) -> str | None:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return "unparsable"
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # ::ffff:127.0.0.1 reaches 127.0.0.1
    checks = (
        ("unspecified", ip.is_unspecified),
        ("loopback", ip.is_loopback),
        ("link-local", ip.is_link_local),
        ("multicast", ip.is_multicast),
        ("reserved", ip.is_reserved),
        ("private", ip.is_private),
        ("non-public", not ip.is_global),  # e.g. 100.64.0.0/10, shared by carriers
    )
    return next((kind for kind, applies in checks if applies), None)


def application_completed_payload(
    application: Application,
    now: datetime,
    attestation_url: str,
    documents_package_url: str,
) -> dict[str, object]:
    return {
        "event": WebhookEvent.APPLICATION_COMPLETED.value,
        "timestamp": timestamp(now),
        "market_identifier": application.market_identifier,
        "market_application": {
            "identifier": application.identifier,
            "siret": str(application.siret) if application.siret else None,
            "company_name": application.company_name,
            "completed_at": timestamp(application.completed_at or now),
            "attestation_url": attestation_url,
            "documents_package_url": documents_package_url,
        },
    }
