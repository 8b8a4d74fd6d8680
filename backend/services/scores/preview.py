"""What publishing a period would change, computed without writing anything.

The same computation as publication.publish_period, compared with each official's current
snapshot: the officials whose document would differ (new, or changed figures), with their
headline before and after, so an administrator sees what a publication will push.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.models import Cadre, ScoreSnapshot
from backend.services.scores.documents import compute
from backend.services.scores.publication import begun_period, current_hashes, low_sample_end
from backend.services.scores.score_counts import official_counts
from backend.services.scores.targets import OFFICIAL_TARGET, team_targets

if TYPE_CHECKING:  # the book is built by the callers (schemes.scheme_book)
    from backend.services.scores.schemes import SchemeBook

SHOWN = 200


@dataclass
class Preview:
    """How many officials a publication covers, how many would change, and the first SHOWN."""

    period: str
    officials: int = 0
    teams: int = 0  # leadership teams, scored beside the officials
    changed: int = 0
    rows: list[dict] = field(default_factory=list)


def headline_text(document: dict | None) -> str:
    """Return a document's headline in words: 综合 86.00, 随时评指数 86.00 or 样本不足."""
    if not document:
        return "（未发布）"
    headline = document.get("headline") or {}
    names = {"composite": "综合得分", "recipient_index": "随时评指数"}
    if headline.get("kind") in names:
        return f"{names[headline['kind']]} {float(headline['score_100']):.2f}"
    return "样本不足"


def previous_documents(session: Session, snapshot_ids: list[int]) -> dict[int, dict]:
    """Return the current documents by snapshot id."""
    if not snapshot_ids:
        return {}
    return dict(session.execute(select(ScoreSnapshot.id, ScoreSnapshot.document)
                                .where(ScoreSnapshot.id.in_(snapshot_ids[:SHOWN]))).all())


def preview_period(session: Session, label: str, book: SchemeBook, now: datetime,
                   tz: tzinfo) -> Preview:
    """Compute every official's score for a period and list those a publication would change."""
    period = begun_period(label, now, tz)
    current = current_hashes(session, label)
    preview, changed = Preview(label), []
    teams = team_targets(session)
    for official in official_counts(session, period, book.default,
                                    low_sample_end(period, now, tz)):
        computed = compute(official, period, book.scheme_for(official.cadre_id), now, None,
                           teams.get(official.cadre_id, OFFICIAL_TARGET))
        if computed.team:
            preview.teams += 1
        else:
            preview.officials += 1
        before = current.get(computed.cadre_id)
        if before is None or before[1] != computed.document_hash:
            preview.changed += 1
            if len(changed) < SHOWN:
                changed.append((computed, before[0] if before else None))
    olds = previous_documents(session, [s for _, s in changed if s is not None])
    names = dict(session.execute(select(Cadre.id, Cadre.name)
                                 .where(Cadre.id.in_([c.cadre_id for c, _ in changed]))).all())
    for computed, snapshot_id in changed:
        old = olds.get(snapshot_id) if snapshot_id else None
        preview.rows.append({"cadre_code": computed.code, "cadre": names.get(computed.cadre_id),
                             "change": "新增" if old is None else "变化",
                             "before": headline_text(old),
                             "after": headline_text(computed.document),
                             "flags": list(computed.flags)})
    session.rollback()  # read only: end the read transaction
    return preview
