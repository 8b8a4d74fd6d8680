"""防刷复核 in the console: review items with their evidence explained, cleared by one org
admin, excluded by two (four-eyes); auditors read; refusals answer 4xx and change nothing."""

from __future__ import annotations

from sqlalchemy import select

from backend.extensions import db
from backend.models import AuditEntry, Rating, ReviewItem
from tests.console.test_appeals_console import post, second_org_admin
from tests.console.world import csrf_of


def item_state(item_id: int) -> tuple:
    db.session.expire_all()
    item = db.session.get(ReviewItem, item_id)
    ratings = db.session.scalars(select(Rating.status).where(
        Rating.id.in_(item.rating_ids))).all()
    return item.state, sorted(ratings)


def test_two_org_admins_exclude_an_items_ratings(app, world, signed_in):
    item_id = world.review_id
    page = f"/console/review/{item_id}"
    org = signed_in("org_admin")
    listed = org.get("/console/review").get_data(as_text=True)
    assert "同一地址集中评价" in listed and page in listed and "防刷复核" in listed
    shown = org.get(page).get_data(as_text=True)
    assert "同一来源（摘要 3f9a1c2b7d4e）提交了 2 条评价" in shown and "涉及干部数" in shown
    assert "同意排除这些评价" in shown
    first = post(org, page + "/exclude", page, reason="同一地址批量好评")
    assert first.status_code == 303 and item_state(item_id) == ("open", ["valid", "valid"])
    assert "待第二名管理员确认" in org.get("/console/review").get_data(as_text=True)
    again = post(org, page + "/exclude", page, reason="再次同意")
    assert again.status_code == 409 and "另一名组织部管理员" in again.get_data(as_text=True)
    org2 = second_org_admin(app)
    assert "确认排除（第二名管理员）" in org2.get(page).get_data(as_text=True)
    done = post(org2, page + "/exclude", page, reason="核实为刷分")
    assert done.status_code == 303
    assert item_state(item_id) == ("excluded", ["excluded", "excluded"])
    assert "已排除 2 条评价" in org2.get(page).get_data(as_text=True)
    late = post(org, page + "/clear", page, reason="放行")
    assert late.status_code == 409 and "已处理" in late.get_data(as_text=True)
    actions = db.session.scalars(select(AuditEntry.action).where(
        AuditEntry.target == f"review:{item_id}").order_by(AuditEntry.id)).all()
    assert actions == ["four_eyes.first", "four_eyes.second", "review.exclude"]
    assert "已排除" in org.get("/console/review?state=excluded").get_data(as_text=True)


def test_one_org_admin_clears_and_a_pending_exclusion_is_withdrawn(app, world, signed_in):
    item_id = world.review_id
    page = f"/console/review/{item_id}"
    org = signed_in("org_admin")
    post(org, page + "/exclude", page, reason="疑似刷分")
    org2 = second_org_admin(app)
    cleared = post(org2, page + "/clear", page, reason="同一网点的公共自助机")
    assert cleared.status_code == 303 and item_state(item_id) == ("cleared", ["valid", "valid"])
    assert "已放行" in org2.get(page).get_data(as_text=True)


def test_auditors_read_and_others_are_refused(app, world, signed_in):
    item_id = world.review_id
    page = f"/console/review/{item_id}"
    auditor = signed_in("auditor")
    assert auditor.get("/console/review").status_code == 200
    shown = auditor.get(page).get_data(as_text=True)
    assert "同一地址集中评价" in shown and "放行原因" not in shown
    token = csrf_of(auditor.get("/console/audit").get_data(as_text=True))
    assert auditor.post(page + "/clear", data={"csrf_token": token,
                                                "reason": "x"}).status_code == 403
    for role in ("unit_admin", "viewer"):
        assert signed_in(role).get(page).status_code == 403
    assert item_state(item_id)[0] == "open"


def test_bad_review_input_answers_4xx_in_chinese_and_changes_nothing(app, world, signed_in):
    item_id = world.review_id
    page = f"/console/review/{item_id}"
    org = signed_in("org_admin")
    empty = post(org, page + "/clear", page, reason="   ")
    assert empty.status_code == 422 and "请填写原因" in empty.get_data(as_text=True)
    long = post(org, page + "/exclude", page, reason="长" * 501)
    assert long.status_code == 422
    no_token = org.post(page + "/clear", data={"reason": "放行"})
    assert no_token.status_code == 400
    assert org.get("/console/review/999999").status_code == 404
    assert org.get("/console/review?kind=<script>&state=nonsense").status_code == 200
    burst = ReviewItem(kind="burst", subject="cadre:1", window="2026-11-18T10:00+08:00",
                       cadre_id=world.cadres["C001"], rating_ids=[],
                       evidence={"hour": "2026-11-18T10:00+08:00", "ratings": 40,
                                 "baseline_median": 2, "baseline_active_hours": 30})
    db.session.add(burst)
    db.session.commit()
    burst_page = f"/console/review/{burst.id}"
    shown = org.get(burst_page).get_data(as_text=True)
    assert "只能核查后放行" in shown and "同意排除" not in shown
    refused = post(org, burst_page + "/exclude", burst_page, reason="刷分")
    assert refused.status_code == 409 and "不指明评价" in refused.get_data(as_text=True)
    assert item_state(item_id)[0] == "open" and item_state(burst.id)[0] == "open"
    assert "单小时评价激增" in org.get("/console/review?kind=burst").get_data(as_text=True)
