"""申诉复核 in the console: the unit admin's appeal form on the case page, the org admins'
four-eyes decision, the appeals list; refusals answer 4xx in Chinese and change nothing."""

from __future__ import annotations

from sqlalchemy import func, select
from werkzeug.security import generate_password_hash

from backend.extensions import db
from backend.models import Appeal, AuditEntry, Case, ConsoleUser, Rating
from tests.console.world import PASSWORD, csrf_of, https_client, sign_in

FORM = {"reason": "malicious", "text": "评价所述事项当日并未办理", "evidence": "当日排号记录"}


def second_org_admin(app):
    """Add and sign in a second org admin (four-eyes needs two)."""
    db.session.add(ConsoleUser(username="org2", role="org_admin",
                               password_hash=generate_password_hash(PASSWORD)))
    db.session.commit()
    client = https_client(app)
    assert sign_in(client, "org2").status_code == 302
    return client


def post(client, path: str, page: str, **form):
    """Post a form with the CSRF token of the page it is on."""
    token = csrf_of(client.get(page).get_data(as_text=True))
    return client.post(path, data={"csrf_token": token, **form})


def state(case_id: int) -> tuple:
    db.session.expire_all()
    case = db.session.get(Case, case_id)
    appeal = db.session.scalar(select(Appeal).where(Appeal.case_id == case_id))
    return (appeal.status if appeal else None, case.rating.status,
            db.session.scalar(select(func.count()).select_from(AuditEntry)
                              .where(AuditEntry.action.like("appeal.%"))))


def test_an_appeal_filed_by_the_unit_and_upheld_by_two_org_admins(app, world, signed_in):
    case_id = world.case_id
    page = f"/console/cases/{case_id}"
    town, org = signed_in("unit_admin"), signed_in("org_admin")
    shown = town.get(page).get_data(as_text=True)
    assert "申诉复核" in shown and "提交申诉" in shown and "恶意评价" in shown
    assert "提交申诉" not in org.get(page).get_data(as_text=True)
    filed = post(town, page + "/appeal", page, **FORM)
    assert filed.status_code == 303 and state(case_id)[0] == "pending"
    shown = town.get(page).get_data(as_text=True)
    assert "待复核" in shown and "评价所述事项当日并未办理" in shown and "提交申诉" not in shown
    assert "驳回申诉" not in shown  # the unit does not decide its own appeal

    listed = org.get("/console/appeals").get_data(as_text=True)
    assert f"/console/cases/{case_id}" in listed and "恶意评价" in listed
    first = post(org, page + "/appeal/uphold", page, note="排号记录与评价不符")
    assert first.status_code == 303 and state(case_id)[:2] == ("confirming", "valid")
    shown = org.get(page).get_data(as_text=True)
    assert "须由另一名组织部管理员确认" in shown and "待第二名管理员确认" in shown
    again = post(org, page + "/appeal/uphold", page, note="再次同意")
    assert again.status_code == 409 and "另一名组织部管理员" in again.get_data(as_text=True)
    assert state(case_id)[:2] == ("confirming", "valid")

    org2 = second_org_admin(app)
    assert "确认剔除该评价（第二名管理员）" in org2.get(page).get_data(as_text=True)
    done = post(org2, page + "/appeal/uphold", page, note="同意剔除")
    assert done.status_code == 303 and state(case_id)[:2] == ("upheld", "excluded")
    shown = org2.get(page).get_data(as_text=True)
    assert "已支持（评价已剔除）" in shown and "（已剔除）" in shown
    rating = db.session.scalar(select(Rating).join(Case, Case.rating_id == Rating.id)
                               .where(Case.id == case_id))
    assert rating.excluded_by == "org2"
    decided = post(org, page + "/appeal/reject", page, note="驳回")
    assert decided.status_code == 409 and "已复核完毕" in decided.get_data(as_text=True)
    assert "已支持" in signed_in("viewer").get("/console/appeals?status=all").get_data(
        as_text=True)


def test_bad_appeals_answer_4xx_in_chinese_and_change_nothing(app, world, signed_in):
    case_id = world.case_id
    page = f"/console/cases/{case_id}"
    town, org = signed_in("unit_admin"), signed_in("org_admin")
    before = state(case_id)
    for form, status, message in [
        (FORM | {"reason": "revenge"}, 422, "申诉理由无效"),
        (FORM | {"text": "  "}, 422, "请填写申诉说明"),
        (FORM | {"text": "长" * 2001}, 422, "过长"),
    ]:
        answer = post(town, page + "/appeal", page, **form)
        assert answer.status_code == status and message in answer.get_data(as_text=True)
        assert state(case_id) == before
    no_token = town.post(page + "/appeal", data=FORM)
    assert no_token.status_code == 400 and "表单已过期" in no_token.get_data(as_text=True)
    nothing = post(org, page + "/appeal/uphold", page, note="同意")
    assert nothing.status_code == 409 and "没有申诉" in nothing.get_data(as_text=True)
    assert state(case_id) == before
    assert post(town, page + "/appeal", page, **FORM).status_code == 303
    twice = post(town, page + "/appeal", page, **FORM)
    assert twice.status_code == 409 and "不能重复申诉" in twice.get_data(as_text=True)
    empty = post(org, page + "/appeal/reject", page, note=" ")
    assert empty.status_code == 422 and "请填写复核意见" in empty.get_data(as_text=True)
    assert state(case_id)[0] == "pending"


def test_appeals_are_scoped_to_the_unit_and_decided_by_org_admins_only(app, world, signed_in):
    case_id = world.case_id
    page = f"/console/cases/{case_id}"
    town = signed_in("unit_admin")
    assert post(town, page + "/appeal", page, **FORM).status_code == 303
    village = https_client(app)
    assert sign_in(village, "village").status_code == 302
    token = csrf_of(village.get("/console/appeals").get_data(as_text=True))
    assert village.post(page + "/appeal", data={"csrf_token": token, **FORM}).status_code == 404
    assert f"/console/cases/{case_id}" not in village.get(
        "/console/appeals?status=all").get_data(as_text=True)
    for role in ("unit_admin", "viewer"):
        client = signed_in(role)
        token = csrf_of(client.get("/console/appeals").get_data(as_text=True))
        assert client.post(page + "/appeal/uphold",
                           data={"csrf_token": token, "note": "同意"}).status_code == 403
    assert state(case_id)[0] == "pending"
    org = signed_in("org_admin")
    rejected = post(org, page + "/appeal/reject", page, note="评价属实")
    assert rejected.status_code == 303 and state(case_id)[:2] == ("rejected", "valid")
    assert "已驳回" in town.get("/console/appeals?status=rejected").get_data(as_text=True)
