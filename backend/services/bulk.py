"""Multi-row INSERTs that stay cheap at a thousand rows.

On PostgreSQL rows go in as one array per column through `unnest`, so the statement has a
parameter per column instead of one per value (the driver would otherwise parse a statement
with tens of thousands of placeholders). Elsewhere SQLAlchemy's executemany does the work.
RETURNING rows come back keyed by a unique column, so their order does not matter.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from sqlalchemy import JSON, Table, insert, text
from sqlalchemy.orm import Session


def array_sql(table: Table, columns: Sequence[str], dialect) -> str:
    """Return `unnest(CAST(:c AS type[]), ...)` for the given columns."""
    casts = [f"CAST(:{c} AS {table.c[c].type.compile(dialect=dialect)}[])" for c in columns]
    return f"unnest({', '.join(casts)})"


def insert_rows(session: Session, table: Table, rows: list[dict],
                returning: Sequence[str] = ()) -> list[tuple]:
    """Insert rows (all with the same keys); return the `returning` columns of each row."""
    if not rows:
        return []
    columns = list(rows[0])
    dialect = session.get_bind().dialect
    if dialect.name != "postgresql":
        statement = insert(table)
        if returning:
            statement = statement.returning(*(table.c[c] for c in returning),
                                            sort_by_parameter_order=True)
            return [tuple(r) for r in session.execute(statement, rows)]
        session.execute(statement, rows)
        return []
    unknown = (set(columns) | set(returning)) - set(table.c.keys())
    if unknown:
        raise ValueError(f"not columns of {table.name}: {sorted(unknown)}")
    # Identifiers come from the model's own table (checked above); values are parameters.
    sql = (f"INSERT INTO {table.name} ({', '.join(columns)}) "  # noqa: S608
           f"SELECT * FROM {array_sql(table, columns, dialect)}")
    if returning:
        sql += " RETURNING " + ", ".join(returning)
    result = session.execute(text(sql), column_arrays(table, columns, rows, dialect))
    return [tuple(r) for r in result] if returning else []


def column_arrays(table: Table, columns: Sequence[str], rows: list[dict], dialect) -> dict:
    """Return one list per column, each value bind-processed by its column type."""
    arrays = {}
    for column in columns:
        values = [row[column] for row in rows]
        if isinstance(table.c[column].type, JSON):  # sent as text, cast to json[] by SQL
            arrays[column] = [None if v is None else json.dumps(v, ensure_ascii=False)
                              for v in values]
            continue
        process = table.c[column].type.bind_processor(dialect)
        arrays[column] = [process(v) for v in values] if process else values
    return arrays
