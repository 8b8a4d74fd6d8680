"""Faults on the way to the assessment core: real workers, real Redis, PostgreSQL.

Each test ends with the receiver holding exactly the expected set of distinct webhook ids
(duplicates are allowed: the id is the receiver's idempotency key). Workers run with a short
retry schedule and lease (PUSH_RETRY_SCHEDULE, PUSH_LEASE_SECONDS) so faults resolve in seconds.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa

from backend import wiring
from backend.extensions import db
from backend.services.outbox import push
from tests.conftest import SEAL_TEST_KEYS, TEST_KEYS, base_config, private_postgres_database
from tests.fakes import FakeAssessmentCore
from workers.cron import tick
from workers.jobs.push import start_relay
from workers.schedule import PERIODIC_JOBS

ROOT = Path(__file__).resolve().parents[2]
REDIS_DB = 11  # a database of its own: these tests flush it
PUSH_ENV = {"PUSH_RETRY_SCHEDULE": "0,1,1,2,2,2,2,2,2,2", "PUSH_LEASE_SECONDS": "3",
            "PUSH_TIMEOUT": "5"}
SWEEP = [job for job in PERIODIC_JOBS if job.name == "push-relay"]

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]


@pytest.fixture(scope="module")
def database_uri():
    with private_postgres_database("ssp_push_e2e") as uri:
        yield uri


@pytest.fixture
def redis_push(redis_url):
    """Return a flushed Redis database of this module's own, and its client."""
    import redis

    url = redis_url.rsplit("/", 1)[0] + f"/{REDIS_DB}"
    connection = redis.Redis.from_url(url)
    connection.flushdb()
    yield url, connection
    connection.flushdb()
    connection.close()


@pytest.fixture
def pg_app(database_uri, redis_push):
    """An app on PostgreSQL and the real Redis, with empty push tables."""
    from backend import create_app

    app = create_app({**base_config(database_uri), "REDIS_URL": redis_push[0]})
    with app.app_context():
        db.create_all()
        db.session.execute(sa.text("TRUNCATE webhook_outbox, alerts RESTART IDENTITY"))
        db.session.commit()
        yield app
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def core():
    with FakeAssessmentCore() as fake:
        yield fake


@pytest.fixture
def workers(database_uri, redis_push, core, tmp_path):
    """Start `python -m workers` processes; stop them (and their children) after the test."""
    started: list[subprocess.Popen] = []
    env = {**os.environ, "PYTHONPATH": str(ROOT), "REDIS_URL": redis_push[0],
           "DATABASE_URL": database_uri, "SECRET_KEYS": ",".join(TEST_KEYS),
           "RATING_SEAL_KEYS": ",".join(SEAL_TEST_KEYS),
           "ASSESSMENT_CORE_URL": core.webhook_url, "ASSESSMENT_CORE_SECRET": core.secret,
           **PUSH_ENV}

    def start() -> subprocess.Popen:
        log = (tmp_path / f"worker-{len(started)}.log").open("w")
        process = subprocess.Popen([sys.executable, "-m", "workers"], cwd=ROOT, env=env,
                                   stdout=log, stderr=subprocess.STDOUT)
        log.close()
        started.append(process)
        return process

    yield start
    for process in started:
        stop(process, signal.SIGTERM)


def descendants(pid: int) -> list[int]:
    """Return the ids of a process's descendants (RQ's job child runs in a session of its own)."""
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        if parent == pid:
            children.append(int(stat.parent.name))
    return children + [d for child in children for d in descendants(child)]


def stop(process: subprocess.Popen, sig: int) -> None:
    """Signal a worker and every process it started (job child, scheduler)."""
    for pid in [process.pid, *descendants(process.pid)] if process.poll() is None else []:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        stop(process, signal.SIGKILL)


def wait_until(condition: Callable[[], bool], timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


def queue(n: int) -> list[str]:
    ids = [push.queue_message(db.session, "score.published", {"cadre_code": f"C{i:04d}"},
                              f"sha256:{i:064x}", "2026-11", wiring.now()).webhook_id
           for i in range(n)]
    db.session.commit()
    return ids


def statuses() -> dict[str, int]:
    db.session.rollback()  # a fresh snapshot
    return push.status_summary(db.session, dead_letters=0)["counts"]


def leased() -> int:
    """Count pending rows leased to a worker (due only after the lease)."""
    db.session.rollback()
    return db.session.scalar(sa.select(sa.func.count()).where(
        push.SM.status == push.PENDING, push.SM.next_attempt_at > wiring.now()))


def attempts_at_least(n: int) -> bool:
    db.session.rollback()
    return db.session.scalar(sa.select(sa.func.min(push.SM.attempts))) >= n


def test_core_down_for_the_first_attempts_then_back(pg_app, core, workers):
    ids = queue(20)
    core.go_down(refuse=True)
    workers()
    start_relay(pg_app)
    assert wait_until(lambda: attempts_at_least(2))
    core.come_back()
    assert wait_until(lambda: statuses()["delivered"] == 20)
    assert sorted(core.distinct_ids()) == sorted(ids)


def test_worker_killed_in_the_middle_of_a_batch_loses_no_message(pg_app, core, workers):
    ids = queue(200)
    core.fail_next(200, http_status=None, delay=0.05)  # slow answers: the kill lands mid-batch
    first = workers()
    start_relay(pg_app)
    assert wait_until(lambda: len(core.deliveries) >= 20)
    stop(first, signal.SIGKILL)
    delivered_before = statuses()["delivered"]
    core.faults.clear()
    assert delivered_before < 200 and leased() > 0
    workers()
    time.sleep(float(PUSH_ENV["PUSH_LEASE_SECONDS"]))  # rows leased to the dead worker
    tick(pg_app, jobs=SWEEP)  # cron's sweep, under an id of its own
    assert wait_until(lambda: statuses()["delivered"] == 200)
    assert sorted(core.distinct_ids()) == sorted(ids)


def test_redis_flushed_while_rows_are_pending_recovers_from_the_outbox(pg_app, core, workers,
                                                                      redis_push):
    ids = queue(30)
    start_relay(pg_app)
    redis_push[1].flushdb()  # the relay jobs are gone; the outbox rows are not
    workers()
    time.sleep(2)
    assert statuses()["pending"] == 30 and core.distinct_ids() == []
    tick(pg_app, jobs=SWEEP)
    assert wait_until(lambda: statuses()["delivered"] == 30)
    assert sorted(core.distinct_ids()) == sorted(ids)
