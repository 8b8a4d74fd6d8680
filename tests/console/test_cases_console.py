"""The cases console: the inbox per role, a case's page, its steps; refusals change nothing."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from werkzeug.security import generate_password_hash

from backend.extensions import db
from backend.models import Case, ConsoleUser
from tests.console.world import PASSWORD, csrf_of, form_token, https_client, sign_in
from tests.support.ledger import DAY1, release_at, submit_ratings


def bad_case() -> Case:
    """Release one bad rating of C001 (城关镇, the unit admin's unit); return its case."""
    submit_ratings(db.session, 1, DAY1, score=2)
    release_at(db.session, DAY1)
    db.session.commit()
    return db.session.scalars(select(Case).order_by(Case.id.desc()).limit(1)).one()


def post(client, path: str, **form):
    token = csrf_of(client.get(path.rsplit("/", 1)[0]).get_data(as_text=True))
    return client.post(path, data={"csrf_token": token, **form})


def status(case_id: int) -> str:
    db.session.expire_all()
    return db.session.get(Case, case_id).status


def test_the_loop_through_the_console(app, world, signed_in):
    case = bad_case()
    town, org = signed_in("unit_admin"), signed_in("org_admin")
    inbox = town.get("/console/cases").get_data(as_text=True)
    assert "整改单" in inbox and f"/console/cases/{case.id}" in inbox and "待受理" in inbox
    page = town.get(f"/console/cases/{case.id}").get_data(as_text=True)
    # One recipient that month (minimum 10): the score, tags and comment are withheld.
    assert "分数、标签和意见不予显示" in page and "评分：2 分" not in page
    assert "受理并开始整改" in page
    base = f"/console/cases/{case.id}"
    assert post(town, base + "/accept").status_code == 303 and status(case.id) == "in_progress"
    assert post(town, base + "/submit", measures="窗口增设引导员", reply="已整改，感谢监督",
                callback="no_consent").status_code == 303
    assert status(case.id) == "awaiting_acceptance"
    returned = post(org, base + "/return", note="请补充照片")
    assert returned.status_code == 303 and status(case.id) == "returned"
    post(town, base + "/accept")
    post(town, base + "/submit", measures="引导员已上岗，附照片", reply="已整改，感谢监督",
         callback="no_consent")
    # The deadline (25 November) has passed: the org admin grants more time, with a reason.
    later = (datetime.now(UTC) + timedelta(days=10)).date().isoformat()
    assert "逾期" in org.get("/console/cases").get_data(as_text=True)
    assert post(org, base + "/due", due=later, note="涉及多部门").status_code == 303
    assert post(org, base + "/approve").status_code == 303 and status(case.id) == "closed"
    closed = org.get(base).get_data(as_text=True)
    assert "已办结" in closed and "引导员已上岗" in closed and "请补充照片" in closed
    sla = org.get("/console/cases?status=closed").get_data(as_text=True)
    assert "各单位办理情况" in sla and "100%" in sla
    csv = org.get("/console/cases/export.csv?status=all")
    assert csv.status_code == 200 and "C001" in csv.get_data(as_text=True)


def test_other_units_and_readers_cannot_act(app, world, signed_in):
    case = bad_case()
    base = f"/console/cases/{case.id}"
    village = https_client(app)
    assert sign_in(village, "village").status_code == 302
    assert f"{base}\"" not in village.get("/console/cases?status=all").get_data(as_text=True)
    assert village.get(base).status_code == 404
    assert village.post(base + "/accept", data={
        "csrf_token": form_token(village, "/console/cases")}).status_code == 404
    viewer = signed_in("viewer")
    assert viewer.get(base).status_code == 200
    assert viewer.post(base + "/accept", data={
        "csrf_token": form_token(viewer, "/console/cases")}).status_code == 403
    assert signed_in("auditor").get(base).status_code == 403
    assert status(case.id) == "open"


def test_a_refused_step_says_why_in_chinese_and_changes_nothing(app, world, signed_in):
    case = bad_case()
    town, org = signed_in("unit_admin"), signed_in("org_admin")
    base = f"/console/cases/{case.id}"
    for client, step, form, message in [
        (town, "/approve", {}, "只有组织部管理员"),
        (org, "/accept", {}, "只有承办单位"),
        (org, "/due", {"due": "2020-01-01", "note": "提前"}, "期限不能早于现在"),
        (org, "/due", {"due": "明天", "note": "延期"}, "YYYY-MM-DD"),
        (town, "/submit", {"measures": "x", "reply": "y", "callback": "no_consent"},
         "不能提交验收"),
    ]:
        answer = post(client, base + step, **form)
        assert answer.status_code == 303, step
        shown = client.get(base).get_data(as_text=True)
        assert message in shown, (step, re.findall(r'class="flash[^"]*"[^>]*>([^<]*)', shown))
        assert status(case.id) == "open"


def test_a_report_is_seen_and_handled_by_the_discipline_side_alone(app, world, signed_in):
    (receipt,) = submit_ratings(db.session, 1, DAY1, score=9)
    release_at(db.session, DAY1)
    db.session.commit()
    rater = https_client(app)
    token = csrf_of(rater.get(f"/receipt/{receipt}").get_data(as_text=True))
    thanks = rater.post(f"/receipt/{receipt}/report", data={
        "csrf_token": token, "kind": "retaliation", "text": "评价后被窗口负责人约谈",
        "phone": "13900139000"})
    assert thanks.status_code == 200 and "已直接转交纪检监察部门" in thanks.get_data(as_text=True)
    refused = rater.post(f"/receipt/{receipt}/report", data={
        "csrf_token": token, "kind": "retaliation", "text": " "})
    assert refused.status_code == 422 and "请说明遇到的情况" in refused.get_data(as_text=True)
    report = db.session.scalars(select(Case).where(Case.source == "report")).one()
    db.session.add(ConsoleUser(username="jijian", role="discipline",
                               password_hash=generate_password_hash(PASSWORD)))
    db.session.commit()
    jijian = https_client(app)
    landed = sign_in(jijian, "jijian")
    assert landed.status_code == 302 and landed.headers["Location"].endswith("/console/cases")
    inbox = jijian.get("/console/cases").get_data(as_text=True)
    assert f"/console/cases/{report.id}" in inbox and "举报" in inbox
    shown = jijian.get(f"/console/cases/{report.id}").get_data(as_text=True)
    assert "评价后被窗口负责人约谈" in shown and "139****9000" in shown
    assert "13900139000" not in shown
    full = jijian.post(f"/console/cases/{report.id}/contact",
                       data={"csrf_token": csrf_of(shown), "reason": "核实情况"})
    assert full.status_code == 200 and "13900139000" in full.get_data(as_text=True)
    for role in ("unit_admin", "org_admin", "viewer"):
        client = signed_in(role)
        assert client.get(f"/console/cases/{report.id}").status_code == 404, role
        listed = client.get("/console/cases?status=all").get_data(as_text=True)
        assert f"/console/cases/{report.id}\"" not in listed, role
    org = signed_in("org_admin")
    assert org.post(f"/console/cases/{report.id}/contact", data={
        "csrf_token": form_token(org, "/console/cases"), "reason": "x"}).status_code == 403
