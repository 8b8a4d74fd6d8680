"""Embedded mode: jobs run in-process, and delayed, retried and periodic jobs still run."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.support import sample_jobs
from workers.cron import tick
from workers.queues import EmbeddedJobQueue
from workers.schedule import PeriodicJob


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def read(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def test_job_runs_in_an_app_context(app, tmp_path):
    queue = EmbeddedJobQueue(app, threaded=False)
    out = tmp_path / "out"
    queue.enqueue(sample_jobs.record_database_dialect, str(out))
    assert queue.run_due() == 1
    assert read(out) == [app.extensions["sqlalchemy"].engines[None].dialect.name]


def test_delayed_job_waits_for_its_time(app, tmp_path):
    clock = Clock()
    queue = EmbeddedJobQueue(app, threaded=False, clock=clock)
    out = tmp_path / "out"
    queue.enqueue(sample_jobs.append_line, str(out), "later", delay=timedelta(seconds=30))
    assert queue.run_due() == 0
    clock.now += 31
    assert queue.run_due() == 1 and read(out) == ["later"]


def test_failed_job_is_retried_at_its_intervals(app, tmp_path):
    clock = Clock()
    queue = EmbeddedJobQueue(app, threaded=False, clock=clock)
    out = tmp_path / "out"
    queue.enqueue(sample_jobs.fail_then_append, str(out), "done", 2, retry=(5, 60))
    queue.run_due()
    clock.now += 5
    queue.run_due()
    assert read(out) == []
    clock.now += 59
    assert queue.run_due() == 0
    clock.now += 1
    queue.run_due()
    assert read(out) == ["done"] and queue.pending() == 0 and queue.failures == []


def test_job_that_keeps_failing_is_recorded_not_lost_silently(app, tmp_path):
    queue = EmbeddedJobQueue(app, threaded=False)
    queue.enqueue(sample_jobs.fail_then_append, str(tmp_path / "x"), "never", 9, retry=())
    queue.run_due()
    assert len(queue.failures) == 1 and "planned failure" in queue.failures[0][1]


def test_same_job_id_is_not_queued_twice(app, tmp_path):
    queue = EmbeddedJobQueue(app, threaded=False)
    out = tmp_path / "out"
    for _ in range(3):
        queue.enqueue(sample_jobs.append_line, str(out), "once", job_id="same")
    queue.run_due()
    assert read(out) == ["once"]


def test_threaded_queue_runs_jobs_in_the_background(app, tmp_path):
    queue = EmbeddedJobQueue(app, threaded=True)
    out = tmp_path / "out"
    queue.enqueue(sample_jobs.append_line, str(out), "bg")
    assert queue.wait_idle(timeout=10)
    assert read(out) == ["bg"]


def test_periodic_job_runs_once_per_slot(app):
    job = PeriodicJob("sample", "tests.support.sample_jobs:count_tick",
                      interval=timedelta(minutes=10))
    queue = app.extensions["jobs"] = EmbeddedJobQueue(app, threaded=False)
    app.extensions.pop("ticks", None)
    start = datetime(2026, 11, 21, 2, 0, tzinfo=UTC)
    assert len(tick(app, start, [job])) == 1
    assert tick(app, start + timedelta(minutes=5), [job]) == []
    assert len(tick(app, start + timedelta(minutes=10), [job])) == 1
    queue.run_due()
    assert app.extensions.pop("ticks") == 2


def test_daily_job_slot_is_in_the_deployment_time_zone():
    from datetime import time
    from zoneinfo import ZoneInfo

    job = PeriodicJob("nightly", "x:y", at=time(2, 30))
    shanghai = ZoneInfo("Asia/Shanghai")
    just_after = datetime(2026, 11, 20, 18, 31, tzinfo=UTC)  # 02:31 in Shanghai
    assert job.slot(just_after, shanghai) == datetime(2026, 11, 21, 2, 30, tzinfo=shanghai)
    just_before = datetime(2026, 11, 20, 18, 29, tzinfo=UTC)
    assert job.slot(just_before, shanghai) == datetime(2026, 11, 20, 2, 30, tzinfo=shanghai)
