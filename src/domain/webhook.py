"""Webhook deliveries: the signed notifications sent to an editor, their life cycle and retry
schedule. Sending itself is a port (services.ports.WebhookSender)."""

from __future__ import annotations

import json
import random
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

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
