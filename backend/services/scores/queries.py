"""Read published scores: current snapshots of a period, page by page."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.models import Cadre, ScoreSnapshot


def current_scores(session: Session, period: str, cadre_code: str | None = None,
                   after: str | None = None, limit: int = 1000) -> tuple[list[dict], str | None]:
    """Return current score documents ordered by cadre code, and the next page's cursor.

    Each official's current document is under the scheme that applies to them; the document
    names it.
    """
    query = (select(Cadre.code, ScoreSnapshot.document)
             .join(Cadre, ScoreSnapshot.cadre_id == Cadre.id)
             .where(ScoreSnapshot.period == period, ScoreSnapshot.superseded_at.is_(None))
             .order_by(Cadre.code).limit(limit + 1))
    if cadre_code:
        query = query.where(Cadre.code == cadre_code)
    if after:
        query = query.where(Cadre.code > after)
    rows = session.execute(query).all()
    page = rows[:limit]
    return [document for _code, document in page], (page[-1][0] if len(rows) > limit else None)
