"""Cases (整改单): opened at release from bad ratings, worked through their states, answered
to the rater, escalated when late, reopened by 回头看 — on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from backend import errors as cases_errors
from backend import wiring
from backend.errors import Conflict, Forbidden, InvalidInput
from backend.extensions import db
from backend.models import (
    Alert,
    AuditEntry,
    Cadre,
    Case,
    CaseEvent,
    Invitation,
    Rating,
    WebhookMessage,
)
from backend.services import cases
from backend.services.alerts import raise_alert
from backend.services.cases import watch
from backend.services.cases.opening import CaseRules, open_for_flags
from backend.services.ratings import submission as ratings
from backend.services.ratings.rules import RatedTarget, Submission
from tests.support.invitations import issue
from tests.support.ledger import DAY1, TZ, rating_ids, release_at, submit_ratings

# What a case may hold: the official, the unit, its state and the officials' answer. A column
# added here must not identify the rater (see docs/threat-model.md).
CASE_COLUMNS = {"id", "key", "source", "cadre_id", "unit_id", "rating_id", "flag", "period",
                "assignee_role", "status", "due_at", "created_at", "updated_at", "reply",
                "measures", "callback", "closed_at", "closed_on_time", "hours_to_close",
                "recheck_due", "reopened", "escalated_at", "verdict",
                # a rater's own report to 纪检, and the phone they chose to leave (encrypted)
                "report_kind", "report_text", "contact_enc"}


def bad_case(session, score: int = 3) -> tuple[Case, str]:
    """Submit one bad rating and two good ones, release at DAY1; return the case and receipt."""
    (receipt,) = submit_ratings(session, 1, DAY1, score=score)
    submit_ratings(session, 2, DAY1, score=9)
    assert session.scalar(select(func.count()).select_from(Case)) == 0  # nothing before release
    release_at(session, DAY1)
    (case,) = session.scalars(select(Case)).all()
    return case, receipt


def unit_admin(session) -> cases.Actor:
    unit_id = session.scalar(select(Cadre.unit_id).where(Cadre.code == "C001"))
    return cases.Actor("unit-admin", "unit_admin", frozenset({unit_id}))


ORG = cases.Actor("org-admin", "org_admin")
LATER = DAY1 + timedelta(days=1)


def test_a_bad_rating_opens_one_case_at_release_with_nothing_of_the_rater(session):
    case, receipt = bad_case(session)
    (rating_id,) = rating_ids(session, [receipt])
    assert case.rating_id == rating_id and case.source == "rating" and case.status == "open"
    assert case.cadre.code == "C001" and case.unit_id == case.cadre.unit_id
    assert case.assignee_role == "unit_admin" and case.period == "2026-11"
    # Opened at the batch's hour, like the rating: no submission time to match.
    assert case.created_at == DAY1.replace(minute=0, second=0, microsecond=0)
    # Wednesday 18 November + 5 working days = Wednesday 25 November, end of day in Shanghai.
    assert case.due_at == datetime(2026, 11, 25, 23, 59, 59, tzinfo=TZ).astimezone(UTC)
    assert {c.name for c in Case.__table__.columns} == CASE_COLUMNS
    tokens = {i.token for i in session.scalars(select(Invitation))}
    stored = {str(getattr(case, c)) for c in CASE_COLUMNS}
    assert not stored & tokens and receipt not in " ".join(stored)
    assert [e.action for e in case.events] == ["open"]


def test_a_serious_tag_opens_a_case_whatever_the_score(session):
    token = issue(1, prefix="serious")[0]["token"]
    ctx = ratings.SubmitContext(wiring.token_codec(), wiring.sealer(), TZ, DAY1)
    ratings.submit(session, ctx, token, Submission([RatedTarget(None, 9, ("吃拿卡要",))]),
                   ratings.ClientSignals())
    submit_ratings(session, 2, DAY1, score=9)
    release_at(session, DAY1)
    (case,) = session.scalars(select(Case)).all()
    assert case.rating.score == 9 and case.rating.tags == ["吃拿卡要"]


def test_the_threshold_comes_from_the_rules(session):
    submit_ratings(session, 2, DAY1, score=5)
    ctx = replace(wiring.release_context(), now=DAY1, case_rules=CaseRules(bad_max=5))
    from backend.services.ratings.release import release

    release(session, ctx, force=True)
    assert session.scalar(select(func.count()).select_from(Case)) == 2


def test_the_whole_loop_and_the_rater_sees_the_answer(session, client):
    case, receipt = bad_case(session)
    session.commit()
    admin = unit_admin(session)
    assert client.get(f"/api/v1/receipts/{receipt}").json["case"]["status_label"] == "已受理"
    cases.accept(session, case, admin, LATER)
    session.commit()
    assert client.get(f"/api/v1/receipts/{receipt}").json["case"] == {
        "status": "in_progress", "status_label": "整改中"}
    cases.submit(session, case, admin, LATER, reply="已约谈窗口人员并优化流程。",
                 measures="窗口增设引导员", callback="no_consent")
    cases.send_back(session, case, ORG, LATER, note="请补充整改照片")
    assert case.status == "returned"
    cases.accept(session, case, admin, LATER)
    cases.submit(session, case, admin, LATER, reply="已约谈窗口人员并优化流程。",
                 measures="窗口增设引导员，附照片", callback="no_consent")
    cases.approve(session, case, ORG, LATER, CaseRules())
    session.commit()
    assert case.status == "closed" and case.recheck_due == LATER + timedelta(days=30)
    answer = client.get(f"/api/v1/receipts/{receipt}").json["case"]
    assert answer == {"status": "closed", "status_label": "已办结",
                      "reply": "已约谈窗口人员并优化流程。", "verdict": None}
    page = client.get(f"/receipt/{receipt}").get_data(as_text=True)
    assert "已办结" in page and "已约谈窗口人员并优化流程。" in page
    said = client.post(f"/api/v1/receipts/{receipt}/verdict", json={"verdict": "satisfied"})
    assert said.status_code == 200 and said.json["verdict"] == "satisfied"
    again = client.post(f"/api/v1/receipts/{receipt}/verdict", json={"verdict": "unsatisfied"})
    assert again.status_code == 409 and "重复" in again.json["message"]
    assert db.session.get(Case, case.id).verdict == "satisfied"
    actions = [e.action for e in session.scalars(select(CaseEvent).order_by(CaseEvent.id))]
    assert actions == ["open", "accept", "submit", "return", "accept", "submit", "approve",
                       "verdict"]
    audited = session.scalars(select(AuditEntry.action).where(
        AuditEntry.target == f"case:{case.id}")).all()
    assert audited == ["case.accept", "case.submit", "case.return", "case.accept",
                       "case.submit", "case.approve"]
    (pushed,) = session.scalars(select(WebhookMessage).where(
        WebhookMessage.type == "case.closed")).all()
    data = pushed.payload["data"]
    assert data["cadre_code"] == "C001" and data["on_time"] and data["status"] == "closed"
    assert data["reply"] == "已约谈窗口人员并优化流程。" and receipt not in json.dumps(data)


def snapshot(session, case: Case) -> tuple:
    session.refresh(case)
    events = session.scalar(select(func.count()).select_from(CaseEvent))
    return (case.status, case.due_at, case.reply, case.measures, case.callback, events)


def test_every_refusal_is_chinese_and_changes_nothing(session):
    case, _ = bad_case(session)
    session.commit()
    admin = unit_admin(session)
    stranger = cases.Actor("other-unit", "unit_admin", frozenset({-1}))
    before = snapshot(session, case)
    attempts = [
        (Forbidden, lambda: cases.accept(session, case, ORG, LATER)),
        (Forbidden, lambda: cases.accept(session, case, stranger, LATER)),
        (Forbidden, lambda: cases.approve(session, case, admin, LATER, CaseRules())),
        (Conflict, lambda: cases.approve(session, case, ORG, LATER, CaseRules())),
        (Conflict, lambda: cases.submit(session, case, admin, LATER, reply="好", measures="好",
                                        callback="no_consent")),
        (InvalidInput, lambda: cases.set_due(session, case, ORG, LATER, date(2026, 11, 1), TZ,
                                             "提前")),
        (InvalidInput, lambda: cases.set_due(session, case, ORG, LATER, date(2026, 12, 1), TZ,
                                             "  ")),
        (Forbidden, lambda: cases.set_due(session, case, admin, LATER, date(2026, 12, 1), TZ,
                                          "延期")),
        (Conflict, lambda: cases.record_verdict(session, case, "satisfied", LATER)),
    ]
    for error, attempt in attempts:
        with pytest.raises(error) as caught:
            attempt()
        assert any("\u4e00" <= ch <= "\u9fff" for ch in caught.value.message)
        session.rollback()
        assert snapshot(session, case) == before
    cases.accept(session, case, admin, LATER)
    for kwargs, error in [
        ({"reply": " ", "measures": "做了", "callback": "no_consent"}, "请填写答复"),
        ({"reply": "答复", "measures": "做了", "callback": "phoned"}, "回访结果无效"),
        ({"reply": "答复", "measures": "做了", "callback": "reached"}, "未同意回访"),
        ({"reply": "长" * 2001, "measures": "做了", "callback": "no_consent"}, "过长"),
    ]:
        with pytest.raises(InvalidInput, match=error):
            cases.submit(session, case, admin, LATER, **kwargs)
    assert case.status == "in_progress" and case.reply is None


def test_a_deadline_moves_to_a_future_day_with_a_reason(session):
    case, _ = bad_case(session)
    cases.set_due(session, case, ORG, LATER, date(2026, 12, 4), TZ, "涉及多部门，延期")
    assert case.due_at == datetime(2026, 12, 4, 23, 59, 59, tzinfo=TZ).astimezone(UTC)
    assert case.events[-1].action == "due" and "延期" in case.events[-1].note


def test_an_overdue_case_escalates_once_with_an_alert(session):
    case, _ = bad_case(session)
    session.commit()
    report = watch.run(session, case.due_at - timedelta(seconds=1), CaseRules(), TZ)
    assert report.escalated == 0
    report = watch.run(session, case.due_at + timedelta(seconds=1), CaseRules(), TZ)
    session.commit()
    assert report.escalated == 1 and case.escalated_at is not None
    alert = session.scalar(select(Alert).where(Alert.type == "case_overdue"))
    assert alert.cadre_id == case.cadre_id and alert.details == {"cases": [case.id]}
    assert watch.run(session, case.due_at + timedelta(days=1), CaseRules(), TZ).escalated == 0


def close(session, case: Case) -> None:
    admin = unit_admin(session)
    cases.accept(session, case, admin, LATER)
    cases.submit(session, case, admin, LATER, reply="已整改", measures="措施",
                 callback="no_consent")
    cases.approve(session, case, ORG, LATER, CaseRules())
    session.commit()


@pytest.mark.parametrize("december_score, reopened", [(2, True), (9, False)])
def test_recheck_reopens_only_when_bad_ratings_did_not_fall(session, december_score, reopened):
    case, _ = bad_case(session)  # November: 1 bad of 3
    close(session, case)
    december = datetime(2026, 12, 10, 2, tzinfo=UTC)
    submit_ratings(session, 3, december, score=december_score)
    release_at(session, december)
    report = watch.run(session, case.recheck_due, CaseRules(), TZ)
    session.commit()
    assert report.rechecked == 1 and report.reopened == int(reopened)
    session.refresh(case)
    if reopened:
        assert case.status == "in_progress" and case.reopened == 1
        assert "未下降" in case.events[-1].note
    else:
        assert case.status == "closed" and case.recheck_due is None
        assert "已改善" in case.events[-1].note
    assert watch.run(session, case.recheck_due or LATER, CaseRules(), TZ).rechecked == 0


def test_flags_open_one_case_per_official_and_period(session):
    issue(1)
    cadre_id = session.scalar(select(Cadre.id).where(Cadre.code == "C001"))
    flagged = [(cadre_id, "2026-11", ("warning_talk", "low_sample"))]
    assert open_for_flags(session, flagged, CaseRules(), TZ, LATER) == 1
    assert open_for_flags(session, flagged, CaseRules(), TZ, LATER) == 0
    (case,) = session.scalars(select(Case)).all()
    assert case.source == "flag" and case.flag == "warning_talk" and case.rating_id is None


def test_the_clock_opens_cases_for_alerts_publication_raised(session):
    issue(1)
    cadre_id = session.scalar(select(Cadre.id).where(Cadre.code == "C001"))
    for flag in ("reassignment_review", "low_sample"):
        raise_alert(session, flag, cadre_id, "2026-Q4", {}, LATER)
    session.commit()
    watch.run(session, LATER, CaseRules(), TZ)
    watch.run(session, LATER, CaseRules(), TZ)  # once per alert, however often it runs
    (case,) = session.scalars(select(Case)).all()
    assert (case.flag, case.period, case.cadre_id) == ("reassignment_review", "2026-Q4", cadre_id)


def test_the_api_lists_cases_for_clients_with_the_scope(session, client, make_key):
    case, _ = bad_case(session)
    session.commit()
    key = make_key("cases:read")
    listed = client.get("/api/v1/cases?status=open&unit=" + case.unit.code, headers=key)
    assert listed.status_code == 200
    (item,) = listed.json["items"]
    assert item["id"] == case.id and item["cadre_code"] == "C001" and item["source"] == "rating"
    assert set(item) == {"id", "cadre_code", "unit_code", "source", "status", "due_at",
                         "created_at"}
    assert client.get(f"/api/v1/cases/{case.id}", headers=key).json["id"] == case.id
    assert client.get("/api/v1/cases?status=closed", headers=key).json["items"] == []
    assert client.get("/api/v1/cases", headers=make_key("scores:read")).status_code == 403
    assert client.get("/api/v1/cases").status_code == 401
    for path, status in [(f"/api/v1/cases/{case.id + 1}", 404),
                         ("/api/v1/cases/" + "9" * 30, 404),
                         ("/api/v1/cases?unit=NOPE", 404), ("/api/v1/cases?status=done", 422),
                         ("/api/v1/cases?limit=0", 422), ("/api/v1/cases?before=-1", 422),
                         ("/api/v1/cases?unit=A%00B", 422)]:
        answer = client.get(path, headers=key)
        assert answer.status_code == status, path
        assert any("\u4e00" <= ch <= "\u9fff" for ch in answer.json["message"]), path


def test_a_rating_without_a_case_shows_none_on_its_receipt(session, client):
    (receipt,) = submit_ratings(session, 1, DAY1, score=9)
    release_at(session, DAY1)
    session.commit()
    assert "case" not in client.get(f"/api/v1/receipts/{receipt}").json
    answer = client.post(f"/api/v1/receipts/{receipt}/verdict", json={"verdict": "satisfied"})
    assert answer.status_code == 404
    assert session.scalar(select(func.count()).select_from(Rating)) == 1


def test_a_report_of_pressure_reaches_the_discipline_side_only(session, client, make_key):
    (receipt,) = submit_ratings(session, 1, DAY1, score=9)
    (waiting,) = submit_ratings(session, 1, DAY1, score=9)
    release_at(session, DAY1)
    (pending,) = submit_ratings(session, 1, LATER, score=9)  # not yet released
    session.commit()
    sent = client.post(f"/api/v1/receipts/{receipt}/reports", json={
        "kind": "pressure", "text": "窗口人员盯着我打分", "phone": "138-0013-8000"})
    assert sent.status_code == 201 and sent.json == {"status": "received"}
    (report,) = session.scalars(select(Case).where(Case.source == "report")).all()
    assert report.assignee_role == "discipline" and report.cadre.code == "C001"
    assert report.rating_id is None and "13800138000" not in (report.contact_enc or "")
    assert wiring.vault().decrypt(report.contact_enc) == "13800138000"
    unit_id = report.unit_id
    for who in (cases.Actor("u", "unit_admin", frozenset({unit_id})), ORG,
                cases.Actor("v", "viewer"), cases.Actor("a", "auditor")):
        with pytest.raises(cases_errors.NotFound):
            cases.get_case(session, report.id, who)
    assert cases.get_case(session, report.id, cases.Actor("j", "discipline")) is report
    assert client.get("/api/v1/cases", headers=make_key("cases:read")).json["items"] == []
    assert client.get(f"/api/v1/cases/{report.id}",
                      headers=make_key("cases:read")).status_code == 404
    early = client.post(f"/api/v1/receipts/{pending}/reports",
                        json={"kind": "retaliation", "text": "事后被约谈"})
    assert early.status_code == 201
    assert session.scalar(select(func.count()).select_from(Case)) == 2
    for body, field in [({"kind": "rumour", "text": "x"}, "kind"),
                        ({"kind": "other", "text": ""}, "text"),
                        ({"kind": "other", "text": "x", "phone": "12345"}, "phone"),
                        ({"kind": "other", "text": "长" * 1001}, "text")]:
        refused = client.post(f"/api/v1/receipts/{waiting}/reports", json=body)
        assert refused.status_code == 422 and field in refused.json["errors"], body
    assert client.post("/api/v1/receipts/" + "0" * 32 + "/reports",
                       json={"kind": "other", "text": "x"}).status_code == 404
    assert session.scalar(select(func.count()).select_from(Case)) == 2


def test_the_discipline_side_closes_its_reports_and_nothing_is_pushed(session):
    (receipt,) = submit_ratings(session, 1, DAY1, score=9)
    release_at(session, DAY1)
    report = cases.file_report(session, rating_ids(session, [receipt]), "retaliation",
                               "评价后被刁难", None, wiring.vault(), CaseRules(), TZ, LATER)
    jijian = cases.Actor("jijian", "discipline")
    with pytest.raises(Forbidden):
        cases.accept(session, report, unit_admin(session), LATER)
    cases.accept(session, report, jijian, LATER)
    cases.submit(session, report, jijian, LATER, reply="已核查处理", measures="已立案核查",
                 callback="no_consent")
    with pytest.raises(Forbidden):
        cases.approve(session, report, ORG, LATER, CaseRules())
    cases.approve(session, report, jijian, LATER, CaseRules())
    assert report.status == "closed"
    assert session.scalar(select(func.count()).select_from(WebhookMessage)) == 0
