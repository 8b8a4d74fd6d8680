"""Helpers for ledger tests: ratings submitted and released at chosen times, and an independent
Merkle check."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from backend import wiring
from backend.models import Rating
from backend.scoring.merkle import receipt_hash
from backend.services.ledger import chain as ledger
from backend.services.ratings import submission as ratings
from backend.services.ratings.release import release
from backend.services.ratings.rules import RatedTarget, Submission
from tests.support.invitations import issue

DAY1 = datetime(2026, 11, 18, 2, tzinfo=UTC)  # 10:00 in Shanghai
TZ = ZoneInfo("Asia/Shanghai")
TAGS = ("热情周到", "办事高效")


def rate(client) -> str:
    """Rate a fresh invitation through the API; return the receipt."""
    token = issue(prefix=secrets.token_hex(4))[0]["token"]
    response = client.post(f"/api/v1/invitations/{token}/rating",
                           json={"score": 3, "tags": ["推诿扯皮"], "comment": "拖了三天"})
    assert response.status_code == 201
    return response.json["receipt"]


def close_today(session) -> None:
    """Release what is pending and checkpoint today, as the jobs will by tomorrow."""
    now = datetime.now(UTC)
    release(session, wiring.release_context(), force=True)
    ledger.checkpoint_days(session, now + timedelta(days=1), TZ)


def submit_ratings(session, count: int, at: datetime = DAY1, score: int = 9) -> list[str]:
    """Submit event ratings for C001 through the submission service at `at`; return receipts."""
    tokens = [i["token"] for i in issue(count, prefix=secrets.token_hex(4))]
    ctx = ratings.SubmitContext(wiring.token_codec(), wiring.sealer(), TZ, at)
    return [ratings.submit(session, ctx, token,
                           Submission([RatedTarget(None, score, tuple(TAGS[: n % 3]))],
                                      comment="很好" if n % 2 else None),
                           ratings.ClientSignals())
            for n, token in enumerate(tokens)]


def release_at(session, at: datetime) -> int:
    """Release everything pending as a batch made at `at`; return how many ratings."""
    ctx = replace(wiring.release_context(), now=at)
    return release(session, ctx, force=True).ratings


def rating_ids(session, receipts: list[str]) -> list[int]:
    """Return the ids of the ratings stored under receipts, in the receipts' order."""
    by_hash = dict(session.execute(select(Rating.receipt_hash, Rating.id).where(
        Rating.receipt_hash.in_([receipt_hash(r, 0) for r in receipts]))).all())
    return [by_hash[receipt_hash(r, 0)] for r in receipts]


def make_ratings(session, count: int, at: datetime = DAY1, score: int = 9) -> list[int]:
    """Submit ratings for C001 and release them as one batch at `at`; return their ids."""
    receipts = submit_ratings(session, count, at, score)
    assert release_at(session, at) == count
    return rating_ids(session, receipts)


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
