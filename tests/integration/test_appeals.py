"""Appeals (申诉复核): a unit contests a rating by its case; excluding takes two org admins;
the rating stays in the ledger; the period is republished, pushing only changed documents —
on SQLite and PostgreSQL."""

from __future__ import annotations

import secrets
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from backend import wiring
from backend.errors import Conflict, Forbidden, InvalidInput, NotFound
from backend.models import (
    Appeal,
    AuditEntry,
    Cadre,
    Case,
    CaseEvent,
    Rating,
    RatingCount,
    ScoreSnapshot,
    TwoPersonDecision,
    WebhookMessage,
)
from backend.services import cases
from backend.services.cases import appeals
from backend.services.fraud import stale_periods
from backend.services.ledger.chain import verify
from backend.services.ratings import submission as ratings
from backend.services.ratings.rules import RatedTarget, Submission
from backend.storage.transactions import begin_write
from tests.support.invitations import issue
from tests.support.ledger import DAY1, TZ, release_at, submit_ratings
from workers.jobs.scores import queue_republication, run_publication
from workers.queues import job_queue

LATER = DAY1 + timedelta(days=1)
FIRST = cases.Actor("org-admin-1", "org_admin")
SECOND = cases.Actor("org-admin-2", "org_admin")


def submit_for(session, code: str, count: int, score: int) -> None:
    """Submit `count` ratings of another official at DAY1."""
    tokens = [i["token"] for i in issue(count, cadre_code=code, prefix=secrets.token_hex(4))]
    ctx = ratings.SubmitContext(wiring.token_codec(), wiring.sealer(), TZ, DAY1)
    for token in tokens:
        ratings.submit(session, ctx, token, Submission([RatedTarget(None, score, ())]),
                       ratings.ClientSignals())


def world(session) -> Case:
    """C001: one bad rating (a case) among eleven good ones; C002: twelve good ones."""
    submit_ratings(session, 1, DAY1, score=1)
    submit_ratings(session, 11, DAY1, score=9)
    submit_for(session, "C002", 12, 8)
    release_at(session, DAY1)
    session.commit()
    return session.scalars(select(Case)).one()


def unit_admin(session, code: str = "C001") -> cases.Actor:
    unit_id = session.scalar(select(Cadre.unit_id).where(Cadre.code == code))
    return cases.Actor("town-admin", "unit_admin", frozenset({unit_id}))


def file(session, case: Case, **form) -> Appeal:
    body = {"reason": "malicious", "text": "评价人与窗口发生私人纠纷，所述事项并未发生。",
            "evidence": "窗口录像编号 2026-11-18-03"} | form
    appeal = appeals.file_appeal(session, case, unit_admin(session), LATER, **body)
    session.commit()
    return appeal


def decide(session, appeal: Appeal, actor: cases.Actor, decision: str = "uphold",
           note: str = "经核实属恶意评价") -> appeals.AppealOutcome:
    """Decide as a console request does: write lock, the appeal locked, commit."""
    begin_write(session)
    locked = appeals.get_appeal(session, appeal.id, actor, lock=True)
    outcome = appeals.decide(session, wiring.sealer(), locked, actor, LATER, decision, note)
    session.commit()
    return outcome


def published(session, code: str) -> dict:
    return session.scalar(select(ScoreSnapshot.document).join(
        Cadre, Cadre.id == ScoreSnapshot.cadre_id).where(
        Cadre.code == code, ScoreSnapshot.superseded_at.is_(None)))


def pushes(session) -> list[str]:
    return [m.payload["data"]["cadre_code"] for m in session.scalars(
        select(WebhookMessage).where(WebhookMessage.type == "score.published")
        .order_by(WebhookMessage.id))]


def test_two_admins_exclude_the_rating_and_only_the_changed_score_is_pushed(app, session,
                                                                            client, make_key):
    case = world(session)
    run_publication("2026-11")
    before = published(session, "C001")
    assert before["groups"]["recipient"]["n"] == 12
    first_pushes = pushes(session)
    assert {"C001", "C002"} <= set(first_pushes)
    appeal = file(session, case)
    assert appeal.status == "pending" and appeal.case_id == case.id

    first = decide(session, appeal, FIRST)
    assert not first.final and first.months == set() and appeal.status == "confirming"
    assert session.get(Rating, case.rating_id).status == "valid"  # one admin is not enough
    with pytest.raises(Conflict, match="另一名组织部管理员"):
        decide(session, appeal, FIRST)
    session.rollback()
    assert appeal.status == "confirming"

    second = decide(session, appeal, SECOND)
    assert second.final and second.months == {"2026-11"} and appeal.status == "upheld"
    rating = session.get(Rating, case.rating_id)
    assert rating.status == "excluded" and "申诉" in rating.excluded_reason
    assert rating.excluded_by == "org-admin-2"  # the ledger keeps it, with its status
    assert session.scalar(select(func.sum(RatingCount.count)).where(
        RatingCount.cadre_id == case.cadre_id)) == 11
    assert verify(session, wiring.sealer()).ok

    periods = stale_periods(session, second.months)
    assert periods == ["2026-11"]
    queue_republication(periods)
    assert job_queue(app).run_due() >= 1
    session.rollback()
    after = published(session, "C001")
    assert after["groups"]["recipient"]["n"] == 11
    assert before["groups"]["recipient"]["dissatisfaction"] > 0
    assert after["groups"]["recipient"]["dissatisfaction"] == 0
    # One push, for the one document that changed (C002 and the others did not).
    assert pushes(session)[len(first_pushes):] == ["C001"]

    headers = make_key("cases:read")
    assert client.get(f"/api/v1/cases/{case.id}", headers=headers).json["appeal"] == {
        "status": "upheld"}
    listed = client.get("/api/v1/cases", headers=headers).json["items"]
    assert listed[0]["appeal"] == {"status": "upheld"}
    assert "town-admin" not in str(listed) and "org-admin" not in str(listed)

    decision = session.scalars(select(TwoPersonDecision)).one()
    assert (decision.subject, decision.first_by, decision.second_by, decision.state) == (
        f"appeal:{appeal.id}", "org-admin-1", "org-admin-2", "done")
    audited = session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)).all()
    assert [a for a in audited if a.startswith(("appeal.", "four_eyes.", "rating."))] == [
        "appeal.file", "four_eyes.first", "appeal.approve", "four_eyes.second",
        "rating.exclude", "appeal.uphold"]
    steps = session.scalars(select(CaseEvent.action).where(CaseEvent.case_id == case.id)
                            .order_by(CaseEvent.id)).all()
    assert steps == ["open", "appeal", "appeal_approve", "appeal_uphold"]


def test_a_rejected_appeal_keeps_the_rating_and_withdraws_the_pending_approval(session):
    case = world(session)
    appeal = file(session, case, reason="objective", evidence="")
    assert appeal.evidence is None
    decide(session, appeal, FIRST)
    outcome = decide(session, appeal, SECOND, "reject", "理由不足，评价属实")
    assert outcome.final and outcome.months == set() and appeal.status == "rejected"
    assert appeal.decided_by == "org-admin-2" and appeal.decision_note == "理由不足，评价属实"
    assert session.get(Rating, case.rating_id).status == "valid"
    assert session.scalars(select(TwoPersonDecision.state)).one() == "withdrawn"
    for actor, decision in ((FIRST, "uphold"), (SECOND, "reject"), (FIRST, "reject")):
        with pytest.raises(Conflict, match="已复核完毕"):
            decide(session, appeal, actor, decision)
        session.rollback()
    assert appeal.status == "rejected" and session.get(Rating, case.rating_id).status == "valid"


def test_one_admin_can_reject_without_a_second(session):
    case = world(session)
    appeal = file(session, case, reason="not_theirs")
    outcome = decide(session, appeal, FIRST, "reject", "经核实为本人经办事项")
    assert outcome.final and appeal.status == "rejected"
    assert session.scalar(select(func.count()).select_from(TwoPersonDecision)) == 0


def test_an_upheld_appeal_on_a_rating_excluded_meanwhile_excludes_nothing_again(session):
    case = world(session)
    appeal = file(session, case)
    decide(session, appeal, FIRST)
    from backend.services.fraud import change_status

    change_status(session, wiring.sealer(), case.rating_id, True, "防刷复核", "auditor", LATER)
    outcome = decide(session, appeal, SECOND)
    assert outcome.final and outcome.months == set() and appeal.status == "upheld"
    assert session.get(Rating, case.rating_id).excluded_by == "auditor"


def appeal_state(session) -> tuple:
    session.expire_all()
    return (session.scalar(select(func.count()).select_from(Appeal)),
            session.scalar(select(func.count()).select_from(CaseEvent)),
            session.scalar(select(func.count()).select_from(AuditEntry)))


def test_bad_appeals_are_refused_in_chinese_and_change_nothing(session):
    case = world(session)
    town = unit_admin(session)
    stranger = unit_admin(session, "C002")
    viewer = cases.Actor("viewer", "viewer", None)
    before = appeal_state(session)
    good = {"reason": "malicious", "text": "所述事项并未发生"}
    attempts = [
        (InvalidInput, "申诉理由无效", town, good | {"reason": "revenge"}),
        (InvalidInput, "请填写申诉说明", town, good | {"text": "   "}),
        (InvalidInput, "过长", town, good | {"text": "长" * 2001}),
        (InvalidInput, "过长", town, good | {"evidence": "长" * 2001}),
        (Forbidden, "所在单位的管理员", stranger, good),
        (Forbidden, "所在单位的管理员", FIRST, good),
        (Forbidden, "所在单位的管理员", viewer, good),
    ]
    for error, message, actor, form in attempts:
        with pytest.raises(error, match=message):
            appeals.file_appeal(session, case, actor, LATER, **form)
        session.rollback()
        assert appeal_state(session) == before
    appeal = file(session, case)
    with pytest.raises(Conflict, match="不能重复申诉"):
        appeals.file_appeal(session, case, town, LATER, **good)
    session.rollback()
    before = appeal_state(session)
    for error, message, actor, decision, note in [
        (Forbidden, "组织部管理员", town, "uphold", "同意"),
        (Forbidden, "组织部管理员", viewer, "reject", "驳回"),
        (InvalidInput, "复核决定无效", FIRST, "delete", "删除"),
        (InvalidInput, "请填写复核意见", FIRST, "uphold", "  "),
    ]:
        with pytest.raises(error, match=message):
            appeals.decide(session, wiring.sealer(), appeal, actor, LATER, decision, note)
        session.rollback()
        assert appeal_state(session) == before
    assert session.get(Appeal, appeal.id).status == "pending"


def test_an_appeal_is_seen_only_within_the_case_scope(session):
    case = world(session)
    appeal = file(session, case)
    assert appeals.get_appeal(session, appeal.id, unit_admin(session)).id == appeal.id
    with pytest.raises(NotFound):
        appeals.get_appeal(session, appeal.id, unit_admin(session, "C002"))
    with pytest.raises(NotFound):
        appeals.get_appeal(session, appeal.id, cases.Actor("纪检", "discipline"))
    mine = appeals.list_appeals(session, unit_admin(session).units, None)
    theirs = appeals.list_appeals(session, unit_admin(session, "C002").units, None)
    assert [a.id for a in mine] == [appeal.id] and theirs == []


def test_only_a_rating_case_can_be_appealed(session):
    case = world(session)
    case.source, rating_id = "flag", case.rating_id
    with pytest.raises(Conflict, match="来自评价"):
        appeals.file_appeal(session, case, unit_admin(session), LATER, reason="objective",
                            text="客观原因")
    session.rollback()
    from backend.services.fraud import change_status

    change_status(session, wiring.sealer(), rating_id, True, "防刷复核", "auditor", LATER)
    with pytest.raises(Conflict, match="已被剔除"):
        appeals.file_appeal(session, session.get(Case, case.id), unit_admin(session), LATER,
                            reason="objective", text="客观原因")
