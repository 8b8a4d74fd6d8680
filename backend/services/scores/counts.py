"""Count tables kept in step with valid ratings: added at release, adjusted at exclusion."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from sqlalchemy.orm import Session

from backend.models import RatingCount, RatingTagCount
from backend.storage import storage_of, upsert_insert


def upsert(session: Session, model, key: dict, delta: int) -> None:
    """Add `delta` to the count at `key`, creating the row when missing."""
    insert = upsert_insert(session)
    statement = insert(model).values(**key, count=delta)
    statement = statement.on_conflict_do_update(
        index_elements=list(key), set_={"count": model.count + delta})
    session.execute(statement)


def add_rating(session: Session, cadre_id: int, month: str, group: str, score: int,
               tags: Iterable[str], delta: int = 1) -> None:
    """Count (or with delta=-1 uncount) one rating and its tags."""
    base = {"cadre_id": cadre_id, "month": month, "rater_group": group}
    upsert(session, RatingCount, {**base, "score": score}, delta)
    for tag in sorted(set(tags)):
        upsert(session, RatingTagCount, {**base, "tag": tag}, delta)


def add_many(session: Session, model, keys: Sequence[str], rows: Mapping[tuple, Mapping[str, int]]
             ) -> None:
    """Add per-key deltas to counter columns, creating missing rows (one statement).

    Rows go in key order, so concurrent adders lock count rows in the same order.
    """
    if not rows:
        return
    measures = sorted({m for deltas in rows.values() for m in deltas})
    values = [{**dict(zip(keys, key, strict=True)), **{m: deltas.get(m, 0) for m in measures}}
              for key, deltas in sorted(rows.items())]
    storage_of(session).add_counts(session, model, keys, measures, values)

