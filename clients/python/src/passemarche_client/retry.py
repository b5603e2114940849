"""When to try a call again, and how long to wait first.

Retried: 429 (after at least its `Retry-After`, header or body), 408, every 5xx and network
errors. Never retried: 400, 401, 403, 404, 422 (the same request would get the same answer).
Waits grow exponentially with random jitter so that many clients do not retry in step."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

RETRYABLE_STATUSES = frozenset({408, 429})


def is_retryable_status(status: int) -> bool:
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


def retry_after_seconds(headers: Any, body: Any) -> float | None:
    """`Retry-After` in seconds (the header, else the 429 body's `retry_after`)."""
    raw = headers.get("Retry-After") if headers is not None else None
    if raw is not None:
        try:
            return max(0.0, float(raw))
        except ValueError:
            pass  # an HTTP date: fall back to the body
    if isinstance(body, dict) and isinstance(body.get("retry_after"), int | float):
        return max(0.0, float(body["retry_after"]))
    return None
