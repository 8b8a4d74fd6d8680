"""Queue names and the one enqueue wrapper every caller uses.

With REDIS_URL jobs go to RQ. Without it (embedded mode) they run in-process; delayed,
retried and periodic jobs still run, because this module schedules them itself (RQ's
`is_async=False` would silently drop `Retry` and never run `enqueue_in`).
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Protocol

from flask import current_app
from rq import Queue, Retry
from rq.exceptions import NoSuchJobError
from rq.job import Job

from backend.extensions import BROKER_ERRORS, redis_connection
from backend.observability.logs import bound, current_request_id
from workers.jobs import execute, job_path

log = logging.getLogger(__name__)

HIGH, DEFAULT, LOW = "high", "default", "low"
QUEUES = (HIGH, DEFAULT, LOW)
DEFAULT_RETRY = (5, 30, 120)
ACTIVE_STATES = {"queued", "scheduled", "started", "deferred"}


class JobQueue(Protocol):
    """What services receive as their `enqueue` side effect."""
    def enqueue(self, func: Callable, *args: Any, queue: str = DEFAULT, job_id: str | None = None,
                delay: timedelta | None = None, retry: Sequence[int] | None = DEFAULT_RETRY) -> str:
        """Schedule `func(*args)`; return the job id."""


class RQJobQueue:
    """Jobs on Redis through RQ; workers run them (`python -m workers`)."""
    def __init__(self, connection) -> None:
        self.connection = connection

    def enqueue(self, func, *args, queue=DEFAULT, job_id=None, delay=None, retry=DEFAULT_RETRY):
        """Put the job on its RQ queue, skipping it if the same job id is still pending."""
        if job_id:
            try:
                if Job.fetch(job_id, connection=self.connection).get_status() in ACTIVE_STATES:
                    return job_id
            except NoSuchJobError:
                pass
        q = Queue(queue, connection=self.connection)
        options = {"job_id": job_id, "failure_ttl": 7 * 86400, "result_ttl": 3600,
                   "retry": Retry(max=len(retry), interval=list(retry)) if retry else None,
                   "meta": {"request_id": current_request_id()}}
        target = (job_path(func), *args)
        if delay:
            job = q.enqueue_in(delay, execute, *target, **options)
        else:
            job = q.enqueue(execute, *target, **options)
        log.info("job %s queued on %s: %s", job.id, queue, target[0])
        return job.id


@dataclass(order=True)
class _Pending:
    due: float
    seq: int
    job_id: str = field(compare=False)
    func: str = field(compare=False)
    args: tuple = field(compare=False)
    retry: tuple[int, ...] = field(compare=False)
    attempt: int = field(default=0, compare=False)
    request_id: str | None = field(default=None, compare=False)


class EmbeddedJobQueue:
    """In-process jobs: a heap of due times served by one daemon thread (or by the caller)."""
    def __init__(self, app, threaded: bool = True, clock: Callable[[], float] = time.monotonic):
        self.app, self.threaded, self.clock = app, threaded, clock
        self._heap: list[_Pending] = []
        self._ids: set[str] = set()
        self._seq = itertools.count()
        self._cv = threading.Condition()
        self._busy = 0
        self._thread: threading.Thread | None = None
        self.failures: list[tuple[str, str]] = []

    def enqueue(self, func, *args, queue=DEFAULT, job_id=None, delay=None, retry=DEFAULT_RETRY):
        """Schedule the job in this process; a pending job with the same id is not added twice."""
        seq = next(self._seq)
        job_id = job_id or f"embedded-{seq}"
        due = self.clock() + (delay.total_seconds() if delay else 0.0)
        with self._cv:
            if job_id in self._ids:
                return job_id
            self._ids.add(job_id)
            heapq.heappush(self._heap, _Pending(due, seq, job_id, job_path(func), args,
                                                tuple(retry or ()),
                                                request_id=current_request_id()))
            self._cv.notify_all()
        if self.threaded:
            self._ensure_thread()
        return job_id

    def pending(self) -> int:
        """Return how many jobs wait or run."""
        with self._cv:
            return len(self._heap) + self._busy

    def run_due(self, until: float | None = None) -> int:
        """Run, in the calling thread, every job due by `until` (default now); return the count."""
        ran = 0
        while (job := self._pop_due(self.clock() if until is None else until)) is not None:
            self._run(job)
            ran += 1
        return ran

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Block until no job is due now or running (delayed jobs are not awaited)."""
        deadline = time.monotonic() + timeout
        with self._cv:
            while self._busy or (self._heap and self._heap[0].due <= self.clock()):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cv.wait(min(remaining, 0.05))
        return True

    def _pop_due(self, until: float) -> _Pending | None:
        with self._cv:
            if not self._heap or self._heap[0].due > until:
                return None
            job = heapq.heappop(self._heap)
            self._busy += 1
            return job

    def _run(self, job: _Pending) -> None:
        with bound(job.request_id, job.job_id):
            try:
                with self.app.app_context():
                    execute(job.func, *job.args)
                self._finish(job)
            except Exception as exc:  # jobs raise to ask for a retry, as under RQ
                self._retry_or_fail(job, exc)

    def _finish(self, job: _Pending, requeue: _Pending | None = None) -> None:
        with self._cv:
            self._busy -= 1
            if requeue is None:
                self._ids.discard(job.job_id)
            else:
                heapq.heappush(self._heap, requeue)
            self._cv.notify_all()

    def _retry_or_fail(self, job: _Pending, exc: Exception) -> None:
        if job.attempt < len(job.retry):
            delay = job.retry[job.attempt]
            log.warning("job %s failed (%s); retry in %ss", job.job_id, exc, delay)
            again = _Pending(self.clock() + delay, next(self._seq), job.job_id, job.func,
                             job.args, job.retry, job.attempt + 1, job.request_id)
            self._finish(job, again)
            return
        log.error("job %s failed for good: %s", job.job_id, exc)
        self.failures.append((job.job_id, repr(exc)))
        self._finish(job)

    def _ensure_thread(self) -> None:
        with self._cv:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._loop, name="embedded-jobs",
                                                daemon=True)
                self._thread.start()

    def _loop(self) -> None:
        while True:
            with self._cv:
                wait = (self._heap[0].due - self.clock()) if self._heap else 1.0
                if wait > 0:
                    self._cv.wait(min(wait, 1.0))
            self.run_due()


def make_job_queue(app) -> JobQueue:
    """Create the queue for this app: RQ with REDIS_URL, embedded otherwise."""
    if app.config.get("REDIS_URL"):

        return RQJobQueue(redis_connection(app))
    mode = app.config.get("EMBEDDED_JOBS", "thread")
    return EmbeddedJobQueue(app, threaded=(mode == "thread"))


_jobs_lock = threading.Lock()


def job_queue(app=None):
    """Return the app's job queue (RQ or embedded), created on first use."""
    app = app or current_app._get_current_object()
    with _jobs_lock:
        if "jobs" not in app.extensions:
            app.extensions["jobs"] = make_job_queue(app)
    return app.extensions["jobs"]


def wake(func, *args, queue: str, job_id: str) -> str | None:
    """Enqueue a relay of work already committed to an outbox; None if the broker is down.

    The caller has stored the work, so an unreachable Redis only delays it until the next
    cron sweep (every minute); the request that stored it still succeeds.
    """
    try:
        return job_queue().enqueue(func, *args, queue=queue, job_id=job_id)
    except BROKER_ERRORS as exc:
        log.warning("job broker unreachable, %s left to the outbox sweep: %s", job_id, exc)
        return None
