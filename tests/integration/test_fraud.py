"""Fraud signals become review items with evidence; reviewers exclude or clear them, audited."""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from flask import current_app
from sqlalchemy import func, select

from backend.cli.ledger import review_cli
from backend.errors import Conflict, InvalidInput
from backend.models import (
    AbuseSignal,
    AuditEntry,
    Cadre,
    Rating,
    RatingCount,
    ReviewItem,
    ScoreSnapshot,
)
from backend.services import fraud
from backend.services.campaigns import lifecycle as campaigns
from backend.services.campaigns.rules import AssignmentInput, CampaignInput, RaterInput
from backend.services.demo.seed import seed
from backend.services.fraud import change_status, review
from backend.services.invitations.events import EventInput, IngestContext, Result
from backend.services.invitations.ingestion import ingest_events
from backend.services.ratings import submission as ratings
from backend.services.ratings.rules import RatedTarget, Submission
from backend.services.scores import counts
from backend.services.sealing.mac import rating_mac
from backend.services.templates.catalogue import current_template
from backend.wiring import sealer, token_codec, vault
from tests.support.invitations import issue
from tests.support.release import release_all
from workers.queues import job_queue

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 21, 4, 30, tzinfo=UTC)
HOUR = NOW.replace(minute=0)
FULL_HASH = re.compile(r"[0-9a-f]{40,}")


def keyed(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def add(session, n: int, code: str = "C001", score: int = 10, hour: datetime = HOUR,
        ip: str | None = None, openid: str | None = None, seconds: int | None = 40) -> list[int]:
    """Insert counted event ratings of one batch hour with their abuse signals; return ids.

    The detectors read stored ratings only, so these are written directly (with their MACs).
    """
    seed(session)
    template = current_template(session, current_app.extensions["catalogue"], "service_event")
    cadre = session.scalar(select(Cadre).where(Cadre.code == code))
    rows = [Rating(cadre_id=cadre.id, rater_group="recipient", score=score, tags=[],
                   template_id=template.id, event_type="approval", batch_at=hour,
                   month=hour.astimezone(TZ).strftime("%Y-%m"), status="valid",
                   receipt_hash=keyed(secrets.token_hex(16))) for _ in range(n)]
    for row in rows:
        row.mac = rating_mac(sealer(), row)
    session.add_all(rows)
    session.flush()
    for row in rows:
        session.add(AbuseSignal(rating_id=row.id, ip_hash=keyed(ip or secrets.token_hex(8)),
                                agent_hash=keyed("ua"), openid_hash=keyed(openid) if openid
                                else None, seconds_on_page=seconds, created_at=NOW))
        counts.add_rating(session, cadre.id, row.month, "recipient", score, [])
    session.commit()
    return [row.id for row in rows]


def items(session, kind: str | None = None) -> list[ReviewItem]:
    query = select(ReviewItem).order_by(ReviewItem.id)
    return list(session.scalars(query.where(ReviewItem.kind == kind) if kind else query))


def no_identity(item: ReviewItem) -> bool:
    """Tell that an item shows no full keyed hash (let alone a raw address or openid)."""
    return not FULL_HASH.search(json.dumps(item.evidence) + item.subject + item.window)


def test_staff_stuffing_through_the_api_shows_up_and_exclusion_takes_it_out(app, client,
                                                                          session, runner):
    from workers.jobs.scores import run_publication

    tokens = [i["token"] for i in issue(30, prefix="STUFF")]
    opened = int(datetime.now(UTC).timestamp() * 1000)
    for n, token in enumerate(tokens):  # one office, top scores, no time to read
        body = {"score": 10, "opened_at": opened - 3_600_000}  # a client's clock: ignored
        if n % 2:  # half open the link first and send its stamp back at once
            body["stamp"] = client.get(f"/api/v1/invitations/{token}").json["stamp"]
        response = client.post(f"/api/v1/invitations/{token}/rating", json=body)
        assert response.status_code == 201
    release_all()  # one batch: its hour is the ratings' stored time
    now = datetime.now(UTC)
    fraud.detect(session, now, TZ)
    kinds = {item.kind for item in items(session)}
    assert {"burst", "address", "fast", "unstamped"} <= kinds
    assert all(no_identity(item) for item in items(session))
    (quick,) = items(session, "fast")
    assert len(quick.rating_ids) == 15  # only the stamped ones: their time is known
    (unstamped,) = items(session, "unstamped")
    assert unstamped.evidence["unstamped"] == 15 and unstamped.rating_ids == []
    (burst,) = items(session, "burst")
    assert burst.rating_ids == []  # an hour holds bystanders: it names none
    (address,) = items(session, "address")
    assert address.evidence["ratings"] == 30 and len(address.rating_ids) == 30
    month = now.astimezone(TZ).strftime("%Y-%m")
    run_publication(month)
    shown = runner.invoke(review_cli, ["list"])
    assert f"#{address.id}" in shown.output and "address" in shown.output
    done = runner.invoke(review_cli, ["exclude", str(address.id), "--reason", "同一地址批量好评",
                                      "--by", "auditor"])
    assert done.exit_code == 0, done.output
    assert "已排除 30 条" in done.output and f"已安排重新发布：{month}" in done.output
    assert session.scalar(select(func.sum(RatingCount.count))) == 0
    assert job_queue(app).run_due() >= 1  # the publication the decision queued
    session.rollback()
    cadre_id = session.get(Rating, address.rating_ids[0]).cadre_id
    document = session.scalar(select(ScoreSnapshot.document).where(
        ScoreSnapshot.cadre_id == cadre_id, ScoreSnapshot.superseded_at.is_(None)))
    assert document["groups"]["recipient"]["n"] == 0
    actions = session.scalars(select(AuditEntry.action)).all()
    assert actions.count("rating.exclude") == 30 and actions.count("review.exclude") == 1


def test_a_burst_is_measured_against_the_officials_own_baseline(app, session):
    baseline_hours = [HOUR - timedelta(days=8, hours=k) for k in range(10)]
    for hour in baseline_hours:
        add(session, 8, "C003", score=8, hour=hour)  # a busy window: 8 an hour is normal
    add(session, 20, "C003", hour=HOUR - timedelta(hours=2))
    spike = add(session, 45, "C003", hour=HOUR - timedelta(hours=1))
    add(session, 12, "C004")  # a quiet official: 12 in an hour stands out
    fraud.detect(session, NOW, TZ)
    found = {(i.cadre_id, i.evidence["ratings"]): i for i in items(session, "burst")}
    assert sorted(n for _, n in found) == [12, 45]
    big = next(i for (_, n), i in found.items() if n == 45)
    assert big.evidence["baseline_median"] == 8 and big.cadre_id == session.get(
        Rating, spike[0]).cadre_id
    assert big.rating_ids == []  # the hour's ratings are not all the burst's: none is named
    assert big.window == (HOUR - timedelta(hours=1)).astimezone(TZ).isoformat(timespec="minutes")


def test_one_openid_rating_many_officials_in_a_day_is_flagged(app, session):
    for code in ("C001", "C002", "C003", "C004", "C005"):
        add(session, 1, code, openid="wx-staff-1")
    add(session, 2, "C006", openid="wx-citizen")
    fraud.detect(session, NOW, TZ)
    (item,) = items(session, "openid")
    assert item.evidence["officials"] == 5 and item.evidence["ratings"] == 5
    assert item.evidence["hash"] == keyed("wx-staff-1")[:12] and no_identity(item)
    assert item.cadre_id is None


def test_submissions_faster_than_reading_are_flagged_per_official_and_day(app, session):
    quick = add(session, 3, "C002", seconds=2)
    add(session, 2, "C003", seconds=1)
    add(session, 5, "C004", seconds=30)
    fraud.detect(session, NOW, TZ)
    (item,) = items(session, "fast")
    assert item.rating_ids == quick and item.evidence["fastest_seconds"] == 2


def campaign_with_ballots(app, session, scores: list[int]) -> campaigns.Campaign:
    """Create a campaign over C001..C005 and submit one ballot per score, all targets alike."""
    seed(session)
    ctx = campaigns.CampaignContext(token_codec(app), vault(app), app.extensions["catalogue"],
                                    app.config["PUBLIC_BASE_URL"], TZ, datetime.now(UTC))
    targets = ("C001", "C002", "C003", "C004", "C005")
    raters = [AssignmentInput(RaterInput(f"R{n:02d}", f"评价人{n}", None), "subordinate",
                              targets) for n in range(len(scores))]
    data = CampaignInput("2026-Q4-RUN", "民主测评", "democratic_appraisal", "2026-Q4",
                         datetime.now(UTC) + timedelta(days=10), raters)
    campaign, links = campaigns.create_campaign(session, ctx, data)
    for link, score in zip(links, scores, strict=True):
        submit_ctx = ratings.SubmitContext(token_codec(app), sealer(app), TZ, datetime.now(UTC))
        rated = [RatedTarget(code, score, ()) for code in targets]
        ratings.submit(session, submit_ctx, link.token, Submission(rated),
                       ratings.ClientSignals())
    return campaign


def test_runs_of_identical_top_scores_in_a_campaign_are_flagged_at_release(app, session):
    campaign = campaign_with_ballots(app, session, [7, 10, 10, 10, 10, 10, 10, 10, 8])
    release_all()  # the one moment the order of submission is known
    (item,) = items(session, "campaign_run")
    assert item.campaign_id == campaign.id and len(item.rating_ids) == 35
    assert item.evidence["runs"] == [{"score": 10, "length": 35}]
    scores = set(session.scalars(select(Rating.score).where(Rating.id.in_(item.rating_ids))))
    assert scores == {10}


def ingest(app, session, source: str, code: str, count: int,
           event_type: str = "approval") -> None:
    """Report `count` service events of a type for an official from a source."""
    ctx = IngestContext(codec=token_codec(), vault=vault(), catalogue=app.extensions["catalogue"],
                        base_url=app.config["PUBLIC_BASE_URL"], tz=TZ, now=datetime.now(UTC),
                        sealer=sealer())
    occurred = datetime.now(UTC) - timedelta(minutes=30)
    events = [EventInput(source, f"{code}-{source}-{n}", code, event_type, occurred)
              for n in range(count)]
    outcomes, _ = ingest_events(session, ctx, events)
    assert {o.result for o in outcomes} == {Result.CREATED}


def test_an_unusual_share_of_events_from_one_source_is_flagged(app, session):
    seed(session)
    ingest(app, session, "counter-tablet", "C001", 20)
    for code in ("C002", "C003", "C004", "C005", "C006"):
        ingest(app, session, "approval-system", code, 20)
    fraud.detect(session, datetime.now(UTC), TZ)
    (item,) = items(session, "source_share")  # the others are alike: none of them stands out
    assert item.evidence["source"] == "counter-tablet" and item.evidence["share"] == 1.0
    assert item.evidence["peer_share"] == 0.0 and item.evidence["own_share"] is None
    assert item.rating_ids == []


def test_an_official_whose_work_is_mostly_one_event_type_keeps_that_types_source(app,
                                                                               session):
    """Approvals come from the approval system, visits from the field app, for everyone."""
    seed(session)
    for code in ("C002", "C003", "C004", "C005"):
        ingest(app, session, "approval-system", code, 10)
        ingest(app, session, "field-app", code, 10, "village_visit")
    ingest(app, session, "approval-system", "C006", 24)  # a desk official: approvals only
    ingest(app, session, "field-app", "C006", 1, "village_visit")
    fraud.detect(session, datetime.now(UTC), TZ)
    assert items(session, "source_share") == []


def test_running_detection_again_adds_nothing_new(app, session):
    add(session, 12, "C004", ip="10.0.0.8")
    first = fraud.detect(session, NOW, TZ)
    again = fraud.detect(session, NOW + timedelta(minutes=5), TZ)
    assert first.created >= 2 and again.created == 0
    assert len(items(session)) == first.created


def test_clearing_keeps_the_ratings_and_is_audited(app, session):
    ids = add(session, 12, "C004")
    fraud.detect(session, NOW, TZ)
    (item,) = items(session, "burst")
    with pytest.raises(InvalidInput):
        review.decide(session, sealer(), item.id, "clear", " ", "auditor", NOW)
    decision = review.decide(session, sealer(), item.id, "clear", "窗口办理集中时段", "auditor",
                             NOW)
    assert decision.item.state == "cleared" and decision.item.decided_by == "auditor"
    assert set(session.scalars(select(Rating.status).where(Rating.id.in_(ids)))) == {"valid"}
    entry = session.scalar(select(AuditEntry).where(AuditEntry.action == "review.clear"))
    assert entry.details["reason"] == "窗口办理集中时段" and entry.target == f"review:{item.id}"
    with pytest.raises(Conflict):
        review.decide(session, sealer(), item.id, "exclude", "改判", "auditor", NOW)


def test_excluding_skips_ratings_already_excluded(app, session):
    ids = add(session, 12, "C004", ip="10.0.0.8")
    fraud.detect(session, NOW, TZ)
    (item,) = items(session, "address")
    change_status(session, sealer(), ids[0], True, "单独排除", "auditor", NOW)
    decision = review.decide(session, sealer(), item.id, "exclude", "集中刷分", "auditor", NOW)
    assert (decision.excluded, decision.skipped, decision.months) == (11, 1, {"2026-11"})
    assert session.scalar(select(func.sum(RatingCount.count))) == 0
