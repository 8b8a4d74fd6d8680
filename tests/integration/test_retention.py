"""Retention: abuse-signal hashes and follow-up contacts go once past their limit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from backend.models import AbuseSignal, FollowupContact, Rating
from backend.services.retention import purge
from tests.support.ledger import make_ratings
from workers.schedule import PERIODIC_JOBS


def plant(session, now: datetime, signal_ages: list[int], contact_ages: list[int]) -> None:
    """Add abuse signals and follow-up contacts created the given numbers of days ago."""
    ids = make_ratings(session, max(len(signal_ages), len(contact_ages)))
    for rating_id, age in zip(ids, signal_ages, strict=False):
        session.add(AbuseSignal(rating_id=rating_id, ip_hash="a" * 64, agent_hash="b" * 64,
                                seconds_on_page=30, created_at=now - timedelta(days=age)))
    for rating_id, age in zip(ids, contact_ages, strict=False):
        session.add(FollowupContact(rating_id=rating_id, phone_enc="gAAAA-encrypted",
                                    created_at=now - timedelta(days=age)))
    session.commit()


def ages(session, model, now: datetime) -> list[int]:
    return sorted((now - at).days for at in session.scalars(select(model.created_at)))


def test_old_signals_and_contacts_are_purged_in_batches_and_recent_ones_kept(app, session):
    now = datetime(2026, 11, 21, 3, tzinfo=UTC)
    plant(session, now, [1, 89, 91, 120, 400], [10, 179, 181, 365])
    report = purge(session, now, signal_days=90, followup_days=180, batch_size=2)
    assert (report.abuse_signals, report.followup_contacts) == (3, 2)
    assert ages(session, AbuseSignal, now) == [1, 89]
    assert ages(session, FollowupContact, now) == [10, 179]
    assert len(session.scalars(select(Rating.id)).all()) == 5  # ratings themselves stay


def test_the_daily_job_purges_with_the_configured_limits(app, session, make_app):
    from workers.jobs.ledger import purge_retained

    now = datetime.now(UTC)
    plant(session, now, [5, 40, 100], [5, 40, 200])
    purge_retained()  # defaults: 90 and 180 days
    assert ages(session, AbuseSignal, now) == [5, 40]
    assert ages(session, FollowupContact, now) == [5, 40]
    strict = make_app(ABUSE_SIGNAL_RETENTION_DAYS=30, FOLLOWUP_RETENTION_DAYS=30)
    with strict.app_context():
        purge_retained()
    session.rollback()
    assert ages(session, AbuseSignal, now) == [5]
    assert ages(session, FollowupContact, now) == [5]
    (job,) = [j for j in PERIODIC_JOBS if j.func == "workers.jobs.ledger:purge_retained"]
    assert job.at is not None and job.interval is None
