"""Webhook deliveries on the in-memory unit of work: signing, retries, status, manual retry.

The sender and the job queue are fakes: the sender answers from a script, the queue records
what was enqueued (and what was committed at that moment) and runs it when the test says so,
moving the clock by the job's delay.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from passemarche.adapters.memory import MemoryStore, MemoryUnitOfWork
from passemarche.domain.application import Application
from passemarche.domain.editor import Editor
from passemarche.domain.market import Market, parse_market_spec
from passemarche.domain.webhook import (
    DEFAULT_RETRY_DELAYS,
    AttemptOutcome,
    DeliveryNotRetryable,
    RetrySchedule,
    WebhookDelivery,
    WebhookEvent,
    addresses_refusal,
    market_completed_payload,
    signed_headers,
    url_refusal,
)
from passemarche.services import webhooks
from passemarche.services.webhooks import DELIVER_WEBHOOK, DeliveryNotFound

from tests.support import FixedClock, market_payload

SECRET = "editor-webhook-secret"
URL = "https://editor.example/webhooks"
NO_JITTER = RetrySchedule(delays=(10, 20, 40), jitter=0)


@dataclass
class Sent:
    url: str
    body: bytes
    headers: dict[str, str]
    at: datetime


class ScriptedSender:
    """Answers each POST with the next scripted outcome (an int is an HTTP status)."""

    def __init__(self, clock, *script, while_sending=None):
        self.clock = clock
        self.script = list(script)
        self.sent: list[Sent] = []
        self.while_sending = while_sending

    def send(self, url, body, headers):
        self.sent.append(Sent(url, body, dict(headers), self.clock.now()))
        if self.while_sending is not None:
            self.while_sending()
        answer = self.script.pop(0)
        if isinstance(answer, int):
            return AttemptOutcome(status_code=answer)
        return AttemptOutcome(error=answer)


@dataclass
class Enqueued:
    job: str
    args: tuple[str, ...]
    delay: timedelta | None
    committed_status: str | None  # the delivery's status in the store when it was enqueued


@dataclass
class RecordingJobQueue:
    store: MemoryStore
    enqueued: list[Enqueued] = field(default_factory=list)

    def enqueue(self, job, *args, delay=None):
        committed = self.store.webhooks.get(args[0]) if job == DELIVER_WEBHOOK else None
        status = committed.status if committed is not None else None
        self.enqueued.append(Enqueued(job, args, delay, status))


class Harness:
    """The delivery use cases wired to the fakes, and a runner for the queued jobs."""

    def __init__(self, schedule=NO_JITTER, webhook_url=URL, policy=None):
        self.store = MemoryStore()
        self.clock = FixedClock(datetime(2026, 6, 15, 12, 0, tzinfo=UTC))
        self.jobs = RecordingJobQueue(self.store)
        self.schedule = schedule
        self.policy = policy
        self.sender = ScriptedSender(self.clock)
        self.editor = Editor(
            client_id="editor-1",
            name="Plateforme A",
            client_secret_hash="x" * 64,
            created_at=self.clock.now(),
            webhook_url=webhook_url,
            webhook_secret=SECRET,
        )
        spec = parse_market_spec(market_payload(), self.clock.now())
        self.market = Market.create("VR-2026-MARKET000001", "editor-1", spec, self.clock.now())
        with self.uow() as uow:
            uow.editors.add(self.editor)
            uow.markets.add(self.market)
            uow.commit()

    def uow(self):
        return MemoryUnitOfWork(self.store)

    def script(self, *answers, while_sending=None):
        self.sender.script = list(answers)
        self.sender.while_sending = while_sending

    def finalise_market(self):
        """What the buyer's finalisation does: record the delivery, commit, then enqueue."""
        with self.uow() as uow:
            market = uow.markets.get(self.market.identifier)
            market.finalise(["siret"], self.clock.now())
            delivery = WebhookDelivery.new(
                WebhookEvent.MARKET_COMPLETED,
                market.editor_client_id,
                market.identifier,
                market_completed_payload(market, self.clock.now()),
                self.clock.now(),
            )
            uow.webhooks.add(delivery)
            market.webhook_status = "pending"
            uow.commit()
        self.jobs.enqueue(DELIVER_WEBHOOK, delivery.id)
        return delivery.id

    def run_jobs(self, limit=20):
        """Run queued jobs in order, moving the clock by each one's delay first."""
        ran = 0
        while self.jobs.enqueued and ran < limit:
            job = self.jobs.enqueued.pop(0)
            assert job.job == DELIVER_WEBHOOK
            if job.delay is not None:
                self.clock.advance(seconds=job.delay.total_seconds())
            webhooks.deliver(
                self.uow(),
                self.clock,
                self.sender,
                self.jobs,
                *job.args,
                schedule=self.schedule,
                target_policy=self.policy,
            )
            ran += 1
        return ran

    def delivery(self, delivery_id):
        return self.store.webhooks[delivery_id]

    def market_webhook_status(self):
        return self.store.markets[self.market.identifier].webhook_status


@pytest.fixture
def harness():
    return Harness()


# --- signing ----------------------------------------------------------------------------


def test_both_signatures_match_values_computed_with_openssl():
    # printf '%s' BODY | openssl dgst -sha256 -hmac 'editor-secret-ÉÀ' [-binary | base64]
    body = b'{"event":"market.completed","n":1}'
    moment = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)

    headers = signed_headers(
        "msg_0123456789abcdef0123456789abcdef", body, "editor-secret-ÉÀ", moment
    )

    assert headers["X-Webhook-Signature-SHA256"] == (
        "sha256=7fb03fc70e1500099a0eaa6e8be7082c976f0ad2cbe30311a7b1b6f60a8b7eda"
    )
    assert headers["webhook-timestamp"] == "1781524800"
    assert headers["webhook-signature"] == "v1,tsnCPFu7Sue7a60jxL9rDE3ijQOj9PN+cms0y2/hPzc="


def test_a_delivery_is_posted_with_json_headers_and_signatures_over_the_exact_body(harness):
    delivery_id = harness.finalise_market()
    harness.script(200)

    harness.run_jobs()

    (sent,) = harness.sender.sent
    assert sent.url == URL
    assert sent.body == harness.delivery(delivery_id).payload.encode("utf-8")
    assert sent.headers["Content-Type"] == "application/json"
    assert sent.headers["User-Agent"] == "PasseMarche-Webhook/1.0"
    assert sent.headers["webhook-id"] == delivery_id
    assert sent.headers["webhook-timestamp"] == str(int(harness.clock.now().timestamp()))
    key = SECRET.encode("utf-8")
    body_mac = hmac.new(key, sent.body, hashlib.sha256).hexdigest()
    assert sent.headers["X-Webhook-Signature-SHA256"] == f"sha256={body_mac}"
    signed = f"{delivery_id}.{sent.headers['webhook-timestamp']}.".encode() + sent.body
    standard_mac = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    assert sent.headers["webhook-signature"] == f"v1,{standard_mac}"


def test_every_attempt_has_the_same_webhook_id_and_body_and_its_own_timestamp(harness):
    delivery_id = harness.finalise_market()
    harness.script(500, 503, 200)

    harness.run_jobs()

    sent = harness.sender.sent
    assert {s.headers["webhook-id"] for s in sent} == {delivery_id}
    assert {s.body for s in sent} == {sent[0].body}
    timestamps = [int(s.headers["webhook-timestamp"]) for s in sent]
    assert timestamps == sorted(set(timestamps)), "each attempt is signed at its own time"


# --- outcomes and retries ---------------------------------------------------------------


def test_500_500_200_is_delivered_on_the_third_attempt_after_growing_delays(harness):
    delivery_id = harness.finalise_market()
    harness.script(500, 500, 200)

    harness.run_jobs()

    delivery = harness.delivery(delivery_id)
    assert delivery.status == "delivered"
    assert delivery.attempts == 3
    assert delivery.last_status_code == 200
    assert delivery.delivered_at == harness.clock.now()
    gaps = [
        later.at - earlier.at
        for earlier, later in zip(harness.sender.sent, harness.sender.sent[1:])
    ]
    assert gaps == [timedelta(seconds=10), timedelta(seconds=20)]
    assert harness.market_webhook_status() == "delivered"


def test_with_jitter_the_delays_still_grow_and_stay_within_the_spread():
    harness = Harness(schedule=RetrySchedule(delays=(30, 120), jitter=0.2))
    harness.finalise_market()
    harness.script(500, 500, 200)

    harness.run_jobs()

    sent = harness.sender.sent
    first, second = (later.at - earlier.at for earlier, later in zip(sent, sent[1:]))
    assert timedelta(seconds=24) <= first <= timedelta(seconds=36)
    assert timedelta(seconds=96) <= second <= timedelta(seconds=144)


@pytest.mark.parametrize("status", [400, 401, 403, 404, 405, 410, 422])
def test_a_status_that_retrying_cannot_fix_fails_after_one_attempt(harness, status):
    delivery_id = harness.finalise_market()
    harness.script(status)

    harness.run_jobs()

    delivery = harness.delivery(delivery_id)
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == (
        "failed",
        1,
        status,
    )
    assert harness.jobs.enqueued == []
    assert harness.market_webhook_status() == "failed"


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 302, 418])
def test_timeouts_rate_limits_server_errors_and_other_statuses_are_retried(harness, status):
    delivery_id = harness.finalise_market()
    harness.script(status)

    harness.run_jobs(limit=1)

    delivery = harness.delivery(delivery_id)
    assert (delivery.status, delivery.attempts) == ("pending", 1)
    assert delivery.next_attempt_at == harness.clock.now() + timedelta(seconds=10)
    (retry,) = harness.jobs.enqueued
    assert (retry.job, retry.args, retry.delay) == (
        DELIVER_WEBHOOK,
        (delivery_id,),
        timedelta(seconds=10),
    )


def test_a_network_error_is_recorded_and_retried(harness):
    delivery_id = harness.finalise_market()
    harness.script("connection failed: Connection refused", 200)

    harness.run_jobs(limit=1)

    delivery = harness.delivery(delivery_id)
    assert delivery.status == "pending"
    assert delivery.last_status_code is None
    assert delivery.last_error == "connection failed: Connection refused"
    harness.run_jobs()
    assert harness.delivery(delivery_id).status == "delivered"


def test_a_delivery_gives_up_after_the_last_scheduled_attempt(harness):
    delivery_id = harness.finalise_market()
    harness.script(500, 500, 500, 500)

    harness.run_jobs()

    delivery = harness.delivery(delivery_id)
    assert (delivery.status, delivery.attempts) == ("failed", NO_JITTER.max_attempts)
    assert delivery.next_attempt_at is None
    assert len(harness.sender.sent) == 4


def test_the_next_attempt_is_enqueued_only_once_the_outcome_is_committed(harness):
    harness.finalise_market()
    harness.script(500, 200)

    harness.run_jobs(limit=1)

    (retry,) = harness.jobs.enqueued
    assert retry.committed_status == "pending"
    assert harness.jobs.enqueued[0].delay == timedelta(seconds=10)


def test_processing_is_committed_and_shown_on_the_market_while_sending(harness):
    seen = []
    harness.finalise_market()
    harness.script(
        200,
        while_sending=lambda: seen.append(harness.market_webhook_status()),
    )
    assert harness.market_webhook_status() == "pending"

    harness.run_jobs()

    assert seen == ["processing"]
    assert harness.market_webhook_status() == "delivered"


def test_an_applications_delivery_shows_its_status_on_the_application(harness):
    application = Application(
        identifier="VR-2026-APPLI0000001",
        market_identifier=harness.market.identifier,
        editor_client_id="editor-1",
        created_at=harness.clock.now(),
    )
    with harness.uow() as uow:
        uow.applications.add(application)
        delivery = WebhookDelivery.new(
            WebhookEvent.APPLICATION_COMPLETED,
            "editor-1",
            application.identifier,
            {"event": "market_application.completed"},
            harness.clock.now(),
        )
        uow.webhooks.add(delivery)
        uow.commit()
    harness.jobs.enqueue(DELIVER_WEBHOOK, delivery.id)
    harness.script(410)

    harness.run_jobs()

    assert harness.store.applications[application.identifier].webhook_status == "failed"
    assert harness.market_webhook_status() is None


def test_a_job_for_a_delivery_already_delivered_sends_nothing(harness):
    delivery_id = harness.finalise_market()
    harness.script(200)
    harness.run_jobs()

    harness.jobs.enqueue(DELIVER_WEBHOOK, delivery_id)
    harness.run_jobs()

    assert len(harness.sender.sent) == 1
    assert harness.delivery(delivery_id).attempts == 1


def test_a_job_for_an_unknown_delivery_does_nothing(harness):
    result = webhooks.deliver(
        harness.uow(), harness.clock, harness.sender, harness.jobs, "msg_unknown"
    )

    assert result is None
    assert harness.sender.sent == []


# --- targets ----------------------------------------------------------------------------


def test_an_editor_without_a_webhook_url_fails_at_once_with_a_clear_reason():
    harness = Harness(webhook_url=None)
    delivery_id = harness.finalise_market()

    harness.run_jobs()

    delivery = harness.delivery(delivery_id)
    assert (delivery.status, delivery.attempts) == ("failed", 1)
    assert delivery.last_error == "The editor has no webhook URL"
    assert harness.sender.sent == []
    assert harness.market_webhook_status() == "failed"


class RefuseEverything:
    def refusal(self, url):
        return "Webhook host hooks.example resolves to 10.0.0.7, which is a private address"


def test_a_refused_target_fails_at_once_and_nothing_is_sent():
    harness = Harness(policy=RefuseEverything())
    delivery_id = harness.finalise_market()

    harness.run_jobs()

    delivery = harness.delivery(delivery_id)
    assert delivery.status == "failed"
    assert delivery.last_error == RefuseEverything().refusal(URL)
    assert harness.sender.sent == []
    assert harness.jobs.enqueued == []


@pytest.mark.parametrize(
    ("url", "require_https", "reason"),
    [
        ("https://editor.example/hooks", True, None),
        ("http://editor.example/hooks", False, None),
        ("http://editor.example/hooks", True, "Webhook URL must use https"),
        ("ftp://editor.example/hooks", False, "Webhook URL must be an http or https URL"),
        ("https:///hooks", False, "Webhook URL has no host"),
        ("https://editor.example:99999/", False, "Webhook URL is not a valid URL"),
    ],
)
def test_webhook_urls_must_be_http_or_https_and_https_when_required(url, require_https, reason):
    assert url_refusal(url, require_https=require_https) == reason


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("10.1.2.3", "private"),
        ("192.168.0.10", "private"),
        ("172.16.5.4", "private"),
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("::ffff:127.0.0.1", "loopback"),
        ("169.254.169.254", "link-local"),
        ("fe80::1", "link-local"),
        ("224.0.0.1", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("240.0.0.1", "reserved"),
        ("100.64.0.1", "non-public"),
        ("fd00::1", "private"),
    ],
)
def test_non_public_addresses_are_refused_unless_allowed(address, kind):
    assert addresses_refusal("hooks.example", [address], allow_private=False) == (
        f"Webhook host hooks.example resolves to {address}, which is a {kind} address"
    )
    assert addresses_refusal("hooks.example", [address], allow_private=True) is None


def test_a_host_is_refused_when_any_of_its_addresses_is_not_public():
    assert addresses_refusal("mixed.example", ["93.184.215.14", "10.0.0.1"], allow_private=False)
    assert (
        addresses_refusal(
            "public.example",
            ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"],
            allow_private=False,
        )
        is None
    )


# --- the retry schedule -----------------------------------------------------------------


def test_the_default_schedule_spreads_ten_attempts_over_about_a_day():
    schedule = RetrySchedule()

    assert schedule.max_attempts == 10
    assert timedelta(hours=18) < timedelta(seconds=sum(DEFAULT_RETRY_DELAYS)) < timedelta(hours=30)


def test_jitter_keeps_each_delay_within_its_spread_and_varies_it():
    schedule = RetrySchedule(delays=(100,), jitter=0.2)
    rng = random.Random(1234)

    delays = [schedule.delay_after(1, rng).total_seconds() for _ in range(500)]

    assert all(80 <= delay <= 120 for delay in delays)
    assert max(delays) - min(delays) > 30, "jitter spreads retries apart"
    assert schedule.delay_after(2, rng) is None


# --- manual retry and listing -----------------------------------------------------------


def failed_delivery(harness):
    delivery_id = harness.finalise_market()
    harness.script(410)
    harness.run_jobs()
    assert harness.delivery(delivery_id).status == "failed"
    return delivery_id


def test_a_failed_delivery_retried_by_hand_is_pending_then_delivered(harness):
    delivery_id = failed_delivery(harness)

    view = webhooks.retry(harness.uow(), harness.clock, harness.jobs, delivery_id)

    assert (view.status, view.attempts) == ("pending", 0)
    assert harness.market_webhook_status() == "pending"
    (job,) = harness.jobs.enqueued
    assert (job.args, job.delay, job.committed_status) == ((delivery_id,), None, "pending")
    harness.script(500, 200)
    harness.run_jobs()
    assert harness.delivery(delivery_id).status == "delivered"
    assert {s.headers["webhook-id"] for s in harness.sender.sent} == {delivery_id}


def test_the_confirmation_pages_retry_sends_the_latest_delivery_about_the_market(harness):
    delivery_id = failed_delivery(harness)

    view = webhooks.retry_latest_for(
        harness.uow(), harness.clock, harness.jobs, harness.market.identifier
    )

    assert (view.id, view.status) == (delivery_id, "pending")
    assert [job.args for job in harness.jobs.enqueued] == [(delivery_id,)]


@pytest.mark.parametrize("answer", [200, 500])
def test_only_a_failed_delivery_can_be_retried_by_hand(harness, answer):
    delivery_id = harness.finalise_market()
    harness.script(answer)
    harness.run_jobs(limit=1)
    harness.jobs.enqueued.clear()

    with pytest.raises(DeliveryNotRetryable):
        webhooks.retry(harness.uow(), harness.clock, harness.jobs, delivery_id)
    assert harness.jobs.enqueued == []


def test_retrying_an_unknown_delivery_or_a_resource_without_one_is_not_found(harness):
    with pytest.raises(DeliveryNotFound):
        webhooks.retry(harness.uow(), harness.clock, harness.jobs, "msg_unknown")
    with pytest.raises(DeliveryNotFound):
        webhooks.retry_latest_for(harness.uow(), harness.clock, harness.jobs, "VR-2026-NONE")


def test_listing_shows_deliveries_newest_first_and_can_keep_only_failed_ones(harness):
    failed_id = failed_delivery(harness)
    harness.clock.advance(minutes=1)
    with harness.uow() as uow:
        pending = WebhookDelivery.new(
            WebhookEvent.APPLICATION_COMPLETED,
            "editor-1",
            "VR-2026-APPLI0000001",
            {},
            harness.clock.now(),
        )
        uow.webhooks.add(pending)
        uow.commit()

    everything = webhooks.list_deliveries(harness.uow())
    failed = webhooks.list_deliveries(harness.uow(), failed_only=True)

    assert [(v.id, v.status) for v in everything] == [
        (pending.id, "pending"),
        (failed_id, "failed"),
    ]
    assert [v.id for v in failed] == [failed_id]
    assert failed[0].last_status_code == 410
    assert not hasattr(failed[0], "payload")


def test_the_helpers_record_a_market_completed_delivery_and_enqueue_it_after_commit(harness):
    with harness.uow() as uow:
        market = uow.markets.get(harness.market.identifier)
        market.finalise(["siret"], harness.clock.now())
        delivery_id = webhooks.add_market_completed(uow, market, harness.clock.now())
        uow.commit()
    webhooks.enqueue_delivery(harness.jobs, delivery_id)
    harness.script(200)

    harness.run_jobs()

    assert harness.market_webhook_status() == "delivered"
    (sent,) = harness.sender.sent
    assert b'"event":"market.completed"' in sent.body
    assert harness.market.identifier.encode() in sent.body


def test_unfinished_deliveries_are_enqueued_again_at_start_up_when_due_or_later():
    from datetime import UTC, datetime, timedelta

    from passemarche.adapters.memory import MemoryStore, MemoryUnitOfWork
    from passemarche.domain.webhook import WebhookDelivery, WebhookEvent
    from passemarche.services import webhooks

    from tests.support import FixedClock

    store, clock = MemoryStore(), FixedClock(datetime(2026, 6, 15, 12, tzinfo=UTC))
    with MemoryUnitOfWork(store) as uow:
        due = WebhookDelivery.new(WebhookEvent.MARKET_COMPLETED, "e", "VR-1", {}, clock.now())
        later = WebhookDelivery.new(WebhookEvent.MARKET_COMPLETED, "e", "VR-2", {}, clock.now())
        later.next_attempt_at = clock.now() + timedelta(minutes=10)
        half_sent = WebhookDelivery.new(WebhookEvent.MARKET_COMPLETED, "e", "VR-3", {}, clock.now())
        half_sent.start_attempt()
        done = WebhookDelivery.new(WebhookEvent.MARKET_COMPLETED, "e", "VR-4", {}, clock.now())
        done.status = "delivered"
        for delivery in (due, later, half_sent, done):
            uow.webhooks.add(delivery)
        uow.commit()

    class Recorder:
        calls = []

        def enqueue(self, job, *args, delay=None):
            self.calls.append((job, args[0], delay))

    jobs = Recorder()
    assert webhooks.resume_unfinished(MemoryUnitOfWork(store), clock, jobs) == 3
    assert sorted(jobs.calls, key=lambda c: c[1]) == sorted(
        [
            ("deliver_webhook", due.id, None),
            ("deliver_webhook", later.id, timedelta(minutes=10)),
            ("deliver_webhook", half_sent.id, None),
        ],
        key=lambda c: c[1],
    )
