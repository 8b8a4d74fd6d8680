"""The receipt check page: pending, then included with each checkpoint; nothing else shows."""

import re
import secrets
from datetime import UTC, datetime, timedelta
from html import unescape
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from backend.models import Cadre, Rating
from backend.scoring.merkle import receipt_hash
from backend.services.ledger import chain as ledger
from tests.support.invitations import issue
from tests.support.ledger import close_today, make_ratings, rate
from tests.support.release import release_all

TZ = ZoneInfo("Asia/Shanghai")
UNKNOWN = "5f0c1e9a2b7d4c3e8a6f1b0d9c2e7a41"


def text_of(response) -> str:
    """Return the page's text with tags and spaces between hex groups dropped."""
    return unescape(re.sub(r"<[^>]+>", "", response.get_data(as_text=True)))


def hex_blocks(response) -> list[str]:
    """Return the monospace blocks of the page (receipt, roots), their groups joined."""
    html = response.get_data(as_text=True)
    return ["".join(re.findall(r"<span>([0-9a-f]+)</span>", block))
            for block in re.findall(r'<code class="receipt"[^>]*>(.*?)</code>', html, re.S)]


def day_label(day: str) -> str:
    year, month, dom = (int(part) for part in day.split("-"))
    return f"{year}年{month}月{dom}日"


def test_a_fresh_receipt_is_shown_as_accepted_and_waiting_for_its_batch(client):
    receipt = rate(client)
    response = client.get(f"/receipt/{receipt}")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    text = text_of(response)
    assert "已受理，等待分批入账" in text and "打乱顺序、分批记入账本" in text
    assert "每天 00:10" in text
    assert hex_blocks(response) == [receipt]
    assert "<span>" + receipt[:8] + "</span><span>" + receipt[8:16] in response.get_data(
        as_text=True)
    assert "查看完整证明" not in text


def test_an_included_receipt_shows_its_checkpoint_root_and_position(client, session):
    rate(client)
    receipt = rate(client)
    close_today(session)
    proof = client.get(f"/api/v1/receipts/{receipt}").json
    response = client.get(f"/receipt/{receipt}")
    text = text_of(response)
    assert response.status_code == 200 and "已记入账本" in text
    assert hex_blocks(response) == [receipt, proof["checkpoint"]["root"]]
    assert f"第 {proof['index'] + 1} 条，共 {proof['checkpoint']['size']} 条" in text
    assert "共 2 条" in text and day_label(proof["checkpoint"]["day"]) in text
    link = re.search(r'<a href="([^"]+)"[^>]*>查看完整证明（JSON）</a>',
                     response.get_data(as_text=True))
    assert link.group(1) == f"/api/v1/receipts/{receipt}"
    assert client.get(link.group(1)).json == proof


def test_a_ballot_receipt_lists_each_of_its_entries(client, session):
    receipt = secrets.token_hex(16)
    ids = sorted(make_ratings(session, 4))  # in ledger order
    for rating_id, index in zip(ids[:3], (0, 1, 3), strict=True):  # index 2 abstained
        session.get(Rating, rating_id).receipt_hash = receipt_hash(receipt, index)
    session.commit()
    close_today(session)
    response = client.get(f"/receipt/{receipt}")
    text = text_of(response)
    assert [n for n in (1, 2, 3, 4) if f"第 {n} 条，共 4 条" in text] == [1, 2, 3]
    assert response.get_data(as_text=True).count("<li>") == 3
    root = client.get(f"/api/v1/receipts/{receipt}").json["checkpoint"]["root"]
    assert hex_blocks(response) == [receipt, root]  # one day: its root shown once


def test_a_ballot_spread_over_two_days_shows_both_checkpoints(client, session):
    receipt = secrets.token_hex(16)
    start = datetime(2026, 11, 1, 2, tzinfo=UTC)
    for day in range(2):
        (rating_id,) = make_ratings(session, 1, start + timedelta(days=day))
        session.get(Rating, rating_id).receipt_hash = receipt_hash(receipt, day)
        session.commit()
    ledger.checkpoint_days(session, start + timedelta(days=2), TZ)
    entries = client.get(f"/api/v1/receipts/{receipt}").json["entries"]
    response = client.get(f"/receipt/{receipt}")
    text = text_of(response)
    assert "2026年11月1日检查点" in text and "2026年11月2日检查点" in text
    assert hex_blocks(response) == [receipt] + [e["checkpoint"]["root"] for e in entries]


@pytest.mark.parametrize("receipt", [UNKNOWN, "0" * 31, "g" * 32, "x", "<b>" + "a" * 29])
def test_unknown_or_malformed_receipts_get_a_404_page(client, receipt):
    response = client.get(f"/receipt/{receipt}")
    assert response.status_code == 404
    assert response.headers["Cache-Control"] == "no-store"
    assert response.mimetype == "text/html"
    text = text_of(response)
    assert "凭证不存在" in text and "完整复制" in text
    if len(receipt) > 1:
        assert receipt not in response.get_data(as_text=True)  # what was typed never shows
    assert hex_blocks(response) == []


def test_the_page_shows_neither_the_score_nor_who_was_rated(client, session):
    receipt = rate(client)
    close_today(session)
    html = client.get(f"/receipt/{receipt}").get_data(as_text=True)
    cadre = session.scalar(select(Cadre).where(Cadre.code == "C001"))
    rating = session.scalar(select(Rating))
    for secret in ("C001", cadre.name, cadre.position, "推诿扯皮", "拖了三天",
                   rating.receipt_hash, "score", "分数"):
        assert secret not in html


def test_an_upper_case_receipt_is_accepted(client, session):
    receipt = rate(client)
    response = client.get(f"/receipt/{receipt.upper()}")
    assert response.status_code == 200 and "已受理" in text_of(response)
    assert hex_blocks(response) == [receipt]
    close_today(session)
    response = client.get(f"/receipt/{receipt.upper()}")
    assert "已记入账本" in text_of(response)
    assert f'href="/api/v1/receipts/{receipt}"' in response.get_data(as_text=True)


def test_the_page_needs_no_inline_script_or_style(client):
    html = client.get(f"/receipt/{rate(client)}").get_data(as_text=True)
    assert "<script" not in html and "<style" not in html and "style=" not in html
    assert "http://" not in html and "https://" not in html  # no external assets


def test_the_thanks_page_links_to_the_receipt_page(client):
    token = issue()[0]["token"]
    page = client.get(f"/r/{token}").get_data(as_text=True)
    hidden = dict(re.findall(r'<input type="hidden" name="([^"]+)"[^>]*?value="([^"]*)"', page))
    thanks = client.post(f"/r/{token}", data={**hidden, "score-C001": "8"}).get_data(as_text=True)
    link = re.search(r'href="(/receipt/[0-9a-f]{32})"[^>]*>核验我的评价是否已记入账本', thanks)
    assert link is not None
    assert "已受理，等待分批入账" in text_of(client.get(link.group(1)))
    release_all()
    assert "已收到，尚未记入账本" in text_of(client.get(link.group(1)))


def test_the_page_is_rate_limited_like_the_rating_page(make_app):
    limited = make_app(RATELIMIT_PUBLIC="2/minute").test_client()
    statuses = [limited.get(f"/receipt/{UNKNOWN}").status_code for _ in range(3)]
    assert statuses == [404, 404, 429]
    response = limited.get(f"/receipt/{UNKNOWN}")
    assert "请求过于频繁" in text_of(response) and int(response.headers["Retry-After"]) > 0
    assert response.headers["Cache-Control"] == "no-store"
