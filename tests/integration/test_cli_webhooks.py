"""`passemarche webhooks list|retry`, invoked through click on a migrated SQLite file, as an
administrator would (the configuration comes from the environment)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from passemarche.adapters.database import upgrade_database
from passemarche.config import Config
from passemarche.domain.webhook import WebhookDelivery, WebhookEvent, market_completed_payload
from passemarche.entrypoints.bootstrap import Container, bootstrap
from passemarche.entrypoints.cli_webhooks import webhooks
from passemarche.services import webhooks as webhook_service

from tests.integration.test_webhooks_http import Receiver, add_market, closed_port_url

MOMENT = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)


@pytest.fixture
def environment(tmp_path: Path) -> dict[str, str]:
    database_url = f"sqlite:///{tmp_path / 'passemarche.sqlite3'}"
    upgrade_database(database_url)
    return {
        "DATABASE_URL": database_url,
        "VAR_DIR": str(tmp_path / "var"),
        "SECRET_KEY": "test-secret-key",
        "ALLOW_PRIVATE_WEBHOOK_TARGETS": "1",
        "REDIS_URL": "",
        "LOG_LEVEL": "WARNING",
    }


@pytest.fixture
def container(environment: dict[str, str]) -> Iterator[Container]:
    """The test's own view of the same database, to set the scene and check the result."""
    built = bootstrap(Config.from_env(environment))
    yield built
    built.engine.dispose()


def run(environment: dict[str, str], *args: str) -> Any:
    return CliRunner().invoke(webhooks, list(args), env=environment, catch_exceptions=False)


def add_delivery(
    container: Container,
    market_identifier: str,
    status: str,
    created_at: datetime,
    last_status_code: int | None = None,
) -> str:
    with container.uow() as uow:
        market = uow.markets.get(market_identifier)
        delivery = WebhookDelivery.new(
            WebhookEvent.MARKET_COMPLETED,
            market.editor_client_id,
            market.identifier,
            market_completed_payload(market, created_at),
            created_at,
        )
        delivery.status = status
        delivery.attempts = 0 if status == "pending" else 1
        delivery.last_status_code = last_status_code
        uow.webhooks.add(delivery)
        market.webhook_status = status
        uow.commit()
    return delivery.id


def stored(container: Container, delivery_id: str) -> Any:
    return webhook_service.get_delivery(container.uow(), delivery_id)


def test_list_json_shows_every_delivery_newest_first_without_payloads(
    environment: dict[str, str], container: Container
) -> None:
    market = add_market(container, "https://editor.example/hooks")
    older = add_delivery(container, market, "failed", MOMENT, last_status_code=410)
    newer = add_delivery(container, market, "delivered", MOMENT + timedelta(minutes=5), 200)

    result = run(environment, "list", "--json")

    assert result.exit_code == 0, result.output
    listed = json.loads(result.stdout)
    assert [(d["id"], d["status"], d["last_status_code"]) for d in listed] == [
        (newer, "delivered", 200),
        (older, "failed", 410),
    ]
    assert listed[1]["event"] == "market.completed"
    assert listed[1]["resource_identifier"] == market
    assert listed[1]["created_at"] == MOMENT.isoformat()
    assert "payload" not in listed[0]


def test_list_failed_keeps_only_the_deliveries_that_gave_up(
    environment: dict[str, str], container: Container
) -> None:
    market = add_market(container, "https://editor.example/hooks")
    failed = add_delivery(container, market, "failed", MOMENT, last_status_code=410)
    add_delivery(container, market, "pending", MOMENT + timedelta(minutes=5))

    as_json = run(environment, "list", "--failed", "--json")
    as_text = run(environment, "list", "--failed")

    assert [d["id"] for d in json.loads(as_json.stdout)] == [failed]
    (line,) = as_text.stdout.splitlines()
    assert line.split("\t")[:6] == [
        failed,
        "market.completed",
        market,
        "failed",
        "attempts=1",
        "HTTP 410",
    ]


def test_retry_sends_a_failed_delivery_again_and_says_it_was_delivered(
    environment: dict[str, str], container: Container
) -> None:
    with Receiver(200) as receiver:
        market = add_market(container, receiver.url)
        delivery_id = add_delivery(container, market, "failed", MOMENT, last_status_code=503)

        result = run(environment, "retry", delivery_id)

    assert result.exit_code == 0, result.output
    assert result.stdout == f"{delivery_id}: delivered (HTTP 200)\n"
    assert [r.headers["webhook-id"] for r in receiver.received] == [delivery_id]
    delivery = stored(container, delivery_id)
    assert (delivery.status, delivery.attempts) == ("delivered", 1)
    with container.uow() as uow:
        assert uow.markets.get(market).webhook_status == "delivered"


def test_without_a_worker_a_retry_that_fails_again_is_final_and_exits_non_zero(
    environment: dict[str, str], container: Container
) -> None:
    market = add_market(container, closed_port_url())
    delivery_id = add_delivery(container, market, "failed", MOMENT, last_status_code=503)

    result = run(environment, "retry", delivery_id)

    assert result.exit_code == 1
    assert result.stdout == f"{delivery_id}: failed (connection failed: Connection refused)\n"
    delivery = stored(container, delivery_id)
    assert (delivery.status, delivery.attempts, delivery.next_attempt_at) == ("failed", 1, None)


def test_only_a_failed_delivery_can_be_retried(
    environment: dict[str, str], container: Container
) -> None:
    market = add_market(container, "https://editor.example/hooks")
    delivered = add_delivery(container, market, "delivered", MOMENT, last_status_code=200)

    result = run(environment, "retry", delivered)

    assert result.exit_code == 1
    assert result.stderr == "error: Only a failed delivery can be retried\n"
    assert stored(container, delivered).status == "delivered"


def test_retrying_an_unknown_delivery_is_not_found(environment: dict[str, str]) -> None:
    result = run(environment, "retry", "msg_unknown")

    assert result.exit_code == 2
    assert result.stderr == "error: Webhook delivery not found\n"


@pytest.mark.redis
def test_with_redis_a_retry_is_queued_for_the_workers(
    environment: dict[str, str], redis_url: str
) -> None:
    from rq import Queue

    queue_name = f"pm-test-{uuid.uuid4().hex[:12]}"
    with_redis = {**environment, "REDIS_URL": redis_url, "JOB_QUEUE": queue_name}
    container = bootstrap(Config.from_env(with_redis))
    queue = Queue(queue_name, connection=container.redis)
    try:
        market = add_market(container, "https://editor.example/hooks")
        delivery_id = add_delivery(container, market, "failed", MOMENT, last_status_code=500)

        result = run(with_redis, "retry", delivery_id)

        assert result.exit_code == 0, result.output
        assert result.stdout == f"{delivery_id}: queued for the workers (status pending)\n"
        (job,) = queue.jobs
        assert job.args == ("deliver_webhook", delivery_id)
        assert stored(container, delivery_id).status == "pending"
    finally:
        for job in queue.jobs:
            job.delete()
        queue.delete()
        container.engine.dispose()
