"""Review of fraud signals: a reviewer excludes an item's ratings or clears it, with a reason.

Excluding goes through the one exclusion path (counts follow at once, each rating's exclusion
is audited); scores and alerts follow at the next publication of the affected months. The
decision itself is audited too. Ratings already excluded are skipped, so a decision that
stopped half-way can be taken again. An item names only the ratings carrying its signal;
an aggregate item (an official's link use, score shape, unstamped share, a burst hour) names
none, so it can be cleared but not "excluded": nothing of it is a rating.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.errors import Conflict, InvalidInput, NotFound
from backend.models import ReviewItem, ScoreSnapshot
from backend.models.ledger import CLEARED, EXCLUDED, OPEN
from backend.scoring import parse_period
from backend.services.accounts import audit
from backend.services.fraud.exclusions import change_status
from backend.services.sealing.seal import Sealer
from backend.storage.transactions import begin_write

ACTIONS = {"exclude": EXCLUDED, "clear": CLEARED}


@dataclass
class Decision:
    """What a decision did: the item, ratings excluded now, and the months to republish."""

    item: ReviewItem
    excluded: int = 0
    skipped: int = 0
    months: set[str] = field(default_factory=set)


def list_items(session: Session, state: str | None = OPEN, kind: str | None = None,
               limit: int = 100) -> list[ReviewItem]:
    """Return review items, oldest first."""
    query = select(ReviewItem).order_by(ReviewItem.id).limit(limit)
    if state:
        query = query.where(ReviewItem.state == state)
    if kind:
        query = query.where(ReviewItem.kind == kind)
    return list(session.scalars(query))


def open_item(session: Session, item_id: int) -> ReviewItem:
    """Return an open item or raise NotFound / Conflict."""
    item = session.get(ReviewItem, item_id)
    if item is None:
        raise NotFound(f"复核条目不存在：{item_id}")
    if item.state != OPEN:
        raise Conflict(f"复核条目 #{item_id} 已处理（{item.state}）")
    return item


def decide(session: Session, sealer: Sealer, item_id: int, action: str, reason: str,
           actor: str, now: datetime, address: str | None = None) -> Decision:
    """Exclude an item's ratings or clear it, with a reason; audited; commit."""
    reason = (reason or "").strip()
    if action not in ACTIONS:
        raise InvalidInput(errors={"action": "只能是 exclude 或 clear"})
    if not reason or len(reason) > 500:
        raise InvalidInput(errors={"reason": "请填写原因（不超过 500 字）"})
    decision = Decision(open_item(session, item_id))
    if action == "exclude" and not decision.item.rating_ids:
        raise Conflict(f"复核条目 #{item_id} 只指向干部和时段，不指明评价，无可排除；"
                       "请核查后放行，或排除同期指明评价的条目")
    if action == "exclude":
        exclude_ratings(session, sealer, decision, reason, actor, now, address)
    begin_write(session)
    item = open_item(session, item_id)
    item.state, item.reason, item.decided_by, item.decided_at = ACTIONS[action], reason, actor, now
    audit.record(session, actor, f"review.{action}", f"review:{item.id}", now,
                 {"reason": reason, "kind": item.kind, "window": item.window,
                  "ratings": len(item.rating_ids or []), "excluded_now": decision.excluded},
                 address)
    session.commit()
    decision.item = item
    return decision


def exclude_ratings(session: Session, sealer: Sealer, decision: Decision, reason: str,
                    actor: str, now: datetime, address: str | None) -> None:
    """Exclude each rating of the item that is still valid."""
    item_id, rating_ids = decision.item.id, list(decision.item.rating_ids or [])
    note = f"复核条目 #{item_id}：{reason}"[:500]
    for rating_id in rating_ids:
        try:
            rating = change_status(session, sealer, rating_id, True, note, actor, now, address)
        except (Conflict, NotFound):
            session.rollback()
            decision.skipped += 1
            continue
        decision.excluded += 1
        decision.months.add(rating.month)


def stale_periods(session: Session, months: set[str]) -> list[str]:
    """Return the published periods that contain any of `months` (to publish again)."""
    if not months:
        return []
    published = session.scalars(select(ScoreSnapshot.period).distinct()
                                .where(ScoreSnapshot.superseded_at.is_(None)))
    return sorted(p for p in published if months & set(parse_period(p).months))
