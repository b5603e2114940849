"""The RQ job queue against the real Redis, run by a real `passemarche worker` process (with
its scheduler), on a SQLite file shared with the test. Each test has an RQ queue of its own, so
runs in parallel do not take each other's jobs.

The in-process runner, the embedded default, is tested at the end of the module.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from passemarche.adapters.database import upgrade_database
from passemarche.adapters.job_queue import RQ_ENTRY, InProcessJobQueue, RqJobQueue
from passemarche.config import Config
from passemarche.entrypoints.bootstrap import Container, bootstrap
from passemarche.services import webhooks

from tests.integration.test_cli import INHERITED_VARIABLES, console_script
from tests.integration.test_webhooks_http import (
    Receiver,
    add_market,
    finalise_and_notify,
    verify_reference_signature,
    verify_standard_signature,
)

WAIT_SECONDS = 30


@pytest.fixture
def queue_name() -> str:
    return f"pm-test-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def environment(redis_url: str, queue_name: str, tmp_path: Path) -> dict[str, str]:
    """What the worker and the test's own container are configured with."""
    database_url = f"sqlite:///{tmp_path / 'passemarche.sqlite3'}"
    upgrade_database(database_url)
    env = {name: os.environ[name] for name in INHERITED_VARIABLES if name in os.environ}
    env.update(
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        JOB_QUEUE=queue_name,
        ALLOW_PRIVATE_WEBHOOK_TARGETS="1",
        WEBHOOK_RETRY_DELAYS="1",
        VAR_DIR=str(tmp_path / "var"),
        SECRET_KEY="test-secret-key",
        LOG_LEVEL="INFO",
    )
    return env


@pytest.fixture
def container(environment: dict[str, str], queue_name: str) -> Iterator[Container]:
    built = bootstrap(Config.from_env(environment))
    yield built
    _forget_queue(built.redis, queue_name)
    built.redis.close()
    built.engine.dispose()


class WorkerProcess:
    def __init__(self, environment: dict[str, str], queue_name: str, folder: Path) -> None:
        self.log_path = folder / "worker.log"
        self.log = self.log_path.open("w")
        self.process = subprocess.Popen(  # noqa: S603  (our own console script)
            [console_script(), "worker", "--queue", queue_name],
            env=environment,
            cwd=folder,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, with the scheduler it forks
        )

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()  # a warm shutdown: the job under way finishes
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                # rq 3.0 with redis-py 8.2 can wait up to 60 s for its pub/sub thread after the
                # scheduler and the jobs have stopped: end this worker's own process group.
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.log.close()

    def job_lines(self) -> list[dict[str, Any]]:
        lines = self.log_path.read_text().splitlines()
        records = [json.loads(line) for line in lines if line.startswith("{")]
        return [record for record in records if record.get("logger") == "passemarche.jobs"]


@pytest.fixture
def worker(environment: dict[str, str], queue_name: str, tmp_path: Path) -> Iterator[Any]:
    started = WorkerProcess(environment, queue_name, tmp_path)
    yield started
    started.stop()


def _forget_queue(connection: Any, queue_name: str) -> None:
    from rq import Queue

    queue = Queue(queue_name, connection=connection)
    registries = (
        queue.started_job_registry,
        queue.finished_job_registry,
        queue.failed_job_registry,
        queue.scheduled_job_registry,
        queue.deferred_job_registry,
        queue.canceled_job_registry,
    )
    job_ids = set(queue.get_job_ids())
    for registry in registries:
        job_ids.update(registry.get_job_ids())
    keys = [f"rq:job:{job_id}" for job_id in job_ids]
    keys += list(connection.scan_iter(f"rq:*{queue_name}*"))
    if keys:
        connection.delete(*keys)


def wait_for(condition: Any, timeout: float = WAIT_SECONDS) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"still not true after {timeout} s")


def settled(container: Container, delivery_id: str) -> webhooks.DeliveryView | None:
    view = webhooks.get_delivery(container.uow(), delivery_id)
    return view if view.status in ("delivered", "failed") else None


# --- the RQ adapter ---------------------------------------------------------------------


@pytest.mark.redis
def test_with_redis_the_container_enqueues_on_rq_a_job_carrying_only_names_and_ids(
    container: Container, queue_name: str
) -> None:
    from rq import Queue

    container.jobs.enqueue("deliver_webhook", "msg_0123")

    assert isinstance(container.jobs, RqJobQueue)
    (job,) = Queue(queue_name, connection=container.redis).jobs
    assert job.func_name == RQ_ENTRY
    assert job.args == ("deliver_webhook", "msg_0123")
    assert job.kwargs == {}
    assert (job.timeout, job.result_ttl, job.failure_ttl) == (120, 600, 7 * 24 * 3600)


@pytest.mark.redis
def test_a_delayed_job_waits_in_the_scheduled_registry_until_it_is_due(
    container: Container, queue_name: str
) -> None:
    from rq import Queue

    container.jobs.enqueue("deliver_webhook", "msg_0123", delay=timedelta(minutes=5))

    queue = Queue(queue_name, connection=container.redis)
    assert queue.count == 0
    (job_id,) = queue.scheduled_job_registry.get_job_ids()
    due = queue.scheduled_job_registry.get_scheduled_time(job_id)
    expected = datetime.now(UTC) + timedelta(minutes=5)
    assert abs((due - expected).total_seconds()) < 5


# --- a real worker ----------------------------------------------------------------------


@pytest.mark.redis
def test_a_worker_delivers_a_webhook_enqueued_after_the_commit(
    container: Container, worker: WorkerProcess
) -> None:
    with Receiver(200) as receiver:
        identifier = add_market(container, receiver.url)
        delivery_id = finalise_and_notify(container, identifier)
        result = wait_for(lambda: settled(container, delivery_id))

    assert (result.status, result.attempts) == ("delivered", 1)
    (received,) = receiver.received
    secret = _webhook_secret(container)
    assert verify_reference_signature(secret, received)
    assert verify_standard_signature(secret, received)
    assert received.headers["webhook-id"] == delivery_id
    worker.stop()
    (line,) = worker.job_lines()
    assert line["job"] == "deliver_webhook"
    assert line["args"] == [delivery_id]
    assert line["outcome"] == "ok"
    assert line["delivery_status"] == "delivered"
    assert line["duration_ms"] > 0
    log_text = worker.log_path.read_text()
    assert secret not in log_text
    assert received.headers["webhook-signature"] not in log_text


@pytest.mark.redis
def test_a_failed_attempt_is_retried_later_through_the_workers_scheduler(
    container: Container, worker: WorkerProcess
) -> None:
    with Receiver(503, 200) as receiver:
        identifier = add_market(container, receiver.url)
        delivery_id = finalise_and_notify(container, identifier)
        result = wait_for(lambda: settled(container, delivery_id))

    assert (result.status, result.attempts) == ("delivered", 2)
    first, second = receiver.received
    assert first.headers["webhook-id"] == second.headers["webhook-id"] == delivery_id
    assert second.at - first.at >= 0.8, "the retry waited for its delay (1 s ± 20 %)"
    with container.uow() as uow:
        assert uow.markets.get(identifier).webhook_status == "delivered"


@pytest.mark.redis
def test_a_job_that_fails_is_kept_by_rq_and_the_worker_carries_on(
    container: Container, worker: WorkerProcess, queue_name: str
) -> None:
    from rq import Queue

    container.jobs.enqueue("no_such_job", "x")
    with Receiver(200) as receiver:
        identifier = add_market(container, receiver.url)
        delivery_id = finalise_and_notify(container, identifier)
        result = wait_for(lambda: settled(container, delivery_id))

    assert result.status == "delivered"
    failed = Queue(queue_name, connection=container.redis).failed_job_registry
    assert wait_for(lambda: failed.get_job_ids())
    worker.stop()
    outcomes = {(line["job"], line["outcome"]) for line in worker.job_lines()}
    assert outcomes == {("no_such_job", "error"), ("deliver_webhook", "ok")}


def _webhook_secret(container: Container) -> str:
    with container.uow() as uow:
        (editor,) = uow.editors.list()
        return editor.webhook_secret


# --- the in-process runner (the embedded default) ---------------------------------------


class Recorder:
    def __init__(self) -> None:
        self.ran: list[tuple[str, tuple[str, ...], float]] = []
        self.started = time.monotonic()

    def __call__(self, job: str, *args: str) -> None:
        if job == "explode":
            raise RuntimeError("a bug in a job")
        self.ran.append((job, args, time.monotonic() - self.started))


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def runner(recorder: Recorder) -> Iterator[InProcessJobQueue]:
    queue = InProcessJobQueue(recorder)
    yield queue
    queue.shutdown()


def test_the_in_process_runner_runs_jobs_with_their_arguments(
    runner: InProcessJobQueue, recorder: Recorder
) -> None:
    runner.enqueue("one", "a", "b")

    assert runner.drain(5)
    assert [(job, args) for job, args, _ in recorder.ran] == [("one", ("a", "b"))]


def test_the_in_process_runner_honours_delays_in_due_order(
    runner: InProcessJobQueue, recorder: Recorder
) -> None:
    runner.enqueue("later", delay=timedelta(seconds=0.3))
    runner.enqueue("sooner", delay=timedelta(seconds=0.1))
    runner.enqueue("now")

    assert runner.drain(5)
    assert [job for job, _, _ in recorder.ran] == ["now", "sooner", "later"]
    ran_at = {job: at for job, _, at in recorder.ran}
    assert ran_at["sooner"] >= 0.1
    assert ran_at["later"] >= 0.3


def test_a_job_that_raises_is_logged_and_the_runner_carries_on(
    runner: InProcessJobQueue, recorder: Recorder, caplog: pytest.LogCaptureFixture
) -> None:
    runner.enqueue("explode")
    runner.enqueue("after")

    assert runner.drain(5)
    assert [job for job, _, _ in recorder.ran] == ["after"]
    assert any(r.exc_info and "a bug in a job" in str(r.exc_info[1]) for r in caplog.records)


def test_drain_waits_for_the_jobs_a_job_enqueues(recorder: Recorder) -> None:
    queue: InProcessJobQueue

    def chain(job: str, *args: str) -> None:
        recorder(job, *args)
        if job == "first":
            queue.enqueue("second", delay=timedelta(seconds=0.1))

    queue = InProcessJobQueue(chain)
    queue.enqueue("first")

    assert queue.drain(5)
    assert [job for job, _, _ in recorder.ran] == ["first", "second"]
    queue.shutdown()


def test_drain_says_when_jobs_are_still_waiting(
    runner: InProcessJobQueue, recorder: Recorder
) -> None:
    runner.enqueue("much later", delay=timedelta(seconds=30))

    assert runner.drain(0.1) is False
    runner.shutdown()
    assert runner.drain(0.1), "shutdown drops the jobs still waiting"
    assert recorder.ran == []


def test_no_thread_starts_before_the_first_job(recorder: Recorder) -> None:
    before = threading.active_count()

    queue = InProcessJobQueue(recorder)

    assert threading.active_count() == before
    queue.shutdown()


@pytest.fixture
def replicas_env(environment: dict[str, str]) -> Iterator[dict[str, str]]:
    """The API Entreprise and BODACC replicas (threads here), in the environment of the test's
    container and of the worker, which must be started after this fixture."""
    from passemarche.sandbox import create_bodacc_app, create_sandbox_app, serve_in_thread
    from werkzeug.serving import make_server

    api = make_server("127.0.0.1", 0, create_sandbox_app("sandbox-token", 2.0), threaded=True)
    bodacc = make_server("127.0.0.1", 0, create_bodacc_app(), threaded=True)
    serve_in_thread(api)
    serve_in_thread(bodacc)
    environment.update(
        API_ENTREPRISE_BASE_URL=f"http://127.0.0.1:{api.server_port}",
        API_ENTREPRISE_TOKEN="sandbox-token",
        BODACC_BASE_URL=f"http://127.0.0.1:{bodacc.server_port}",
    )
    yield environment
    api.shutdown()
    bodacc.shutdown()


@pytest.mark.redis
def test_a_worker_prefills_an_application_one_job_per_source(
    replicas_env: dict[str, str], container: Container, worker: WorkerProcess
) -> None:
    from passemarche.adapters.catalogue_csv import read_catalogue_file
    from passemarche.domain.application import Application
    from passemarche.domain.siret import Siret
    from passemarche.services import prefill
    from passemarche.services.catalogue import load_catalogue

    from tests.integration.test_buyer_pages import CATALOGUE

    parsed = read_catalogue_file(CATALOGUE)
    load_catalogue(
        container.uow(), container.clock, parsed.categories, parsed.subcategories, parsed.attributes
    )
    identifier = add_market(container, "http://127.0.0.1:9/unused")
    now = container.clock.now()
    with container.uow() as uow:
        market = uow.markets.get(identifier)
        market.finalise(uow.catalogue.snapshot().mandatory_keys(["services"]), now)
        uow.applications.add(
            Application(
                "FT20260615PREFILL1",
                identifier,
                market.editor_client_id,
                now,
                siret=Siret("13002526500013"),
            )
        )
        uow.commit()
    assert prefill.start_prefill(
        container.uow(),
        container.clock,
        container.jobs,
        container.data_sources,
        "FT20260615PREFILL1",
        timedelta(seconds=60),
    )
    view = wait_for(
        lambda: (
            (
                v := prefill.prefill_view(container.uow(), container.clock, "FT20260615PREFILL1")
            ).finished
            and v
        )
    )
    assert {s.status for s in view.sources} == {"completed"}
    assert len(view.sources) == 5
    with container.uow() as uow:
        answers = uow.answers.for_application("FT20260615PREFILL1")
        assert {a.origin for a in answers} == {"prefilled"}
        assert len(uow.documents.for_application("FT20260615PREFILL1")) == 3
    worker.stop()
    jobs = [line for line in worker.job_lines() if line["job"] == "fetch_company_data"]
    assert sorted(line["source"] for line in jobs) == sorted(s.source for s in view.sources)
    assert "sandbox-token" not in worker.log_path.read_text()
