"""The two JobQueue adapters: RQ on Redis (production, scale-out) and an in-process runner (the
embedded default).

Both take a job by name with string arguments (ids, never objects). RQ runs it in a worker
process through `passemarche.entrypoints.jobs.run_rq_job`, which looks the name up in the job
registry; delayed jobs wait in RQ's scheduled registry until the worker's scheduler moves them
(`passemarche worker` runs it). The in-process runner keeps everything in memory: jobs survive
nothing, not even a restart.
"""

from __future__ import annotations

import atexit
import heapq
import itertools
import logging
import queue
import threading
import time
import weakref
from collections.abc import Callable
from datetime import timedelta
from typing import Any

log = logging.getLogger("passemarche.jobs")

# Named by path so that this adapter does not import the entrypoints: RQ imports it in the worker.
RQ_ENTRY = "passemarche.entrypoints.jobs.run_rq_job"
JOB_TIMEOUT = 120  # seconds: a webhook attempt is at most ~40 s of network and two transactions
RESULT_TTL = 600  # results are None; keep them briefly for inspection
FAILURE_TTL = 7 * 24 * 3600  # RQ's default is a year


class RqJobQueue:
    def __init__(
        self,
        connection: Any,
        queue_name: str = "default",
        *,
        job_timeout: int = JOB_TIMEOUT,
        result_ttl: int = RESULT_TTL,
        failure_ttl: int = FAILURE_TTL,
    ) -> None:
        from rq import Queue

        self.queue = Queue(queue_name, connection=connection)
        self.options = {
            "job_timeout": job_timeout,
            "result_ttl": result_ttl,
            "failure_ttl": failure_ttl,
        }

    def enqueue(self, job: str, *args: str, delay: timedelta | None = None) -> None:
        description = f"{job}({', '.join(args)})"
        if delay is not None and delay > timedelta(0):
            self.queue.enqueue_in(
                delay, RQ_ENTRY, job, *args, description=description, **self.options
            )
        else:
            self.queue.enqueue(RQ_ENTRY, job, *args, description=description, **self.options)


Runner = Callable[..., None]


class InProcessJobQueue:
    """Runs jobs on a few daemon threads of this process; delayed jobs wait on a timer thread.

    `runner(job, *args)` runs one job. An exception is logged and the runner carries on: a
    failing job never takes the web process down. Threads start at the first job (so nothing
    runs before a server forks its workers) and stop at process exit; jobs still waiting then are
    dropped, as the embedded default promises no more.
    """

    def __init__(self, runner: Runner, workers: int = 2) -> None:
        self.runner = runner
        self.worker_count = workers
        self._ready: queue.SimpleQueue[tuple[str, tuple[str, ...]] | None] = queue.SimpleQueue()
        self._delayed: list[tuple[float, int, str, tuple[str, ...]]] = []
        self._sequence = itertools.count()
        self._changed = threading.Condition()
        self._outstanding = 0  # enqueued (ready, delayed or running) and not finished
        self._threads: list[threading.Thread] = []
        self._stopping = False

    def enqueue(self, job: str, *args: str, delay: timedelta | None = None) -> None:
        with self._changed:
            if self._stopping:
                log.warning("job dropped: the runner is stopping", extra={"fields": {"job": job}})
                return
            self._start_threads()
            self._outstanding += 1
            seconds = delay.total_seconds() if delay is not None else 0.0
            if seconds > 0:
                due = time.monotonic() + seconds
                heapq.heappush(self._delayed, (due, next(self._sequence), job, args))
                self._changed.notify_all()
                return
        self._ready.put((job, args))

    def drain(self, timeout: float) -> bool:
        """Wait until every job, delayed ones and those they enqueue included, has run.
        False when some are still waiting or running after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while self._outstanding:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._changed.wait(left)
        return True

    def shutdown(self) -> None:
        """Stop taking jobs; drop the delayed ones; let a running job finish on its own."""
        with self._changed:
            if self._stopping:
                return
            self._stopping = True
            self._outstanding -= len(self._delayed)
            self._delayed.clear()
            self._changed.notify_all()
        for _ in self._threads:
            self._ready.put(None)

    def _start_threads(self) -> None:
        if self._threads:
            return
        for number in range(self.worker_count):
            self._spawn(self._work, f"passemarche-job-{number}")
        self._spawn(self._release_delayed, "passemarche-job-timer")
        _stop_at_exit(self)

    def _spawn(self, target: Callable[[], None], name: str) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        self._threads.append(thread)
        thread.start()

    def _work(self) -> None:
        while True:
            item = self._ready.get()
            if item is None:
                return
            job, args = item
            try:
                self.runner(job, *args)
            except Exception:  # noqa: BLE001  (logged; the next job must still run)
                log.exception("job raised", extra={"fields": {"job": job, "args": list(args)}})
            finally:
                with self._changed:
                    self._outstanding -= 1
                    self._changed.notify_all()

    def _release_delayed(self) -> None:
        with self._changed:
            while not self._stopping:
                if not self._delayed:
                    self._changed.wait()
                    continue
                due = self._delayed[0][0]
                wait = due - time.monotonic()
                if wait > 0:
                    self._changed.wait(wait)
                    continue
                _, _, job, args = heapq.heappop(self._delayed)
                self._ready.put((job, args))


_started: weakref.WeakSet[InProcessJobQueue] = weakref.WeakSet()


def _stop_at_exit(runner: InProcessJobQueue) -> None:
    _started.add(runner)


@atexit.register
def _shutdown_all() -> None:
    for runner in list(_started):
        runner.shutdown()
