"""When to try a call again, and how long to wait first.

Retried: 429 and 503 (after at least their `Retry-After`: the header, in seconds or as an HTTP
date, else the 429 body's `retry_after`), 408, the other 5xx except 501 and 505, and network
errors. Never retried: 400, 401, 403, 404, 422, 501, 505 (the same request would get the same
answer). Waits grow exponentially with random jitter so that many clients do not retry in step."""

from __future__ import annotations

import email.utils
import random
import time
from dataclasses import dataclass, field
from datetime import UTC
from typing import Any

RETRYABLE_STATUSES = frozenset({408, 429})
# Server errors that are not transient: the server does not support the request at all.
PERMANENT_SERVER_ERRORS = frozenset({501, 505})
# Statuses whose `Retry-After` is waited for (capped by `RetryPolicy.max_retry_after`).
RETRY_AFTER_STATUSES = frozenset({429, 503})


def is_retryable_status(status: int) -> bool:
    if status in PERMANENT_SERVER_ERRORS:
        return False
    return status in RETRYABLE_STATUSES or status >= 500


@dataclass(frozen=True)
class RetryPolicy:
    """`max_attempts` counts the first try. A `Retry-After` above `max_retry_after` (a spent
    hourly budget, say) is not waited for: the call fails at once with `RateLimited`."""

    max_attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 30.0
    jitter: float = 0.5  # a wait is drawn in [delay × (1 − jitter), delay]
    max_retry_after: float = 120.0
    rng: random.Random = field(default_factory=random.Random, compare=False, repr=False)

    def backoff(self, attempt: int) -> float:
        """The wait after the failed attempt number `attempt` (1 for the first try)."""
        delay = min(self.max_delay, self.base_delay * (2 ** (attempt - 1)))
        return delay * (1 - self.jitter * self.rng.random())

    def delay_before_retry(self, attempt: int, retry_after: float | None = None) -> float | None:
        """Seconds to wait before trying again, or None when the call must fail now."""
        if attempt >= self.max_attempts:
            return None
        if retry_after is None:
            return self.backoff(attempt)
        if retry_after > self.max_retry_after:
            return None
        # The server's delay is a floor; a little jitter on top spreads the clients waiting.
        return retry_after + self.backoff(1) * self.rng.random()


def retry_after_seconds(headers: Any, body: Any, now: float | None = None) -> float | None:
    """`Retry-After` in seconds: the header (seconds, or an HTTP date compared with `now`, Unix
    seconds, default the clock), else the 429 body's `retry_after`."""
    raw = headers.get("Retry-After") if headers is not None else None
    if raw is not None:
        text = str(raw).strip()
        try:
            return max(0.0, float(text))
        except ValueError:
            pass
        try:
            when = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            when = None  # neither form: fall back to the body
        if when is not None:
            if when.tzinfo is None:
                when = when.replace(tzinfo=UTC)
            current = time.time() if now is None else now
            return max(0.0, when.timestamp() - current)
    if isinstance(body, dict) and isinstance(body.get("retry_after"), int | float):
        return max(0.0, float(body["retry_after"]))
    return None
