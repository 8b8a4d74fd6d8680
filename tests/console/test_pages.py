"""The monitoring pages: figures, filters, alerts, push replay, sign-in and its protections."""

from __future__ import annotations

from sqlalchemy import select

from backend.extensions import db
from backend.models import Alert, AuditEntry, ConsoleUser, WebhookMessage
from tests.console.world import PASSWORD, USERS, csrf_of, https_client, sign_in


def card(page: dict, label: str) -> str:
    """Return the value of a page's card whose label starts with `label`."""
    return next(c["value"] for c in page["cards"] if c["label"].startswith(label))


def test_overview_counts_todays_invitations_deliveries_and_ratings(signed_in, world):
    page = signed_in("org_admin").get("/console/api/overview").get_json()
    assert (card(page, "邀请数"), card(page, "送达数"), card(page, "评价数")) == ("24", "21", "8")
    assert card(page, "参评率") == "33.3%"
    assert card(page, "24小时送达率") == "81.2%"  # 13 of the 16 messages that had to go out
    periods = {row["period"]: row for row in page["tables"][0]["rows"]}
    assert periods["今日"]["invited"] == periods["近 30 天"]["invited"] == 24
    trend = next(c for c in page["charts"] if c["id"] == "trend")["data"]
    assert len(trend["x"]) == 30 and trend["bars"][0]["values"][-1] == 24


def test_unit_filter_narrows_the_overview_to_the_subtree(signed_in, world):
    client = signed_in("org_admin")
    page = client.get(f"/console/api/overview?unit={world.units['XZ100']}").get_json()
    assert page["subtitle"] == "城关镇人民政府"
    assert card(page, "邀请数") == "12"  # 城关镇 (6) and 东街社区 below it (6)


def test_unit_admin_sees_its_subtree_totals_only(signed_in, world):
    page = signed_in("unit_admin").get("/console/api/overview").get_json()
    assert card(page, "邀请数") == "12"


def test_units_page_lists_units_sorted_on_request(signed_in, world):
    page = signed_in("org_admin").get("/console/api/units?sort=invited&days=7").get_json()
    rows = page["tables"][0]["rows"]
    assert [r["invited"] for r in rows] == sorted((r["invited"] for r in rows), reverse=True)
    assert page["subtitle"].endswith("近 7 天")


def test_officials_page_shows_progress_to_the_minimum_and_filters(signed_in, world):
    client = signed_in("org_admin")
    rows = client.get("/console/api/officials?q=C001").get_json()["tables"][0]["rows"]
    # Ten valid ratings: four with comments and six quiet ones (tests/console/world.py).
    assert [(r["code"], r["valid"], r["invited"]) for r in rows] == [("C001", 10, 6)]
    html = client.get("/console/officials?q=C001").get_data(as_text=True)
    assert '<progress max="30" value="10">' in html
    below = client.get("/console/api/officials?below=1").get_json()
    assert below["extra"]["total"] == 40
    second = client.get("/console/api/officials?page=2").get_json()["tables"][0]["rows"]
    assert second == []  # forty officials fit on the first page of fifty


def test_official_page_shows_months_and_groups(signed_in, world):
    page = signed_in("viewer").get(f"/console/api/officials/{world.cadres['C001']}").get_json()
    assert card(page, "近6个月有效评价") == "10"
    assert page["extra"]["feedback_url"] is None  # comments are for org admins only


def test_breakdown_and_funnel_split_by_event_type_and_channel(signed_in, world):
    client = signed_in("org_admin")
    breakdown = client.get("/console/api/breakdown").get_json()
    channels = {r["channel"]: r for r in breakdown["tables"][1]["rows"]}
    assert {k: v["invited"] for k, v in channels.items()} == {"qr": 8, "sms": 8, "wechat": 8}
    assert channels["sms"]["messages_failed"] + channels["wechat"]["messages_failed"] == 3
    funnel = client.get("/console/api/funnel").get_json()
    stages = funnel["charts"][0]["data"]["stages"]
    assert [s["value"] for s in stages] == [24, 21, 12, 8]


def test_campaign_page_shows_small_groups_as_counts_only(signed_in, world):
    page = signed_in("org_admin").get(f"/console/api/campaigns/{world.campaign_id}").get_json()
    groups = {r["group"]: r for r in page["tables"][0]["rows"]}
    assert groups["同级"]["status"].startswith("样本不足") and groups["同级"]["rate"] is None
    assert [line["name"] for line in page["charts"][0]["data"]["lines"]] == ["上级"]


def test_alert_is_acknowledged_then_resolved_with_who_and_when(signed_in, world):
    client = signed_in("unit_admin")
    token = csrf_of(client.get("/console/alerts").get_data(as_text=True))
    alert_id = world.alerts["C001"]
    response = client.post(f"/console/alerts/{alert_id}/acknowledge",
                           data={"csrf_token": token, "next": "/console/alerts?state=open"})
    assert response.headers["Location"] == "/console/alerts?state=open"
    alert = db.session.get(Alert, alert_id)
    db.session.refresh(alert)
    assert (alert.state, alert.acknowledged_by) == ("acknowledged", USERS["unit_admin"])
    assert alert.acknowledged_at is not None
    refused = client.post(f"/console/api/alerts/{alert_id}/resolve",
                          headers={"X-CSRFToken": token})
    assert refused.status_code == 422 and "处理说明" in refused.get_json()["message"]
    db.session.refresh(alert)
    assert alert.state == "acknowledged"
    response = client.post(f"/console/api/alerts/{alert_id}/resolve",
                           headers={"X-CSRFToken": token}, json={"note": "已补发邀请"})
    assert response.get_json()["state"] == "resolved"
    assert client.post(f"/console/api/alerts/{alert_id}/resolve", json={"note": "再次"},
                       headers={"X-CSRFToken": token}).status_code == 409
    db.session.refresh(alert)
    assert (alert.resolved_by, alert.note) == (USERS["unit_admin"], "已补发邀请")
    actions = db.session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)).all()
    assert actions[-2:] == ["alert.acknowledge", "alert.resolve"]


def test_alert_filters_by_state_and_type(signed_in, world):
    client = signed_in("org_admin")
    page = client.get("/console/api/alerts?type=push_dead_letters").get_json()
    assert [r["type"] for r in page["tables"][0]["rows"]] == ["push_dead_letters"]
    assert client.get("/console/api/alerts?state=resolved").get_json()["tables"][0]["rows"] == []


def test_forms_and_api_calls_without_csrf_token_are_refused(signed_in, world):
    client = signed_in("org_admin")
    alert_id = world.alerts["C001"]
    assert client.post(f"/console/alerts/{alert_id}/acknowledge").status_code == 400
    response = client.post(f"/console/api/alerts/{alert_id}/acknowledge")
    assert response.status_code == 400 and response.get_json()["code"] == 400


def test_replaying_a_dead_letter_requeues_it(signed_in, world):
    client = signed_in("org_admin")
    token = csrf_of(client.get("/console/scores").get_data(as_text=True))
    response = client.post("/console/push/replay", data={"csrf_token": token,
                                                         "webhook_id": world.dead_webhook})
    assert response.status_code == 302
    message = db.session.scalar(select(WebhookMessage).filter_by(webhook_id=world.dead_webhook))
    db.session.refresh(message)
    assert (message.status, message.attempts) == ("pending", 0)


def test_sign_in_sets_hardened_session_cookie(app, world):
    response = sign_in(https_client(app), USERS["org_admin"])
    cookie = response.headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_wrong_password_gets_one_message_whoever_asks(app, world):
    client = https_client(app)
    unknown = sign_in(client, "nobody", PASSWORD)
    wrong = sign_in(client, USERS["viewer"], "not-the-password")
    assert unknown.status_code == wrong.status_code == 401
    assert "用户名或密码错误" in unknown.get_data(as_text=True)
    assert unknown.get_data(as_text=True).count("用户名或密码错误") == 1


def test_new_password_ends_existing_sessions(signed_in, world):
    from werkzeug.security import generate_password_hash

    client = signed_in("viewer")
    user = db.session.scalar(select(ConsoleUser).filter_by(username=USERS["viewer"]))
    user.password_hash = generate_password_hash("another-password-2026")
    db.session.commit()
    assert client.get("/console/").status_code == 302


def test_sign_in_never_redirects_off_the_console(app, world):
    client = https_client(app)
    token = csrf_of(client.get("/console/login").get_data(as_text=True))
    response = client.post("/console/login?next=//evil.example/x",
                           data={"username": USERS["org_admin"], "password": PASSWORD,
                                 "csrf_token": token})
    assert response.headers["Location"] == "/console/"


def test_pages_are_chinese_responsive_and_free_of_inline_scripts(signed_in, world):
    response = signed_in("org_admin").get("/console/")
    html = response.get_data(as_text=True)
    assert '<html lang="zh-CN">' in html and 'name="viewport"' in html
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    scripts = html.split("<script")[1:]
    assert all(' src="' in s.split(">")[0] or 'type="application/json"' in s.split(">")[0]
               for s in scripts)
    assert "/static/vendor/echarts.min.js" in html
