"""Periodic jobs: `python -m workers.cron` (see __main__) enqueues each job once per slot.

Job ids are deterministic (`cron-<name>-<slot>`) and each slot is claimed with SET NX, so
several cron processes, or a restart in the middle of a slot, never run a job twice.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime

from backend import wiring
from backend.extensions import redis_connection
from workers.queues import job_queue
from workers.schedule import PERIODIC_JOBS, PeriodicJob

log = logging.getLogger(__name__)
TICK_SECONDS = 5


def slot_id(job: PeriodicJob, slot: datetime) -> str:
    """Return the deterministic job id of a job's slot."""
    return f"cron-{job.name}-{int(slot.timestamp())}"


def claim(app, key: str, ttl: int = 7 * 86400) -> bool:
    """Claim a slot once across processes (Redis) or within this process (embedded)."""
    connection = redis_connection(app)
    if connection is not None:
        return bool(connection.set(f"ssp:{key}", "1", nx=True, ex=ttl))
    claimed = app.extensions.setdefault("cron_claims", set())
    if key in claimed:
        return False
    claimed.add(key)
    return True


def tick(app, now: datetime | None = None, jobs: Iterable[PeriodicJob] = PERIODIC_JOBS) -> list:
    """Enqueue every periodic job whose current slot has not run yet; return their ids."""
    now = now or datetime.now(UTC)
    tz = wiring.timezone(app)
    started = []
    for job in jobs:
        key = slot_id(job, job.slot(now, tz))
        if claim(app, key):
            started.append(job_queue(app).enqueue(job.func, queue=job.queue, job_id=key))
    return started


def run_forever(app, stop: threading.Event, sleep: Callable[[float], None] = time.sleep) -> None:
    """Tick until `stop` is set."""
    log.info("cron started with %d periodic jobs", len(PERIODIC_JOBS))
    while not stop.is_set():
        try:
            tick(app)
        except Exception:
            log.exception("cron tick failed; trying again next tick")
        stop.wait(TICK_SECONDS)


def start_embedded(app) -> threading.Event:
    """Run the cron loop in a daemon thread of this process (embedded mode)."""
    stop = threading.Event()
    threading.Thread(target=run_forever, args=(app, stop), name="embedded-cron",
                     daemon=True).start()
    return stop


def embedded_background(app) -> bool:
    """Return whether this app runs its periodic jobs in-process (embedded, not testing)."""
    return not (app.config["REDIS_URL"] or app.testing or not app.config["EMBEDDED_SCHEDULER"])


_background_lock = threading.Lock()


def start_background(app) -> None:
    """Start the in-process job thread and the periodic-job loop once (embedded mode)."""
    if not embedded_background(app):
        return
    with _background_lock:
        if "cron_stop" in app.extensions:
            return
        app.extensions["cron_stop"] = start_embedded(app)
