"""A real RQ worker on the real Redis runs jobs from the enqueue wrapper."""

import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest

from tests.support import sample_jobs
from workers.queues import RQJobQueue

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def worker_redis(redis_url) -> str:
    """A Redis database of these tests' own: other tests flush the shared one."""
    return redis_url.rsplit("/", 1)[0] + "/10"


@pytest.fixture
def rq_queue(worker_redis):
    import redis

    connection = redis.Redis.from_url(worker_redis)
    connection.flushdb()
    yield RQJobQueue(connection)
    connection.flushdb()
    connection.close()


@pytest.fixture
def worker(worker_redis, tmp_path):
    """Start `python -m workers` as a real process; stop it after the test."""
    env = {**os.environ, "REDIS_URL": worker_redis, "PYTHONPATH": str(ROOT),
           "DATABASE_URL": "sqlite:///" + str(tmp_path / "worker.db"),
           "SECRET_KEYS": "worker-test-key-0123456789abcdef",
           "RATING_SEAL_KEYS": "worker-seal-key-0123456789abcdef"}
    log = (tmp_path / "worker.log").open("w")
    process = subprocess.Popen([sys.executable, "-m", "workers"], cwd=ROOT, env=env,
                               stdout=log, stderr=subprocess.STDOUT)
    yield process
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    log.close()


def wait_for_lines(path: Path, expected: list[str], timeout: float = 30) -> list[str]:
    deadline = time.monotonic() + timeout
    lines: list[str] = []
    while time.monotonic() < deadline:
        lines = path.read_text().splitlines() if path.exists() else []
        if lines == expected:
            return lines
        time.sleep(0.2)
    return lines


def test_worker_runs_a_job_in_an_app_context(rq_queue, worker, tmp_path):
    out = tmp_path / "out"
    rq_queue.enqueue(sample_jobs.record_database_dialect, str(out))
    assert wait_for_lines(out, ["sqlite"]) == ["sqlite"]


def test_worker_retries_a_failing_job_at_its_intervals(rq_queue, worker, tmp_path):
    out = tmp_path / "out"
    rq_queue.enqueue(sample_jobs.fail_then_append, str(out), "third time", 2, retry=(1, 1))
    assert wait_for_lines(out, ["third time"]) == ["third time"]
    assert (tmp_path / "out.attempts").read_text() == "3"


def test_worker_runs_a_delayed_job_after_its_delay(rq_queue, worker, tmp_path):
    from rq import Queue
    from rq.registry import ScheduledJobRegistry

    out = tmp_path / "out"
    job_id = rq_queue.enqueue(sample_jobs.append_line, str(out), "later",
                              delay=timedelta(seconds=3))
    registry = ScheduledJobRegistry(queue=Queue("default", connection=rq_queue.connection))
    assert job_id in registry.get_job_ids()
    time.sleep(1)
    assert not out.exists()
    assert wait_for_lines(out, ["later"]) == ["later"]


def test_pending_job_with_the_same_id_is_not_enqueued_twice(rq_queue, tmp_path):
    out = str(tmp_path / "out")
    first = rq_queue.enqueue(sample_jobs.append_line, out, "x", job_id="cron-same-1")
    second = rq_queue.enqueue(sample_jobs.append_line, out, "x", job_id="cron-same-1")
    from rq import Queue

    assert first == second == "cron-same-1"
    assert Queue("default", connection=rq_queue.connection).count == 1
