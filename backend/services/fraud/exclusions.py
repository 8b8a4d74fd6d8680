"""Exclude a rating from scoring (or include it again), with a reason; never delete it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from backend.errors import Conflict, InvalidInput, NotFound
from backend.models import Rating
from backend.models.ratings import EXCLUDED, VALID
from backend.services.accounts import audit
from backend.services.scores import counts
from backend.services.sealing.mac import rating_mac
from backend.services.sealing.seal import Sealer
from backend.storage.transactions import begin_write


def change_status(session: Session, sealer: Sealer, rating_id: int, excluded: bool, reason: str,
                  actor: str, now: datetime, address: str | None = None) -> Rating:
    """Exclude or re-include a rating: counts and its MAC follow at once, audited; commit."""
    reason = checked_reason(reason)
    begin_write(session)
    rating = set_status(session, sealer, rating_id, excluded, reason, actor, now, address)
    session.commit()
    return rating


def checked_reason(reason: str | None) -> str:
    """Return an exclusion's reason, stripped; refuse an empty or overlong one."""
    reason = (reason or "").strip()
    if not reason or len(reason) > 500:
        raise InvalidInput(errors={"reason": "请填写原因（不超过 500 字）"})
    return reason


def set_status(session: Session, sealer: Sealer, rating_id: int, excluded: bool, reason: str,
               actor: str, now: datetime, address: str | None = None) -> Rating:
    """Change a rating's status in the caller's transaction (counts, MAC, audit follow)."""
    reason = checked_reason(reason)
    rating = session.get(Rating, rating_id)
    if rating is None:
        raise NotFound(f"评价不存在：{rating_id}")
    wanted = EXCLUDED if excluded else VALID
    if rating.status == wanted:
        raise Conflict("该评价已被排除" if excluded else "该评价本就有效")
    rating.status = wanted
    rating.excluded_reason = reason if excluded else None
    rating.excluded_by = actor if excluded else None
    rating.excluded_at = now if excluded else None
    rating.mac = rating_mac(sealer, rating)
    counts.add_rating(session, rating.cadre_id, rating.month, rating.rater_group, rating.score,
                      rating.tags or [], delta=-1 if excluded else 1)
    audit.record(session, actor, "rating.exclude" if excluded else "rating.include",
                 f"rating:{rating.id}", now, {"reason": reason, "cadre_id": rating.cadre_id,
                                               "month": rating.month}, address)
    return rating
