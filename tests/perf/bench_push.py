"""Push relay: deliveries per second from two real workers to the local fake assessment core.

Setup: 2,000 outbox rows on a fresh PostgreSQL database, two `python -m workers` processes on
the real Redis (a database of its own, flushed), FakeAssessmentCore in this process. Timed:
from waking the relay until the receiver holds all 2,000 distinct webhook ids.
Baseline, same run: the same 2,000 signed POSTs from a bare httpx loop in this process.
Target: at least 500 deliveries/s.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import sqlalchemy as sa

from tests.perf.report import Result, median
from tests.perf.support import bench_app, fresh_database

N = 2000
TARGET_PER_SECOND = 500
REDIS_DB = 12
WORKERS = 2
ROOT = Path(__file__).resolve().parents[2]
SECRET_KEYS = "bench-signing-key-0123456789abcdef"
SEAL_KEYS = "bench-push-seal-key-0123456789abcdef"


def redis_url() -> str:
    """Return REDIS_URL (or the local default) pointed at this benchmark's own database."""
    base = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"
    return base.rsplit("/", 1)[0] + f"/{REDIS_DB}" if base.count("/") >= 3 else base + "/12"


def start_workers(database_uri: str, redis: str, core,
                  workers: int = WORKERS) -> list[subprocess.Popen]:
    """Start the worker processes against the database, Redis and the fake core."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "REDIS_URL": redis,
           "DATABASE_URL": database_uri, "SECRET_KEYS": SECRET_KEYS, "RATING_SEAL_KEYS": SEAL_KEYS,
           "LOG_LEVEL": "WARNING",
           "ASSESSMENT_CORE_URL": core.webhook_url, "ASSESSMENT_CORE_SECRET": core.secret}
    return [subprocess.Popen([sys.executable, "-m", "workers", "--name", f"bench-push-{n}"],
                             cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL) for n in range(workers)]


def stop_workers(processes: list[subprocess.Popen]) -> None:
    """Stop the workers (idle by now: a warm shutdown is quick)."""
    for process in processes:
        process.terminate()
    for process in processes:
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wait(condition, timeout: float, what: str, poll: float = 0.02) -> None:
    """Poll until condition() holds; fail the benchmark after timeout seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(poll)


def distinct(core) -> int:
    """Count the distinct webhook ids the core holds (cheaper than distinct_ids())."""
    with core.lock:
        return len({d.id for d in core.deliveries})


def queue_round(round_no: int, n_messages: int = N) -> list[tuple[str, dict]]:
    """Queue N score messages; return (webhook_id, payload) pairs for the baseline."""
    from backend import wiring
    from backend.extensions import db
    from backend.models import WebhookMessage
    from backend.services.outbox.push import queue_messages

    queue_messages(db.session, [("score.published", {
        "cadre_code": f"C{n:05d}", "period": "2026-11",
        "digest": f"sha256:{round_no:08x}{n:056x}"}, f"{round_no}:{n}", "2026-11")
        for n in range(n_messages)], wiring.now())
    db.session.commit()
    rows = db.session.execute(sa.select(WebhookMessage.webhook_id, WebhookMessage.payload)
                              .where(WebhookMessage.status == "pending"))
    return [(webhook_id, payload) for webhook_id, payload in rows]


def relay_round(app, core, n_messages: int = N) -> float:
    """Wake the relay and return the seconds until the core holds N distinct ids."""
    from backend.extensions import db
    from backend.models import WebhookMessage
    from workers.jobs.push import start_relay

    reset(core)
    started = time.perf_counter()
    start_relay(app)
    wait(lambda: distinct(core) >= n_messages, 120, "the workers' deliveries")
    elapsed = time.perf_counter() - started
    pending = sa.select(sa.func.count()).where(WebhookMessage.status != "delivered")
    wait(lambda: db.session.rollback() or db.session.scalar(pending) == 0, 30, "the outcomes")
    return elapsed


def bare_round(core, messages: list[tuple[str, dict]]) -> float:
    """Send the same signed POSTs from a plain loop; return the seconds it took."""
    from backend.integrations.assessment_core import WebhookSender, encode_body

    reset(core)
    signer = WebhookSender(core.webhook_url, [core.secret])  # used for its headers only
    with httpx.Client() as http:
        started = time.perf_counter()
        for msg_id, payload in messages:
            body = encode_body(payload)
            http.post(core.webhook_url, content=body.encode(),
                      headers=signer.headers(msg_id, body)).raise_for_status()
        elapsed = time.perf_counter() - started
    assert distinct(core) == len(messages)
    return elapsed


def reset(core) -> None:
    """Forget what the core received (its duplicate check scans every delivery)."""
    with core.lock:
        core.deliveries.clear()


def ready(redis: str, workers: int = WORKERS) -> bool:
    """Tell whether every worker has registered with Redis."""
    import redis as redis_lib
    from rq import Worker

    with redis_lib.Redis.from_url(redis) as connection:
        return len(Worker.all(connection=connection)) >= workers


def measure(app, database_uri: str, rounds: int, n_messages: int = N,
            workers: int = WORKERS) -> tuple[list[float], list[float]]:
    """Time relayed rounds against bare rounds, interleaved so noise hits both alike."""
    import redis as redis_lib

    from tests.fakes import FakeAssessmentCore

    redis = redis_url()
    with redis_lib.Redis.from_url(redis) as connection:
        connection.flushdb()
    relayed, bare = [], []
    with FakeAssessmentCore() as core, app.app_context():
        processes = start_workers(database_uri, redis, core, workers)
        try:
            wait(lambda: ready(redis, workers), 60, "the workers to start", poll=0.2)
            for r in range(rounds):
                messages = queue_round(r, n_messages)
                relayed.append(relay_round(app, core, n_messages))
                bare.append(bare_round(core, messages))
        finally:
            stop_workers(processes)
            with redis_lib.Redis.from_url(redis) as connection:
                connection.flushdb()
    return relayed, bare


def run(quick: bool = False, smoke: bool = False) -> list[Result]:
    """Measure relayed deliveries per second against the bare loop.

    Smoke: 40 webhooks through one worker.
    """
    from backend.extensions import db

    n, workers = (40, 1) if smoke else (N, WORKERS)
    with fresh_database("ssp_bench_push") as url:
        app = bench_app(url, REDIS_URL=redis_url(), SECRET_KEYS=[SECRET_KEYS],
                        RATING_SEAL_KEYS=[SEAL_KEYS], LOG_LEVEL="WARNING")
        relayed, bare = measure(app, url, 1 if quick or smoke else 3, n, workers)
        with app.app_context():
            db.engine.dispose()
    rate, bare_rate = n / median(relayed), n / median(bare)
    return [Result("push", f"{n:,} webhooks to the fake core, {workers} workers", rate,
                   "deliveries/s", baseline=bare_rate,
                   baseline_label="bare signed httpx loop, one process, POSTs/s",
                   ratio=rate / bare_rate, target=f">= {TARGET_PER_SECOND} deliveries/s",
                   met=rate >= TARGET_PER_SECOND if not smoke else None,
                   samples=[n / s for s in relayed])]
