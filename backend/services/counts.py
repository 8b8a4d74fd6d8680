"""Count tables kept in step with valid ratings: added at release, adjusted at exclusion."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from sqlalchemy import text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from backend.models import RatingCount, RatingTagCount
from backend.services.bulk import record_type, rows_json


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
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        add_many_postgresql(session, model, keys, measures, values)
        return
    statement = sqlite.insert(model)
    statement = statement.on_conflict_do_update(
        index_elements=list(keys),
        set_={m: getattr(model, m) + getattr(statement.excluded, m) for m in measures})
    session.execute(statement, values)


def add_many_postgresql(session: Session, model, keys: Sequence[str], measures: Sequence[str],
                        values: list[dict]) -> None:
    """Add the deltas in ONE statement whose rows travel as one JSON parameter.

    An executemany of the upsert costs a statement per row on both sides (a release batch
    adds thousands of count rows); json_to_recordset expands them in the database instead.
    """
    table = model.__table__
    # Counter columns this call does not add to start at their default (as an ORM insert's).
    defaults = {c.name: c.default.arg for c in table.columns
                if c.name not in keys and c.name not in measures
                and c.default is not None and c.default.is_scalar}
    values = [{**row, **defaults} for row in values] if defaults else values
    columns = [*keys, *measures, *defaults]
    dialect = session.get_bind().dialect
    names, record = ", ".join(columns), record_type(table, columns, dialect)
    added = ", ".join(f"{m} = {table.name}.{m} + excluded.{m}" for m in measures)
    # Identifiers come from the model's own table and the caller's column names.
    sql = (f"INSERT INTO {table.name} ({names}) SELECT {names} "  # noqa: S608
           f"FROM json_to_recordset(CAST(:rows AS json)) AS x({record})"
           f" ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {added}")
    session.execute(text(sql), {"rows": rows_json(table, columns, values, dialect)})
