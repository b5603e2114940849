"""`passemarche webhooks …`: watch deliveries and send failed ones again."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from datetime import datetime
from typing import TYPE_CHECKING, Any

import click
from passemarche.adapters.job_queue import InProcessJobQueue
from passemarche.config import Config
from passemarche.domain.errors import DomainError, NotFound
from passemarche.domain.webhook import DeliveryStatus
from passemarche.services import webhooks as service
from passemarche.services.webhooks import DeliveryView

if TYPE_CHECKING:
    from passemarche.entrypoints.bootstrap import Container


@click.group(help="Webhook deliveries.")
def webhooks() -> None:
    pass


@webhooks.command("list", help="Deliveries, newest first (never their payload).")
@click.option("--failed", is_flag=True, help="Only the deliveries that gave up.")
@click.option("--limit", default=100, show_default=True, type=click.IntRange(min=1))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON array on stdout.")
def list_command(failed: bool, limit: int, as_json: bool) -> None:
    with _container(Config.from_env()) as container:
        views = service.list_deliveries(container.uow(), failed, limit)
    if as_json:
        click.echo(json.dumps([_as_json(view) for view in views]))
        return
    for view in views:
        fields = (
            view.id,
            view.event,
            view.resource_identifier,
            view.status,
            f"attempts={view.attempts}",
            _last_outcome(view),
            f"next={_time(view.next_attempt_at)}",
            f"created={_time(view.created_at)}",
        )
        click.echo("\t".join(fields))


@webhooks.command("retry", help="Send a failed delivery again.")
@click.argument("delivery_id")
@click.option(
    "--wait",
    default=60.0,
    show_default=True,
    type=click.FloatRange(min=0),
    help="Without REDIS_URL: seconds to wait for the attempt this command makes.",
)
def retry_command(delivery_id: str, wait: float) -> None:
    config = Config.from_env()
    if config.redis_url:
        with _container(config) as container:
            view = _or_fail(lambda: _retry(container, delivery_id))
        click.echo(f"{view.id}: queued for the workers (status {view.status})")
        return
    # No worker to hand the job to: this process makes one attempt now and waits for it. A
    # failed attempt is final (no later attempt would run once the command exits): run the
    # command again later.
    with _container(config.but(webhook_retry_delays=())) as container:
        _or_fail(lambda: _retry(container, delivery_id))
        jobs = container.jobs
        assert isinstance(jobs, InProcessJobQueue)
        if not jobs.drain(wait):
            click.echo(f"error: {delivery_id} is still being sent after {wait:g} s", err=True)
            sys.exit(1)
        view = service.get_delivery(container.uow(), delivery_id)
    click.echo(f"{view.id}: {view.status} ({_last_outcome(view)})")
    if view.status != DeliveryStatus.DELIVERED.value:
        sys.exit(1)


@contextmanager
def _container(config: Config) -> Iterator[Container]:
    from passemarche.entrypoints.bootstrap import bootstrap

    container = bootstrap(config)
    try:
        yield container
    finally:
        if isinstance(container.jobs, InProcessJobQueue):
            container.jobs.shutdown()
        container.engine.dispose()


def _retry(container: Container, delivery_id: str) -> DeliveryView:
    return service.retry(container.uow(), container.clock, container.jobs, delivery_id)


def _or_fail(action: Callable[[], DeliveryView]) -> DeliveryView:
    try:
        return action()
    except DomainError as error:
        click.echo(f"error: {error.message}", err=True)
        sys.exit(2 if isinstance(error, NotFound) else 1)


def _last_outcome(view: DeliveryView) -> str:
    if view.last_status_code is not None:
        return f"HTTP {view.last_status_code}"
    return view.last_error or "-"


def _time(moment: datetime | None) -> str:
    return moment.isoformat(timespec="seconds") if moment is not None else "-"


def _as_json(view: DeliveryView) -> dict[str, Any]:
    values = asdict(view)
    for key, value in values.items():
        if isinstance(value, datetime):
            values[key] = value.isoformat()
    return values
