"""Review of fraud signals: a reviewer excludes an item's ratings or clears it, with a reason.

Excluding goes through the one exclusion path (counts follow at once, each rating's exclusion
is audited); scores and alerts follow at the next publication of the affected months. The
decision itself is audited too, and takes one transaction: the item is locked, its ratings
still valid are excluded (those already excluded are skipped), the item is closed. An item
names only the ratings carrying its signal; an aggregate item (an official's link use, score
shape, unstamped share, a burst hour) names none, so it can be cleared but not "excluded":
nothing of it is a rating.

From the console, excluding is a two-person decision (services/accounts/four_eyes.py, the
mechanism appeals use too): `approve_exclusion` records the first org admin's approval and
excludes on a different admin's second. The command line (`flask review exclude`) is the
operator's single-step path.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from backend.errors import Conflict, InvalidInput, NotFound
from backend.models import Cadre, Rating, ReviewItem, ScoreSnapshot, TwoPersonDecision
from backend.models.approvals import PENDING as APPROVAL_PENDING
from backend.models.ledger import CLEARED, EXCLUDED, OPEN
from backend.models.ratings import VALID
from backend.scoring import parse_period
from backend.services.accounts import audit, four_eyes
from backend.services.fraud.exclusions import set_status
from backend.services.fraud.explain import explain, figures, kind_label
from backend.services.sealing.seal import Sealer
from backend.storage.transactions import begin_write

ACTIONS = {"exclude": EXCLUDED, "clear": CLEARED}
STATES = (OPEN, CLEARED, EXCLUDED)


@dataclass
class Decision:
    """What a decision did: the item, ratings excluded now, and the months to republish.

    `pending` is true when only a first approval of an exclusion was recorded.
    """

    item: ReviewItem
    excluded: int = 0
    skipped: int = 0
    months: set[str] = field(default_factory=set)
    pending: bool = False


def list_items(session: Session, state: str | None = OPEN, kind: str | None = None,
               limit: int = 100, offset: int = 0, cadre_id: int | None = None
               ) -> list[ReviewItem]:
    """Return review items, oldest first."""
    query = item_query(select(ReviewItem), state, kind, cadre_id)
    return list(session.scalars(query.order_by(ReviewItem.id).offset(offset).limit(limit)))


def count_items(session: Session, state: str | None = OPEN, kind: str | None = None,
                cadre_id: int | None = None) -> int:
    """Return how many review items match the filters."""
    query = item_query(select(func.count()).select_from(ReviewItem), state, kind, cadre_id)
    return session.scalar(query) or 0


def item_query(query: Select, state: str | None, kind: str | None,
               cadre_id: int | None) -> Select:
    """Narrow a query of review items to a state, a kind and an official (None: any)."""
    if state:
        query = query.where(ReviewItem.state == state)
    if kind:
        query = query.where(ReviewItem.kind == kind)
    if cadre_id is not None:
        query = query.where(ReviewItem.cadre_id == cadre_id)
    return query


def get_item(session: Session, item_id: int, lock: bool = False) -> ReviewItem:
    """Return a review item in any state, or raise NotFound."""
    query = select(ReviewItem).where(ReviewItem.id == item_id)
    item = session.scalar(query.with_for_update() if lock else query)
    if item is None:
        raise NotFound(f"复核条目不存在：{item_id}")
    return item


def open_item(session: Session, item_id: int, lock: bool = False) -> ReviewItem:
    """Return an open item or raise NotFound / Conflict."""
    item = get_item(session, item_id, lock)
    if item.state != OPEN:
        raise Conflict(f"复核条目 #{item_id} 已处理（{item.state}）")
    return item


def checked(action: str, reason: str | None) -> str:
    """Check a decision's action and reason; return the reason stripped."""
    reason = (reason or "").strip()
    if action not in ACTIONS:
        raise InvalidInput(errors={"action": "只能是 exclude 或 clear"})
    if not reason or len(reason) > 500:
        raise InvalidInput("请填写原因（不超过 500 字）",
                           {"reason": "请填写原因（不超过 500 字）"})
    return reason


def excludable(item: ReviewItem) -> None:
    """Refuse to exclude an item that names no rating."""
    if not item.rating_ids:
        raise Conflict(f"复核条目 #{item.id} 只指向干部和时段，不指明评价，无可排除；"
                       "请核查后放行，或排除同期指明评价的条目")


def decide(session: Session, sealer: Sealer, item_id: int, action: str, reason: str,
           actor: str, now: datetime, address: str | None = None) -> Decision:
    """Exclude an item's ratings or clear it, with a reason, in one transaction; commit."""
    reason = checked(action, reason)
    begin_write(session)
    try:
        decision = Decision(open_item(session, item_id, lock=True))
        if action == "exclude":
            excludable(decision.item)
            exclude_ratings(session, sealer, decision, reason, actor, now, address)
        else:
            four_eyes.withdraw(session, f"review:{item_id}", "exclude", actor,
                               f"放行：{reason}", now, address)
        close(session, decision, action, reason, actor, now, address)
    except Exception:
        session.rollback()
        raise
    session.commit()
    return decision


def approve_exclusion(session: Session, sealer: Sealer, item_id: int, reason: str, actor: str,
                      now: datetime, address: str | None = None) -> Decision:
    """Record a first approval to exclude an item's ratings, or exclude on a second; commit."""
    reason = checked("exclude", reason)
    begin_write(session)
    try:
        decision = Decision(open_item(session, item_id, lock=True))
        excludable(decision.item)
        approval = four_eyes.approve(session, f"review:{item_id}", "exclude", actor, reason,
                                     now, address)
        if approval.complete:
            exclude_ratings(session, sealer, decision, reason, actor, now, address)
            close(session, decision, "exclude", reason, actor, now, address,
                  first_by=approval.decision.first_by)
        else:
            decision.pending = True
            decision.item.updated_at = now
    except Exception:
        session.rollback()
        raise
    session.commit()
    return decision


def close(session: Session, decision: Decision, action: str, reason: str, actor: str,
          now: datetime, address: str | None, first_by: str | None = None) -> None:
    """Mark the item decided and audit the decision (in the caller's transaction)."""
    item = decision.item
    item.state, item.reason, item.decided_by, item.decided_at = ACTIONS[action], reason, actor, now
    details = {"reason": reason, "kind": item.kind, "window": item.window,
               "ratings": len(item.rating_ids or []), "excluded_now": decision.excluded}
    if first_by:
        details["first_by"] = first_by
    audit.record(session, actor, f"review.{action}", f"review:{item.id}", now, details, address)


def exclude_ratings(session: Session, sealer: Sealer, decision: Decision, reason: str,
                    actor: str, now: datetime, address: str | None) -> None:
    """Exclude each rating of the item that is still valid (in the caller's transaction)."""
    item_id, rating_ids = decision.item.id, list(decision.item.rating_ids or [])
    note = f"复核条目 #{item_id}：{reason}"[:500]
    valid = set(session.scalars(select(Rating.id).where(Rating.id.in_(rating_ids),
                                                        Rating.status == VALID)))
    for rating_id in rating_ids:
        if rating_id not in valid:
            decision.skipped += 1
            continue
        rating = set_status(session, sealer, rating_id, True, note, actor, now, address)
        decision.excluded += 1
        decision.months.add(rating.month)


def stale_periods(session: Session, months: set[str]) -> list[str]:
    """Return the published periods that contain any of `months` (to publish again)."""
    if not months:
        return []
    published = session.scalars(select(ScoreSnapshot.period).distinct()
                                .where(ScoreSnapshot.superseded_at.is_(None)))
    return sorted(p for p in published if months & set(parse_period(p).months))


STATE_LABELS = {OPEN: "待复核", CLEARED: "已放行", EXCLUDED: "已排除"}


def item_view(session: Session, item: ReviewItem) -> dict[str, Any]:
    """Return what the console shows of an item: its signal explained, figures, decisions."""
    return item_views(session, [item])[0]


def item_views(session: Session, items: list[ReviewItem]) -> list[dict[str, Any]]:
    """Return the views of several items, reading their officials and approvals at once."""
    cadre_ids = {i.cadre_id for i in items if i.cadre_id}
    cadres = {c.id: c for c in session.scalars(select(Cadre).where(Cadre.id.in_(cadre_ids)))
              } if cadre_ids else {}
    subjects = [f"review:{i.id}" for i in items]
    approvals = {a.subject: a for a in session.scalars(select(TwoPersonDecision).where(
        TwoPersonDecision.subject.in_(subjects), TwoPersonDecision.action == "exclude"))
        } if subjects else {}
    return [view(item, cadres.get(item.cadre_id), approvals.get(f"review:{item.id}"))
            for item in items]


def view(item: ReviewItem, cadre: Cadre | None,
         approval: TwoPersonDecision | None) -> dict[str, Any]:
    """Return one item's view from its official and its two-person decision (if any)."""
    waiting = approval is not None and approval.state == APPROVAL_PENDING
    return {"id": item.id, "kind": item.kind, "kind_label": kind_label(item.kind),
            "subject": item.subject, "window": item.window, "state": item.state,
            "state_label": "待第二名管理员确认" if waiting else STATE_LABELS.get(item.state,
                                                                             item.state),
            "cadre": f"{cadre.name}（{cadre.code}）" if cadre else "",
            "ratings": len(item.rating_ids or []), "explanation": explain(item.kind,
                                                                           item.evidence),
            "figures": figures(item.evidence), "reason": item.reason,
            "decided_by": item.decided_by, "decided_at": item.decided_at,
            "created_at": item.created_at, "waiting": waiting,
            "first_by": approval.first_by if approval else None,
            "first_note": approval.first_note if approval else None,
            "first_at": approval.first_at if approval else None,
            "second_by": approval.second_by if approval else None}
