"""Idempotency keys: a retried create returns the first outcome instead of creating twice."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from passemarche.domain.errors import IdempotencyKeyReused

IDEMPOTENCY_WINDOW = timedelta(hours=24)
MAX_KEY_LENGTH = 255


@dataclass(frozen=True)
class IdempotencyRequest:
    """What the caller sent: its key, the operation and a fingerprint of the request body."""

    key: str
    operation: str
    fingerprint: str

    @classmethod
    def for_payload(cls, key: str, operation: str, payload: object) -> IdempotencyRequest:
        canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        digest = hashlib.sha256(f"{operation}\n{canonical}".encode()).hexdigest()
        return cls(key=key, operation=operation, fingerprint=digest)


@dataclass(eq=False)
class IdempotencyRecord:
    client_id: str
    key: str
    fingerprint: str
    resource_identifier: str
    created_at: datetime

    def is_expired(self, now: datetime) -> bool:
        return now - self.created_at >= IDEMPOTENCY_WINDOW

    def replay_for(self, request: IdempotencyRequest) -> str:
        """The identifier made the first time; another request under the same key is refused."""
        if request.fingerprint != self.fingerprint:
            raise IdempotencyKeyReused()
        return self.resource_identifier
