"""Background jobs: the registry from a job's name to its handler, and how a job runs.

A handler takes the container and the job's string arguments (ids) and calls one use case with
the container's adapters. Both queues end here: the in-process runner calls `run_job` with the
web process's container; an RQ worker calls `run_rq_job`, which builds one container per worker
process from the environment. Every job writes one structured log line (name, arguments,
duration, outcome) — arguments are ids, never secrets.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from passemarche.services import prefill, submission, webhooks

if TYPE_CHECKING:
    from passemarche.entrypoints.bootstrap import Container

log = logging.getLogger("passemarche.jobs")

Handler = Callable[..., Mapping[str, Any] | None]


class UnknownJob(LookupError):
    pass


def _deliver_webhook(container: Container, delivery_id: str) -> Mapping[str, Any] | None:
    view = webhooks.deliver(
        container.uow(),
        container.clock,
        container.webhook_sender,
        container.jobs,
        delivery_id,
        container.retry_schedule,
        container.webhook_targets,
    )
    if view is None:
        return {"delivery": "not found"}
    return {
        "delivery_status": view.status,
        "attempts": view.attempts,
        "http_status": view.last_status_code,
        "error": view.last_error,
    }


# A failed generation (storage full, a bug fixed by a deploy...) is tried again with growing
# delays; the job is idempotent. After the last attempt it stays failed (logged; RQ keeps it).
GENERATION_RETRY_DELAYS = (30, 120, 600, 1800)


def _generate_documents(
    container: Container, identifier: str, base_url: str, attempt: str = "1"
) -> Mapping[str, Any] | None:
    try:
        submission.generate_documents(
            container.uow(),
            container.clock,
            container.storage,
            container.renderer,
            container.packager,
            container.jobs,
            identifier,
            base_url,
            test_watermark=not container.config.is_production,
        )
    except Exception:
        number = int(attempt)
        if number <= len(GENERATION_RETRY_DELAYS):
            delay = timedelta(seconds=GENERATION_RETRY_DELAYS[number - 1])
            container.jobs.enqueue(
                submission.GENERATE_DOCUMENTS, identifier, base_url, str(number + 1), delay=delay
            )
        raise
    return {"application": identifier, "attempt": int(attempt)}


def _fetch_company_data(
    container: Container, identifier: str, source: str
) -> Mapping[str, Any] | None:
    status = prefill.fetch_company_data(
        container.uow(),
        container.clock,
        container.storage,
        container.scanner,
        container.data_sources,
        identifier,
        source,
    )
    return {"source": source, "status": status or "skipped"}


def _lookup_buyer_name(
    container: Container, market_identifier: str, attempt: str = "1"
) -> Mapping[str, Any] | None:
    name = prefill.lookup_buyer_name(
        container.uow(), container.data_sources, market_identifier, container.jobs, int(attempt)
    )
    return {"market": market_identifier, "found": name is not None, "attempt": int(attempt)}


HANDLERS: dict[str, Handler] = {
    webhooks.DELIVER_WEBHOOK: _deliver_webhook,
    submission.GENERATE_DOCUMENTS: _generate_documents,
    prefill.FETCH_COMPANY_DATA: _fetch_company_data,
    prefill.LOOKUP_BUYER_NAME: _lookup_buyer_name,
}


def run_job(container: Container, job: str, *args: str) -> None:
    """Run one job by name and log it; an exception is raised on to the queue, which logs its
    traceback (RQ keeps it with the failed job)."""
    started = time.perf_counter()
    fields: dict[str, Any] = {"job": job, "args": list(args)}
    try:
        handler = HANDLERS.get(job)
        if handler is None:
            raise UnknownJob(job)
        fields.update(handler(container, *args) or {})
    except BaseException as error:
        fields.update(outcome="error", error=type(error).__name__, duration_ms=_since(started))
        log.error("job", extra={"fields": fields})
        raise
    fields.update(outcome="ok", duration_ms=_since(started))
    log.info("job", extra={"fields": fields})


def run_rq_job(job: str, *args: str) -> None:
    """RQ's entry point (see adapters.job_queue.RQ_ENTRY)."""
    run_job(worker_container(), job, *args)


_container: Container | None = None
_container_pid: int | None = None


def worker_container() -> Container:
    """The worker process's container, built once from the environment. RQ forks a child per
    job: a child inherits it, but not the parent's database connections."""
    global _container, _container_pid
    if _container is None:
        from passemarche.config import Config
        from passemarche.entrypoints.bootstrap import bootstrap
        from passemarche.entrypoints.observability import configure_logging

        config = Config.from_env()
        configure_logging(config.log_level)
        _container, _container_pid = bootstrap(config), os.getpid()
    elif _container_pid != os.getpid():
        _container.engine.dispose(close=False)
        _container_pid = os.getpid()
    return _container


def _since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)
