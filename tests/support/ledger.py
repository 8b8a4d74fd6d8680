"""Helpers for ledger tests: ratings inserted directly, and an independent Merkle check."""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import select

from backend.models import Cadre, Rating
from backend.services import ledger
from backend.services.demo import seed
from backend.services.ratings import receipt_hash
from backend.services.templates import current_template
from tests.support.invitations import issue

DAY1 = datetime(2026, 11, 18, 2, tzinfo=UTC)  # 10:00 in Shanghai
TZ = ZoneInfo("Asia/Shanghai")


def rate(client) -> str:
    """Rate a fresh invitation through the API; return the receipt."""
    token = issue(prefix=secrets.token_hex(4))[0]["token"]
    response = client.post(f"/api/v1/invitations/{token}/rating",
                           json={"score": 3, "tags": ["推诿扯皮"], "comment": "拖了三天"})
    assert response.status_code == 201
    return response.json["receipt"]


def close_today(session) -> None:
    """Sequence what is pending and checkpoint today, as the 00:10 job will tomorrow."""
    now = datetime.now(UTC)
    ledger.append_pending(session, now, TZ)
    ledger.checkpoint_days(session, now + timedelta(days=1), TZ)


def make_ratings(session, count: int, score: int = 9, ids: list[int] | None = None) -> list[int]:
    """Insert event ratings for C001 directly; return their ids."""
    seed(session)
    template = current_template(session, current_app.extensions["catalogue"], "service_event")
    cadre = session.scalar(select(Cadre).where(Cadre.code == "C001"))
    rows = [Rating(cadre_id=cadre.id, rater_group="recipient", score=score,
                   tags=["热情周到", "办事高效"][: n % 3], comment="很好" if n % 2 else None,
                   template_id=template.id, event_type="approval", submitted_hour=DAY1,
                   month="2026-11", receipt_hash=receipt_hash(secrets.token_hex(16), 0))
            for n in range(count)]
    for row, rating_id in zip(rows, ids or [], strict=False):
        row.id = rating_id
    session.add_all(rows)
    session.commit()
    return [row.id for row in rows]


def mth(leaves: list[str]) -> bytes:
    """RFC 6962 Merkle tree hash, written independently of the service."""
    if len(leaves) == 1:
        return hashlib.sha256(b"\x00" + bytes.fromhex(leaves[0])).digest()
    k = 2 ** ((len(leaves) - 1).bit_length() - 1)
    return hashlib.sha256(b"\x01" + mth(leaves[:k]) + mth(leaves[k:])).digest()


def fold(leaf: str, proof: list[dict]) -> str:
    """Walk an audit path up to the root."""
    node = hashlib.sha256(b"\x00" + bytes.fromhex(leaf)).digest()
    for step in proof:
        pair = (bytes.fromhex(step["hash"]), node) if step["side"] == "left" else \
            (node, bytes.fromhex(step["hash"]))
        node = hashlib.sha256(b"\x01" + pair[0] + pair[1]).digest()
    return node.hex()
