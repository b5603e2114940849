"""Running a create exactly once per Idempotency-Key."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from passemarche.domain.idempotency import IdempotencyRecord, IdempotencyRequest
from passemarche.services.results import Created
from passemarche.services.unit_of_work import AbstractUnitOfWork, ConflictError


def create_once(
    uow: AbstractUnitOfWork,
    now: datetime,
    client_id: str,
    request: IdempotencyRequest | None,
    create: Callable[[], str],
    on_conflict: Callable[[], Exception],
) -> Created:
    """Run `create` (which adds to `uow` and returns the new identifier) in one transaction with
    the idempotency record, so a replay can never see one without the other.

    A record for the same key returns the first identifier. When a concurrent request with the
    same key commits first, ours rolls back on the unique constraint and replays theirs; any
    other conflict becomes `on_conflict()`.
    """
    with uow:
        if request is not None:
            record = uow.idempotency.get(client_id, request.key)
            if record is not None and not record.is_expired(now):
                return Created(record.replay_for(request), replayed=True)
            if record is not None:
                uow.idempotency.remove(record)
        identifier = create()
        if request is not None:
            uow.idempotency.add(
                IdempotencyRecord(
                    client_id=client_id,
                    key=request.key,
                    fingerprint=request.fingerprint,
                    resource_identifier=identifier,
                    created_at=now,
                )
            )
        try:
            uow.commit()
            return Created(identifier)
        except ConflictError:
            uow.rollback()
    if request is not None:
        with uow:
            record = uow.idempotency.get(client_id, request.key)
            if record is not None:
                return Created(record.replay_for(request), replayed=True)
    raise on_conflict()
