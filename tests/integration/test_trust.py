"""Ratings wait sealed and enter in shuffled batches: exactly once, never lost, never twice.

The release job's rules (a batch of RATING_BATCH_MIN, or a day's items at the end of the day),
a release killed in the middle of a batch, two releases at once, a pending item no key opens,
the embedded demo's minute release, the command, the console's note, and the nightly check
that alerts and pushes when anything was bent.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy import func, select, text

from backend import wiring
from backend.extensions import db
from backend.models import (
    Alert,
    LedgerEntry,
    PendingItem,
    Rating,
    RatingCount,
    UseTag,
    WebhookMessage,
)
from backend.services.ledger import chain as ledger
from backend.services.ledger.integrity import LEDGER_INTEGRITY, check_integrity
from backend.services.ratings.release import release
from backend.services.sealing.seal import Sealer
from tests.conftest import SEAL_TEST_KEYS, TEST_KEYS
from tests.console.world import https_client, sign_in
from tests.support.invitations import issue
from tests.support.ledger import TZ, submit_ratings
from tests.support.release import release_all
from workers.jobs.ratings import release_ratings

ROOT = Path(__file__).resolve().parents[2]


def count(model, *where) -> int:
    db.session.commit()
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def pending_ratings() -> int:
    return count(PendingItem, PendingItem.kind == "rating")


def release_now(batch_min: int = 20, at: datetime | None = None) -> int:
    """Run the release as the job would, with a batch minimum; return how many ratings."""
    ctx = replace(wiring.release_context(batch_min=batch_min), now=at or datetime.now(UTC))
    return release(db.session, ctx).ratings


def test_a_refused_submission_leaves_the_link_open_and_nothing_pending(client, session):
    (link,) = issue(1)
    for body in ({"score": 11}, {"score": 9, "tags": ["不存在的标签"]}, {"comment": "x"}):
        assert client.post(f"/api/v1/invitations/{link['token']}/rating",
                           json=body).status_code == 422
    assert pending_ratings() == 0 and count(UseTag) == 0
    assert client.get(f"/api/v1/invitations/{link['token']}").json["status"] == "open"
    assert client.post(f"/api/v1/invitations/{link['token']}/rating",
                       json={"score": 9}).status_code == 201


def test_ratings_wait_until_a_batch_holds_the_minimum(app, session):
    submit_ratings(session, 19, at=datetime.now(UTC))
    assert release_now() == 0 and pending_ratings() == 19 and count(Rating) == 0
    submit_ratings(session, 1, at=datetime.now(UTC))
    assert release_now() == 20 and pending_ratings() == 0 and count(Rating) == 20


def test_a_days_ratings_go_out_at_the_end_of_it_whatever_their_number(app, session):
    yesterday = datetime.now(UTC) - timedelta(days=1)
    submit_ratings(session, 3, at=yesterday)
    assert release_now(at=yesterday + timedelta(minutes=5)) == 0  # the same day: they wait
    assert release_now() == 3 and pending_ratings() == 0


def test_the_embedded_demo_releases_every_minute_whatever_the_batch_size(app, session):
    submit_ratings(session, 1, at=datetime.now(UTC))
    assert app.config["REDIS_URL"] is None and app.config["RATING_BATCH_MIN"] == 20
    release_ratings()
    assert count(Rating) == 1 and pending_ratings() == 0


def test_the_release_command_releases_everything_now(app, session, runner):
    submit_ratings(session, 2, at=datetime.now(UTC))
    result = runner.invoke(args=["ratings", "release"])
    assert result.exit_code == 0 and "已入账 2 条评价" in result.output
    assert count(Rating) == 2 and count(LedgerEntry) == 2


def test_a_pending_item_no_key_opens_stays_pending_and_is_named(app, session, runner):
    submit_ratings(session, 2, at=datetime.now(UTC))
    foreign = Sealer(["a-key-nobody-configured-0123456789ab"]).seal({"kind": "event"})
    session.add(PendingItem(kind="rating", day=date.today(), sealed=foreign))
    session.commit()
    result = runner.invoke(args=["ratings", "release"])
    assert result.exit_code == 0 and "无法用 RATING_SEAL_KEYS 解开" in result.output
    assert count(Rating) == 2 and pending_ratings() == 1  # kept, never dropped


def test_ratings_sealed_under_an_older_key_are_still_released(app, make_app, session):
    old = make_app(RATING_SEAL_KEYS=[SEAL_TEST_KEYS[1]])
    with old.app_context():
        submit_ratings(db.session, 2, at=datetime.now(UTC))
        db.session.remove()
    assert release_all().ratings == 2  # the current keys list the old one second


def test_two_releases_at_once_release_each_rating_once(app, session):
    if session.get_bind().dialect.name != "postgresql":
        pytest.skip("SQLite has one writer: releases cannot overlap")
    submit_ratings(session, 60, at=datetime.now(UTC))
    session.commit()
    results, barrier = [], threading.Barrier(2)

    def run() -> None:
        with app.app_context():
            barrier.wait(timeout=10)
            results.append(release_all().ratings)
            db.session.remove()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(results) == [0, 60] or sum(results) == 60
    assert count(Rating) == 60 and pending_ratings() == 0
    assert db.session.scalar(select(func.sum(RatingCount.count))) == 60
    assert ledger.verify(session, wiring.sealer()).ok


def test_a_release_killed_in_the_middle_of_a_batch_loses_nothing_and_repeats_nothing(
        app, session):
    if session.get_bind().dialect.name != "postgresql":
        pytest.skip("the kill waits on a PostgreSQL lock in the middle of the batch")
    submit_ratings(session, 30, at=datetime.now(UTC))
    session.commit()
    url = db.engine.url.render_as_string(hide_password=False)
    holder = sa.create_engine(url)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DATABASE_URL": url, "REDIS_URL": "",
           "SECRET_KEYS": ",".join(TEST_KEYS), "RATING_SEAL_KEYS": ",".join(SEAL_TEST_KEYS)}
    with holder.connect() as conn, conn.begin():
        # The release stores the ratings, then waits here to chain them into the ledger.
        conn.execute(text("LOCK TABLE ledger_entries IN ACCESS EXCLUSIVE MODE"))
        process = subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "backend", "ratings", "release"], cwd=ROOT,
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            assert waiting_on(holder, process), "the release never reached the lock"
        finally:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
    holder.dispose()
    assert count(Rating) == 0 and pending_ratings() == 30  # the batch rolled back whole
    assert release_all().ratings == 30
    assert count(Rating) == 30 and pending_ratings() == 0
    assert db.session.scalar(select(func.sum(RatingCount.count))) == 30
    assert ledger.verify(session, wiring.sealer()).ok


def waiting_on(engine, process: subprocess.Popen, seconds: float = 60) -> bool:
    """Tell whether some session of the database waits on a lock while the process lives."""
    deadline = time.monotonic() + seconds
    with engine.connect() as conn:
        while time.monotonic() < deadline and process.poll() is None:
            found = conn.execute(text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock' AND query ILIKE '%ledger_entries%'")).scalar()
            if found:
                return True
            conn.rollback()  # pg_stat_activity keeps one snapshot per transaction
            time.sleep(0.1)
    return False


def test_the_console_says_ratings_enter_in_batches_and_how_many_wait(app, session):
    from tests.console.world import add_users

    submit_ratings(session, 3, at=datetime.now(UTC))
    add_users()
    console = https_client(app)
    sign_in(console, "org")
    page = console.get("/console/").get_data(as_text=True)
    assert "评价分批入账" in page and "当前待入账 3 条" in page


def test_the_nightly_check_alerts_and_pushes_when_a_count_was_bent(app, session):
    submit_ratings(session, 4, at=datetime.now(UTC))
    release_all()
    now = datetime.now(UTC)
    assert check_integrity(session, wiring.sealer(), now, TZ).ok
    assert count(Alert) == 0
    session.execute(text("UPDATE rating_counts SET count = count + 500"))
    session.commit()
    result = check_integrity(session, wiring.sealer(), now, TZ)
    assert not result.ok and result.reason == "counts"
    alert = session.scalar(select(Alert).where(Alert.type == LEDGER_INTEGRITY))
    assert alert.state == "open" and "rating_counts" in alert.details["message"]
    pushed = session.scalar(select(WebhookMessage).where(WebhookMessage.type == "alert.raised"))
    assert pushed is not None and "rating_counts" in str(pushed.payload)
    session.execute(text("UPDATE rating_counts SET count = count - 500"))
    session.commit()
    assert check_integrity(session, wiring.sealer(), now, TZ).ok
    session.refresh(alert)
    assert alert.state == "resolved" and alert.resolved_by == "自动解除"
