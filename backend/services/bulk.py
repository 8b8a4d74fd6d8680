"""Multi-row INSERTs that stay cheap at a thousand rows.

On PostgreSQL all rows travel as ONE JSON parameter expanded by `json_to_recordset`, so the
statement has a single placeholder (the driver would otherwise parse a statement with tens of
thousands of placeholders, or escape every element of text arrays). Elsewhere SQLAlchemy's
executemany does the work. RETURNING rows come back keyed by a unique column, so their order
does not matter.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import JSON, Table, insert, text
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session


def record_type(table: Table, columns: Sequence[str], dialect) -> str:
    """Return the `AS x(col type, ...)` column list of json_to_recordset."""
    def sql_type(column: str) -> str:
        kind = table.c[column].type
        return "json" if isinstance(kind, JSON) else kind.compile(dialect=dialect)

    return ", ".join(f"{c} {sql_type(c)}" for c in columns)


def insert_rows(session: Session, table: Table, rows: list[dict],
                returning: Sequence[str] = (), skip_conflicts_on: str | None = None) -> list[tuple]:
    """Insert rows (all with the same keys); return the `returning` columns of each row.

    With `skip_conflicts_on`, rows whose value of that unique column exists are left out.
    """
    if not rows:
        return []
    columns = list(rows[0])
    dialect = session.get_bind().dialect
    if dialect.name != "postgresql":
        statement = sqlite_insert(table) if dialect.name == "sqlite" else insert(table)
        if skip_conflicts_on:
            statement = statement.on_conflict_do_nothing(index_elements=[skip_conflicts_on])
        if returning:
            statement = statement.returning(*(table.c[c] for c in returning),
                                            sort_by_parameter_order=True)
            return [tuple(r) for r in session.execute(statement, rows)]
        session.execute(statement, rows)
        return []
    unknown = (set(columns) | set(returning) | {skip_conflicts_on or columns[0]}) - set(
        table.c.keys())
    if unknown:
        raise ValueError(f"not columns of {table.name}: {sorted(unknown)}")
    # Identifiers come from the model's own table (checked above); values are one parameter.
    sql = (f"INSERT INTO {table.name} ({', '.join(columns)}) "  # noqa: S608
           f"SELECT {', '.join(columns)} FROM json_to_recordset(CAST(:rows AS json)) "
           f"AS x({record_type(table, columns, dialect)})")
    if skip_conflicts_on:
        sql += f" ON CONFLICT ({skip_conflicts_on}) DO NOTHING"
    if returning:
        sql += " RETURNING " + ", ".join(returning)
    result = session.execute(text(sql), {"rows": rows_json(table, columns, rows, dialect)})
    return [tuple(r) for r in result] if returning else []


def rows_json(table: Table, columns: Sequence[str], rows: list[dict], dialect) -> str:
    """Serialise rows to one JSON array, each value bind-processed by its column type."""
    processors = {c: table.c[c].type.bind_processor(dialect) for c in columns
                  if not isinstance(table.c[c].type, JSON)}
    out = []
    for row in rows:
        record = {}
        for column in columns:
            value, process = row[column], processors.get(column)
            record[column] = process(value) if process and value is not None else value
        out.append(record)
    return json.dumps(out, ensure_ascii=False, default=plain)


def plain(value):
    """Render values json cannot: times in ISO 8601 with offset, decimals as text."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"cannot store {type(value).__name__} in a bulk insert")
