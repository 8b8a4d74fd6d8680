"""Which comments may be shown: only those of a group that reached its minimum sample.

A comment is shown (console, exports, feedback PDF) only when its rater group holds at least
the scheme's `min_n` valid ratings of that official in the comment's month, the finest period
any output names: a comment of one of two peers could name its writer. A group the scheme
does not score has no minimum and its comments are never shown. The same rule masks the
comment (and tags) of a rating shown in a rectification case.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.models import Case, Rating
from backend.scoring import Scheme
from backend.services.cases.views import case_detail
from backend.services.reports.figures import month_group_totals

WITHHELD = "（该评价组当月有效评价未达最低样本数，意见不予显示）"
LIMIT = 200


def shown_keys(session: Session, scheme: Scheme, keys: Iterable[tuple[int, str, str]]
               ) -> set[tuple[int, str, str]]:
    """Return the (official, month, group) keys whose group reached its minimum that month."""
    keys = set(keys)
    if not keys:
        return set()
    totals = month_group_totals(session, sorted({k[0] for k in keys}), sorted({k[1] for k in keys}))
    return {key for key in keys if key[2] in scheme.groups
            and totals.get(key, 0) >= scheme.groups[key[2]].min_n}


def comment_shown(session: Session, scheme: Scheme, cadre_id: int, month: str,
                  group: str) -> bool:
    """Tell whether a rating's comment (and tags) may be shown."""
    return bool(shown_keys(session, scheme, [(cadre_id, month, group)]))


def visible_comments(session: Session, scheme: Scheme, cadre_id: int,
                     months: list[str] | None = None, limit: int = LIMIT,
                     valid_only: bool = False) -> list[dict[str, Any]]:
    """Return an official's newest comments whose group reached its minimum in their month."""
    query = select(Rating).where(Rating.cadre_id == cadre_id, Rating.comment.is_not(None),
                                 func.length(Rating.comment) > 0)
    if months is not None:
        query = query.where(Rating.month.in_(months))
    if valid_only:
        query = query.where(Rating.status == "valid")
    rows = list(session.scalars(query.order_by(Rating.id.desc()).limit(limit * 4)))
    allowed = shown_keys(session, scheme, [(r.cadre_id, r.month, r.rater_group) for r in rows])
    kept = [r for r in rows if (r.cadre_id, r.month, r.rater_group) in allowed][:limit]
    return [{"id": r.id, "date": r.batch_at.date(), "month": r.month, "group": r.rater_group,
             "score": r.score, "tags": list(r.tags or []), "comment": r.comment,
             "status": r.status} for r in kept]


def mask_below_minimum(session: Session, scheme: Scheme, rows: list[dict[str, Any]],
                       fields: tuple[str, ...] = ("score", "tags", "comment")) -> list[dict]:
    """Blank the score, tags and comment of rows (with cadre_id, month, group) below minimum."""
    allowed = shown_keys(session, scheme, [(r["cadre_id"], r["month"], r["group"]) for r in rows])
    for row in rows:
        if (row["cadre_id"], row["month"], row["group"]) not in allowed:
            row.update({name: None for name in fields})
            row["withheld"] = True
            if "comment" in fields:
                row["comment"] = WITHHELD
    return rows


def shown_case_detail(session: Session, case: Case, scheme: Scheme) -> dict[str, Any]:
    """Return a case's detail with the rating's score, tags and comment withheld when its
    group had fewer than its minimum of valid ratings of the official that month."""
    out = case_detail(case)
    if "rating" in out:
        row = {**out["rating"], "cadre_id": case.rating.cadre_id,
               "group": case.rating.rater_group}
        mask_below_minimum(session, scheme, [row])
        out["rating"].update({k: row[k] for k in ("score", "tags", "comment")},
                             withheld=row.get("withheld", False))
    return out
