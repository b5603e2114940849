"""Webhook delivery use cases: one attempt (the `deliver_webhook` job), manual retries, listing.

Delivery is at least once: a receiver tells repeats apart by the `webhook-id` header, which is
the delivery id on every attempt. Each attempt runs in two short units of work around the HTTP
call, so no database transaction stays open while an editor's server takes its time:
PROCESSING is committed before sending (the pages show it), the outcome after. The next attempt
is enqueued only once the outcome is committed, with the schedule's delay.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from passemarche.domain.application import Application
from passemarche.domain.errors import NotFound
from passemarche.domain.market import Market
from passemarche.domain.webhook import (
    RetrySchedule,
    WebhookDelivery,
    WebhookEvent,
    market_completed_payload,
    signed_headers,
)
from passemarche.services.ports import Clock, JobQueue, WebhookSender
from passemarche.services.unit_of_work import AbstractUnitOfWork

DELIVER_WEBHOOK = "deliver_webhook"
NO_WEBHOOK_URL = "The editor has no webhook URL"
NO_WEBHOOK_SECRET = "The editor has no webhook secret"  # noqa: S105  (a message)


class DeliveryNotFound(NotFound):
    message = "Webhook delivery not found"


class TargetPolicy(Protocol):
    """Where webhooks may go (scheme, resolved addresses); implemented by an adapter."""

    def refusal(self, url: str) -> str | None:
        """Why this URL may not be called, or None when it may."""
        ...


@dataclass(frozen=True)
class DeliveryView:
    """A delivery as the CLI and the pages show it (never the payload or any secret)."""

    id: str
    event: str
    editor_client_id: str
    resource_identifier: str
    status: str
    attempts: int
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    next_attempt_at: datetime | None
    delivered_at: datetime | None


def add_market_completed(uow: AbstractUnitOfWork, market: Market, now: datetime) -> str:
    """Inside the caller's unit of work: record the `market.completed` delivery of a market
    just finalised. Once committed, enqueue it with `enqueue_delivery`. Returns its id."""
    delivery = WebhookDelivery.new(
        WebhookEvent.MARKET_COMPLETED,
        market.editor_client_id,
        market.identifier,
        market_completed_payload(market, now),
        now,
    )
    uow.webhooks.add(delivery)
    market.webhook_status = delivery.status
    return delivery.id


def enqueue_delivery(jobs: JobQueue, delivery_id: str) -> None:
    """After the commit that recorded the delivery: its first attempt, as soon as possible."""
    jobs.enqueue(DELIVER_WEBHOOK, delivery_id)


def deliver(
    uow: AbstractUnitOfWork,
    clock: Clock,
    sender: WebhookSender,
    jobs: JobQueue,
    delivery_id: str,
    schedule: RetrySchedule | None = None,
    target_policy: TargetPolicy | None = None,
) -> DeliveryView | None:
    """One attempt at a delivery; None when the delivery does not exist (any more)."""
    schedule = schedule or RetrySchedule()
    with uow:
        delivery = uow.webhooks.get(delivery_id)
        if delivery is None:
            return None
        if not delivery.start_attempt():
            return _view(delivery)  # already delivered or given up: a repeated job is harmless
        editor = uow.editors.get(delivery.editor_client_id)
        url = editor.webhook_url if editor is not None else None
        secret = editor.webhook_secret if editor is not None else None
        missing = NO_WEBHOOK_URL if not url else NO_WEBHOOK_SECRET if not secret else None
        if missing is not None:
            delivery.fail(missing, clock.now())
            _mirror_status(uow, delivery)
            uow.commit()
            return _view(delivery)
        _mirror_status(uow, delivery)
        uow.commit()
        body = delivery.body
    assert url is not None and secret is not None

    # Checked at every attempt: DNS answers change, and a refused target fails at once.
    refusal = target_policy.refusal(url) if target_policy is not None else None
    outcome = None
    if refusal is None:
        outcome = sender.send(url, body, signed_headers(delivery_id, body, secret, clock.now()))

    with uow:
        delivery = uow.webhooks.get(delivery_id)
        assert delivery is not None, "deliveries are never deleted"
        now = clock.now()
        delay = None
        if outcome is not None:
            delay = delivery.record(outcome, now, schedule)
        else:
            delivery.fail(refusal or "", now)
        _mirror_status(uow, delivery)
        uow.commit()
        view = _view(delivery)
    if delay is not None:
        jobs.enqueue(DELIVER_WEBHOOK, delivery_id, delay=delay)
    return view


def resume_unfinished(uow: AbstractUnitOfWork, clock: Clock, jobs: JobQueue) -> int:
    """Re-enqueue the deliveries a stopped process left pending or half-sent (the in-process
    queue keeps nothing across restarts). Called once at start-up by a single process; a
    delivery sent twice is deduplicated by receivers on its `webhook-id`. Returns how many."""
    now = clock.now()
    with uow:
        waiting = [(d.id, d.next_attempt_at) for d in uow.webhooks.unfinished()]
    for delivery_id, due in waiting:
        delay = due - now if due is not None and due > now else None
        jobs.enqueue(DELIVER_WEBHOOK, delivery_id, delay=delay)
    return len(waiting)


def retry(uow: AbstractUnitOfWork, clock: Clock, jobs: JobQueue, delivery_id: str) -> DeliveryView:
    """Send a failed delivery again, from a fresh retry schedule (admin CLI)."""
    with uow:
        delivery = uow.webhooks.get(delivery_id)
        if delivery is None:
            raise DeliveryNotFound()
        return _retry(uow, clock, jobs, delivery)


def retry_latest_for(
    uow: AbstractUnitOfWork, clock: Clock, jobs: JobQueue, resource_identifier: str
) -> DeliveryView:
    """Send again the latest delivery about a market or an application, if it failed (the
    confirmation pages' button). Raises DeliveryNotFound, or DeliveryNotRetryable when it did
    not fail."""
    with uow:
        delivery = uow.webhooks.latest_for(resource_identifier)
        if delivery is None:
            raise DeliveryNotFound()
        return _retry(uow, clock, jobs, delivery)


def get_delivery(uow: AbstractUnitOfWork, delivery_id: str) -> DeliveryView:
    with uow:
        delivery = uow.webhooks.get(delivery_id)
        if delivery is None:
            raise DeliveryNotFound()
        return _view(delivery)


def list_deliveries(
    uow: AbstractUnitOfWork, failed_only: bool = False, limit: int = 100
) -> list[DeliveryView]:
    """Newest first."""
    with uow:
        return [_view(d) for d in uow.webhooks.list(failed_only=failed_only, limit=limit)]


def _retry(
    uow: AbstractUnitOfWork, clock: Clock, jobs: JobQueue, delivery: WebhookDelivery
) -> DeliveryView:
    delivery.retry_by_hand(clock.now())
    _mirror_status(uow, delivery)
    uow.commit()
    view = _view(delivery)
    enqueue_delivery(jobs, delivery.id)
    return view


def _mirror_status(uow: AbstractUnitOfWork, delivery: WebhookDelivery) -> None:
    """The market or application the delivery is about shows its status (API and pages) —
    unless a newer delivery about it exists, whose status is the one that counts."""
    latest = uow.webhooks.latest_for(delivery.resource_identifier)
    if latest is not None and latest.id != delivery.id:
        return
    resource: Market | Application | None = None
    if delivery.event == WebhookEvent.MARKET_COMPLETED.value:
        resource = uow.markets.get(delivery.resource_identifier)
    elif delivery.event == WebhookEvent.APPLICATION_COMPLETED.value:
        resource = uow.applications.get(delivery.resource_identifier)
    if resource is not None:
        resource.webhook_status = delivery.status


def _view(delivery: WebhookDelivery) -> DeliveryView:
    return DeliveryView(
        id=delivery.id,
        event=delivery.event,
        editor_client_id=delivery.editor_client_id,
        resource_identifier=delivery.resource_identifier,
        status=delivery.status,
        attempts=delivery.attempts,
        last_status_code=delivery.last_status_code,
        last_error=delivery.last_error,
        created_at=delivery.created_at,
        next_attempt_at=delivery.next_attempt_at,
        delivered_at=delivery.delivered_at,
    )
