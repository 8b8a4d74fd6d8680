"""Receipt checks: pending, then included with a proof anyone can fold; nothing else shows."""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from backend.models import Cadre, PendingItem, Rating
from backend.scoring.merkle import receipt_hash
from backend.services.ledger import chain as ledger
from tests.support.invitations import issue
from tests.support.ledger import close_today, fold, make_ratings, rate
from tests.support.release import release_all

TZ = ZoneInfo("Asia/Shanghai")


def test_a_receipt_is_accepted_then_pending_until_its_day_is_checkpointed(client, session):
    receipt = rate(client)
    assert client.get(f"/api/v1/receipts/{receipt}").json == {"status": "accepted"}
    release_all()
    # The bad rating opened a case (整改单): the rater sees that it was taken on.
    assert client.get(f"/api/v1/receipts/{receipt}").json == {
        "status": "pending", "case": {"status": "open", "status_label": "已受理"}}
    close_today(session)
    body = client.get(f"/api/v1/receipts/{receipt}").json
    assert body["status"] == "included" and body["index"] == 0
    assert fold(body["leaf_hash"], body["proof"]) == body["checkpoint"]["root"]
    listed = client.get("/api/v1/ledger/checkpoints").json["items"]
    assert [(c["day"], c["root"]) for c in listed] == [(body["checkpoint"]["day"],
                                                        body["checkpoint"]["root"])]


def test_the_answer_reveals_nothing_about_the_rating(client, session):
    receipt = rate(client)
    rate(client)
    close_today(session)
    response = client.get(f"/api/v1/receipts/{receipt}")
    assert set(response.json) == {"status", "checkpoint", "index", "leaf_hash", "proof",
                                  "entries", "case"}
    assert response.json["case"] == {"status": "open", "status_label": "已受理"}
    cadre = session.scalar(select(Cadre).where(Cadre.code == "C001"))
    rating = session.scalar(select(Rating))
    raw = response.get_data(as_text=True)
    for secret in ("score", "cadre", "C001", cadre.name, "推诿扯皮", "拖了三天",
                   rating.receipt_hash, '"3"'):
        assert secret not in raw
    assert set(response.json["checkpoint"]) == {"day", "root", "size"}


def test_a_ballot_receipt_proves_each_of_its_ratings(client, session):
    receipt = secrets.token_hex(16)
    ids = make_ratings(session, 4)
    for rating_id, index in zip(ids[:3], (0, 1, 3), strict=True):  # index 2 abstained
        session.get(Rating, rating_id).receipt_hash = receipt_hash(receipt, index)
    session.commit()
    close_today(session)
    body = client.get(f"/api/v1/receipts/{receipt.upper()}").json
    assert body["status"] == "included" and len(body["entries"]) == 3
    for entry in body["entries"]:
        assert fold(entry["leaf_hash"], entry["proof"]) == entry["checkpoint"]["root"]


@pytest.mark.parametrize("receipt", ["5f0c1e9a2b7d4c3e8a6f1b0d9c2e7a41", "0" * 31, "g" * 32, "x"])
def test_unknown_or_malformed_receipts_are_404(client, receipt):
    response = client.get(f"/api/v1/receipts/{receipt}")
    assert response.status_code == 404
    assert response.json["code"] == 404 and response.json["message"]


def test_checkpoints_are_listed_newest_first(client, session):
    start = datetime(2026, 11, 1, 2, tzinfo=UTC)
    for day in range(3):
        make_ratings(session, 3 if day == 0 else 1, start + timedelta(days=day))
    ledger.checkpoint_days(session, start + timedelta(days=3), TZ)
    days = [c["day"] for c in client.get("/api/v1/ledger/checkpoints?limit=2").json["items"]]
    assert days == ["2026-11-03", "2026-11-02"]
    older = client.get("/api/v1/ledger/checkpoints?before=2026-11-02").json["items"]
    assert [c["day"] for c in older] == ["2026-11-01"] and older[0]["count"] == 3
    assert client.get("/api/v1/ledger/checkpoints?limit=0").status_code == 422


def test_the_thanks_page_links_to_the_receipt_check(client, session):
    token = issue()[0]["token"]
    page = client.get(f"/r/{token}").get_data(as_text=True)
    hidden = dict(re.findall(r'<input type="hidden" name="([^"]+)"[^>]*?value="([^"]*)"', page))
    thanks = client.post(f"/r/{token}", data={**hidden, "score-C001": "8"})
    html = thanks.get_data(as_text=True)
    link = re.search(r'href="/receipt/([0-9a-f]{32})"[^>]*>核验我的评价是否已记入账本', html)
    assert link is not None
    assert client.get(f"/api/v1/receipts/{link.group(1)}").json == {"status": "accepted"}
    assert session.scalar(select(PendingItem.receipt_hash)) != receipt_hash(link.group(1), 0)
    release_all()
    assert client.get(f"/api/v1/receipts/{link.group(1)}").json == {"status": "pending"}
    assert hashlib.sha256(f"{link.group(1)}:0".encode()).hexdigest() == \
        session.scalar(select(Rating.receipt_hash))
