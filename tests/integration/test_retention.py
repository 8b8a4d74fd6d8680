"""Retention: abuse-signal hashes, follow-up contacts and raters' phones go past their limit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func, select

from backend.models import (
    AbuseSignal,
    Cadre,
    Campaign,
    CampaignRater,
    FollowupContact,
    Rating,
    Unit,
)
from backend.services.campaigns import lifecycle as campaigns
from backend.services.campaigns import progress as campaign_progress
from backend.services.campaigns.rules import AssignmentInput, CampaignInput, RaterInput
from backend.services.privacy.retention import RetentionReport, purge, purge_rater_phones
from backend.wiring import sealer, token_codec, vault
from tests.support.ledger import make_ratings
from workers.schedule import PERIODIC_JOBS


def plant(session, now: datetime, signal_ages: list[int], contact_ages: list[int]) -> None:
    """Add abuse signals and follow-up contacts created the given numbers of days ago."""
    ids = make_ratings(session, max(len(signal_ages), len(contact_ages)))
    session.execute(delete(AbuseSignal))  # release made one per rating: plant them instead
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


def run_campaign(app, session, code: str, now: datetime, ended_days_ago: int | None,
                 cancel: bool = False) -> Campaign:
    """Create a campaign of three raters (two with phones), closed or cancelled days ago."""
    if session.scalar(select(Cadre.id).limit(1)) is None:
        session.add(Cadre(code="C1", name="王建国", position="镇长",
                          unit=Unit(code="XZ1", name="城关镇人民政府", category="township")))
        session.commit()
    start = now - timedelta(days=100)
    ctx = campaigns.CampaignContext(token_codec(app), vault(app), app.extensions["catalogue"],
                                    app.config["PUBLIC_BASE_URL"], ZoneInfo("Asia/Shanghai"),
                                    start)
    raters = [AssignmentInput(RaterInput(f"R{n}", f"评价人{n}", phone), "subordinate", ("C1",))
              for n, phone in enumerate(("13900000001", None, "13900000003"))]
    data = CampaignInput(code, code, "democratic_appraisal", "2026-Q3",
                         start + timedelta(days=10), raters)
    campaign, _ = campaigns.create_campaign(session, ctx, data)
    if ended_days_ago is not None:
        end = campaigns.cancel_campaign if cancel else campaigns.close_campaign
        end(session, sealer(app), code, now - timedelta(days=ended_days_ago))
    return campaign


def phones(session) -> dict[str, int]:
    """Return, per campaign code, how many of its raters still hold a phone."""
    rows = session.execute(select(Campaign.code, CampaignRater.phone_enc)
                           .join(Campaign, CampaignRater.campaign_id == Campaign.id))
    held: dict[str, int] = {}
    for code, phone in rows:
        held[code] = held.get(code, 0) + (phone is not None)
    return held


def test_raters_phones_are_cleared_once_their_campaign_is_over_for_the_retention_period(
        app, session):
    now = datetime(2026, 11, 21, 3, tzinfo=UTC)
    ids = [run_campaign(app, session, code, now, days, cancel).id
           for code, days, cancel in (("CLOSED-40", 40, False), ("CANCELLED-31", 31, True),
                                      ("CLOSED-10", 10, False), ("OPEN", None, False))]
    counts = campaign_progress.totals(session, ids)
    assert purge_rater_phones(session, now - timedelta(days=30), batch_size=1) == 4
    assert phones(session) == {"CLOSED-40": 0, "CANCELLED-31": 0, "CLOSED-10": 2, "OPEN": 2}
    assert session.scalar(select(func.count()).select_from(CampaignRater)) == 12  # rows stay
    assert campaign_progress.totals(session, ids) == counts
    assert purge(session, now, phone_days=30) == RetentionReport()  # nothing left to clear
    assert purge(session, now, phone_days=5).rater_phones == 2


def test_the_daily_job_clears_raters_phones_after_the_personal_data_retention_period(
        app, session, make_app):
    from workers.jobs.ledger import purge_retained

    now = datetime.now(UTC)
    for code, days in (("CLOSED-40", 40), ("CLOSED-10", 10)):
        run_campaign(app, session, code, now, days)
    session.commit()
    purge_retained()  # PERSONAL_DATA_RETENTION_DAYS defaults to 30
    assert phones(session) == {"CLOSED-40": 0, "CLOSED-10": 2}
    with make_app(PERSONAL_DATA_RETENTION_DAYS=7).app_context():
        purge_retained()
    session.rollback()
    assert phones(session) == {"CLOSED-40": 0, "CLOSED-10": 0}
