"""Count tables kept in step with valid ratings, in the rating's own transaction."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from backend.models import RatingCount, RatingTagCount


def upsert(session: Session, model, key: dict, delta: int) -> None:
    """Add `delta` to the count at `key`, creating the row when missing."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
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
