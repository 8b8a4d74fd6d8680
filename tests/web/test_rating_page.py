"""The mobile rating page: shows who is rated, takes one rating through a CSRF-protected form."""

import hashlib
import logging
import re
from datetime import UTC, datetime, timedelta
from html import unescape

import pytest
from flask import render_template
from sqlalchemy import event as sa_event
from sqlalchemy import func, select

from backend.extensions import db
from backend.models import (
    AbuseSignal,
    FollowupContact,
    FunnelCount,
    Invitation,
    PendingItem,
    Rating,
    UseTag,
)
from backend.observability import masking
from backend.web.rating import FormState, field_errors
from tests.support.invitations import issue
from tests.support.release import release_all

FORGED = "x" * 20 + "." + "y" * 27


@pytest.fixture
def invitation(app):
    return issue()[0]


def page_of(client, token):
    return client.get(f"/r/{token}")


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def hidden_fields(html: str) -> dict[str, str]:
    return dict(re.findall(r'<input type="hidden" name="([^"]+)"[^>]*?value="([^"]*)"', html))


def form_post(client, token, with_csrf=True, **fields):
    """Open the page like a browser, then post its hidden fields and the given choices."""
    data = hidden_fields(page_of(client, token).get_data(as_text=True))
    if not with_csrf:
        del data["csrf_token"]
    return client.post(f"/r/{token}", data={**data, "score-C001": "9", "tags-C001": ["热情周到"],
                                             **fields})


def count_ratings(session) -> int:
    """Count the ratings stored: released, or waiting sealed for their batch."""
    return (session.scalar(select(func.count()).select_from(Rating))
            + session.scalar(select(func.count()).select_from(PendingItem)
                             .where(PendingItem.kind == "rating")))


def link_used(session) -> bool:
    """Tell whether any link's use was recorded."""
    return session.scalar(select(func.count()).select_from(UseTag)) > 0


def text_of(response) -> str:
    return unescape(re.sub(r"<[^>]+>", " ", response.get_data(as_text=True)))


def test_page_shows_who_is_rated_and_for_which_service(client, invitation, session):
    response = page_of(client, invitation["token"])
    html = response.get_data(as_text=True)
    invited = session.scalar(select(Invitation))
    cadre = invited.cadre
    assert response.status_code == 200 and response.mimetype == "text/html"
    for shown in (cadre.name, cadre.unit.name, cadre.position, "公开审批", "请为本次服务打分"):
        assert shown in html
    assert '<html lang="zh-CN">' in html
    assert html.count('name="score-C001"') == 10 and "非常满意" in html
    assert "<legend" in html and 'aria-live="polite"' in html and "0/500" in html
    assert 'maxlength="500"' in html and 'name="followup_phone"' in html
    assert "无法评价" not in html  # this template does not allow abstaining
    assert '<span class="brand-sub">政务服务评价</span>' in html  # a ballot says 民主测评


def test_mini_program_scene_opens_the_same_page(client, invitation):
    assert page_of(client, invitation["mp_scene"]).status_code == 200


def test_opening_the_page_never_consumes_the_link(client, invitation, session):
    for _ in range(3):
        assert page_of(client, invitation["token"]).status_code == 200
    assert not link_used(session)
    assert count_ratings(session) == 0


def test_form_submission_stores_the_rating_and_shows_the_receipt(client, invitation, session):
    response = form_post(client, invitation["token"], comment="窗口服务很好",
                         followup="yes", followup_phone="13900139000")
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "感谢您的评价！" in html
    shown = re.search(r'<code class="receipt" id="receipt">(.*?)</code>', html)[1]
    receipt = re.sub(r"</?span>", "", shown)
    assert re.fullmatch(r"[0-9a-f]{32}", receipt)
    assert link_used(session) and count_ratings(session) == 1
    release_all()
    rating = session.scalar(select(Rating))
    assert (rating.score, rating.tags, rating.comment) == (9, ["热情周到"], "窗口服务很好")
    assert rating.receipt_hash == hashlib.sha256(f"{receipt}:0".encode()).hexdigest()
    assert session.scalar(select(func.count()).select_from(FollowupContact)) == 1
    assert response.headers["Cache-Control"] == "no-store"


def test_time_on_page_comes_from_the_signed_opening_stamp(client, invitation, session):
    assert form_post(client, invitation["token"], opened_at="1").status_code == 200
    release_all()
    signal = session.scalar(select(AbuseSignal))
    assert signal.seconds_on_page is not None and signal.seconds_on_page < 60
    assert session.scalar(select(func.sum(FunnelCount.unstamped))) == 0


def test_a_forged_or_borrowed_stamp_counts_unstamped_whatever_the_script_says(client, session):
    first, second, other = issue(3)
    opened = int((datetime.now(UTC) - timedelta(seconds=90)).timestamp() * 1000)
    borrowed = hidden_fields(page_of(client, other["token"]).get_data(as_text=True))["rendered"]
    assert form_post(client, first["token"], rendered="forged",
                     opened_at=str(opened)).status_code == 200
    assert form_post(client, second["token"], rendered=borrowed).status_code == 200
    release_all()
    assert list(session.scalars(select(AbuseSignal.seconds_on_page))) == [None, None]
    assert session.scalar(select(func.sum(FunnelCount.unstamped))) == 2


def test_submission_without_csrf_token_is_refused_and_nothing_is_stored(client, invitation,
                                                                        session):
    page_of(client, invitation["token"])
    response = form_post(client, invitation["token"], with_csrf=False)
    assert response.status_code == 400
    assert "页面已过期" in response.get_data(as_text=True)
    assert 'value="9" checked' in response.get_data(as_text=True)
    assert count_ratings(session) == 0
    assert not link_used(session)


def test_csrf_token_of_another_browser_is_refused(app, client, invitation, session):
    stolen = csrf_of(page_of(app.test_client(), invitation["token"]).get_data(as_text=True))
    page_of(client, invitation["token"])
    response = client.post(f"/r/{invitation['token']}",
                           data={"csrf_token": stolen, "score-C001": "9"})
    assert response.status_code == 400 and count_ratings(session) == 0


def test_https_submission_works_although_pages_send_no_referer(client, invitation, session):
    https = "https://ssp.example.cn"
    html = client.get(f"/r/{invitation['token']}", base_url=https).get_data(as_text=True)
    response = client.post(f"/r/{invitation['token']}", base_url=https,
                           data={"csrf_token": csrf_of(html), "score-C001": "8"})
    assert response.status_code == 200 and count_ratings(session) == 1


def test_bad_score_is_422_in_chinese_and_keeps_the_choices(client, invitation, session):
    response = form_post(client, invitation["token"], **{"score-C001": "11"},
                         comment="办事很快")
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "分数必须在 1 到 10 之间" in html and 'role="alert"' in html
    assert 'value="热情周到" checked' in html and "办事很快</textarea>" in html
    assert count_ratings(session) == 0
    assert form_post(client, invitation["token"]).status_code == 200


def test_too_many_tags_is_422_and_keeps_the_chosen_tags(client, invitation, session):
    tags = ["热情周到", "办事高效", "解答清楚", "主动服务", "廉洁自律", "一次办好"]
    response = form_post(client, invitation["token"], **{"tags-C001": tags})
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and "最多选择 5 个标签" in html
    assert all(f'value="{tag}" checked' in html for tag in tags)
    assert 'value="9" checked' in html
    assert count_ratings(session) == 0


def test_missing_score_asks_to_choose_one(client, invitation):
    response = form_post(client, invitation["token"], **{"score-C001": ""})
    assert response.status_code == 422 and "请选择分数" in response.get_data(as_text=True)


def test_followup_consent_without_a_phone_asks_for_the_number(client, invitation, session):
    response = form_post(client, invitation["token"], followup="yes", followup_phone="")
    assert response.status_code == 422 and "请填写回访手机号" in response.get_data(as_text=True)
    response = form_post(client, invitation["token"], followup="yes", followup_phone="123")
    assert response.status_code == 422 and "手机号格式不正确" in response.get_data(as_text=True)


def test_phone_without_consent_is_not_kept(client, invitation, session):
    response = form_post(client, invitation["token"], followup_phone="13900139000")
    assert response.status_code == 200
    release_all()
    assert session.scalar(select(func.count()).select_from(FollowupContact)) == 0


def close(session, how: str) -> None:
    row = session.scalar(select(Invitation))
    if how == "expired":
        row.expires_at = datetime.now(UTC) - timedelta(minutes=1)
    elif how == "revoked":
        row.revoked_at = datetime.now(UTC)
    session.commit()


@pytest.mark.parametrize(("how", "status", "text"), [
    ("expired", 410, "链接已过期"), ("revoked", 410, "链接已撤销")])
def test_expired_and_revoked_links_show_a_closed_page(client, invitation, session, how, status,
                                                      text):
    csrf = csrf_of(page_of(client, invitation["token"]).get_data(as_text=True))
    close(session, how)
    response = page_of(client, invitation["token"])
    assert response.status_code == status and text in text_of(response)
    posted = client.post(f"/r/{invitation['token']}", data={"csrf_token": csrf, "score-C001": "9"})
    assert posted.status_code == status and count_ratings(session) == 0


def test_used_link_shows_already_rated(client, invitation):
    csrf = csrf_of(page_of(client, invitation["token"]).get_data(as_text=True))
    assert form_post(client, invitation["token"]).status_code == 200
    response = page_of(client, invitation["token"])
    assert response.status_code == 409 and "已评价" in text_of(response)
    again = client.post(f"/r/{invitation['token']}", data={"csrf_token": csrf, "score-C001": "9"})
    assert again.status_code == 409 and "已评价" in text_of(again)


def flipped(token: str) -> str:
    """Change one signature character that carries only data bits (the last also pads)."""
    return token[:-5] + ("A" if token[-5] != "A" else "g") + token[-4:]


def test_forged_link_shows_invalid_without_any_sql(client, invitation):
    csrf = csrf_of(page_of(client, invitation["token"]).get_data(as_text=True))
    statements = []

    def count(*_args):
        statements.append(1)

    sa_event.listen(db.engine, "before_cursor_execute", count)
    try:
        response = page_of(client, FORGED)
        posted = client.post(f"/r/{FORGED}", data={"csrf_token": csrf, "score-C001": "9"})
        tampered = page_of(client, flipped(invitation["token"]))
    finally:
        sa_event.remove(db.engine, "before_cursor_execute", count)
    assert response.status_code == 404 and "链接无效" in text_of(response)
    assert posted.status_code == 404 and tampered.status_code == 404
    assert statements == []


def test_comment_with_markup_is_stored_as_text_and_shown_escaped(client, invitation, session):
    evil = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    bad = form_post(client, invitation["token"], comment=evil, **{"score-C001": "0"})
    html = bad.get_data(as_text=True)
    assert bad.status_code == 422
    assert "<script>alert" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html
    done = form_post(client, invitation["token"], comment=evil)
    assert done.status_code == 200 and "<script>alert" not in done.get_data(as_text=True)
    release_all()
    assert session.scalar(select(Rating.comment)) == evil


def test_pages_carry_strict_security_headers(app, client, invitation):
    with client.get("/static/rating.css") as static:
        static_headers = static.headers
    for headers in (page_of(client, invitation["token"]).headers,
                    page_of(client, FORGED).headers, static_headers):
        csp = headers["Content-Security-Policy"]
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp
        assert "http:" not in csp and "https:" not in csp and "*" not in csp
        assert headers["Referrer-Policy"] == "no-referrer"
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["X-Frame-Options"] == "DENY"
    page = page_of(app.test_client(), invitation["token"])
    assert page.headers["Cache-Control"] == "no-store"
    cookie = page.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" in cookie


def test_page_uses_no_inline_script_or_style(client, invitation):
    html = page_of(client, invitation["token"]).get_data(as_text=True)
    assert "<style" not in html and " style=" not in html
    assert not re.search(r"<[^>]*\son[a-z]+=", html)
    assert re.findall(r"<script[^>]*>", html) == ['<script src="/static/rating.js" defer>']


def test_page_weight_with_its_css_and_js_is_under_100_kb(client, invitation):
    html = page_of(client, invitation["token"]).get_data()
    assets = re.findall(rb'(?:href|src)="(/static/[^"]+)"', html)
    assert {a.rsplit(b".", 1)[-1] for a in assets} == {b"css", b"js"}
    total = len(html)
    for asset in assets:
        with client.get(asset.decode()) as response:
            assert response.status_code == 200
            total += len(response.get_data())
    assert total < 100 * 1024
    assert not re.search(rb'(?:href|src)="(?:https?:)?//', html)


def test_json_api_still_works_without_csrf(client, invitation):
    response = client.post(f"/api/v1/invitations/{invitation['token']}/rating",
                           json={"score": 8})
    assert response.status_code == 201 and len(response.json["receipt"]) == 32
    assert response.headers["Cache-Control"] == "no-store"


def test_page_is_rate_limited_per_address(make_app):
    limited = make_app(RATELIMIT_PUBLIC="2/minute").test_client()
    statuses = [limited.get(f"/r/{FORGED}").status_code for _ in range(3)]
    assert statuses == [404, 404, 429]
    response = limited.get(f"/r/{FORGED}")
    assert "请求过于频繁" in text_of(response) and int(response.headers["Retry-After"]) > 0


def test_api_docs_page_boots_from_a_file_under_the_strict_policy(client):
    response = client.get("/api/docs")
    assert response.status_code == 200
    assert "'unsafe-inline'" not in response.headers["Content-Security-Policy"]
    html = response.get_data(as_text=True)
    assert all(' src="' in tag or 'type="application/json"' in tag
               for tag in re.findall(r"<script[^>]*>", html))


def test_tokens_are_masked_in_log_lines():
    record = logging.LogRecord("werkzeug", logging.INFO, __file__, 1,
                               '%s - - "%s" %s', ("1.2.3.4", "GET /r/abc.DEF_-9/qr.png HTTP/1.1",
                                                  "200"), None)
    masking.MASKING_FILTER.filter(record)
    assert record.getMessage() == '1.2.3.4 - - "GET /r/***/qr.png HTTP/1.1" 200'
    assert masking.mask_secrets("POST /api/v1/invitations/tok.sig/rating") == (
        "POST /api/v1/invitations/***/rating")


def test_token_masking_is_installed_on_werkzeug_and_root(app, caplog):
    assert masking.MASKING_FILTER in logging.getLogger("werkzeug").filters
    assert masking.MASKING_FILTER in logging.getLogger().filters
    with caplog.at_level(logging.INFO, logger="werkzeug"):
        logging.getLogger("werkzeug").info('"GET %s HTTP/1.1" 200', "/r/secret.token")
    assert "secret.token" not in caplog.text and "/r/***" in caplog.text


def ballot_view() -> dict:
    tags = [{"label": "敢于担当", "polarity": "positive"},
            {"label": "不作为", "polarity": "negative"}]
    template = {"scale": {"min": 1, "max": 10, "low_label": "差", "high_label": "好"},
                "tags": tags, "tag_display": {"negative_max": 6, "positive_min": 5},
                "max_tags": 5, "comment": {"enabled": False, "max_length": 500},
                "followup": {"enabled": False}, "allow_abstain": True,
                "texts": {"title": "民主测评票", "intro": "请逐一评价。", "thanks": "谢谢"}}
    targets = [{"code": c, "name": n, "unit": "某乡镇", "position": "镇长"}
               for c, n in (("C001", "甲某"), ("C002", "乙某"))]
    return {"kind": "ballot", "event_type_name": None, "template": template, "targets": targets}


def test_ballot_form_gives_each_target_its_own_block_and_abstain(app):
    view = ballot_view()
    with app.test_request_context("/r/x"):
        html = render_template("rating/form.html", view=view, t=view["template"],
                               state=FormState(), errors={"score-C002": "请选择分数"},
                               tags={"positive": ["敢于担当"], "negative": ["不作为"]},
                               stamp="s", abstain="abstain", abstain_label="无法评价",
                               action="/r/x")
    for code in ("C001", "C002"):
        assert html.count(f'name="score-{code}"') == 11 and f'name="tags-{code}"' in html
    assert html.count("无法评价") == 2 and "请选择分数" in html
    assert 'name="comment"' not in html and 'name="followup"' not in html


def test_ballot_errors_are_placed_next_to_their_target():
    reported = {"ratings": {"1": {"score": "分数必须是整数", "tags": "最多选择 5 个标签"}}}
    state = FormState(scores={"C001": "7", "C002": ""})
    assert field_errors(reported, ["C001", "C002"], state) == {
        "score-C002": "请选择分数", "tags-C002": "最多选择 5 个标签"}
