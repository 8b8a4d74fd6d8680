"""Multi-row INSERTs that stay cheap at a thousand rows.

On PostgreSQL all rows travel as ONE JSON parameter expanded by `json_to_recordset`, so the
statement has a single placeholder (the driver would otherwise parse a statement with tens of
thousands of placeholders, or escape every element of text arrays). Elsewhere SQLAlchemy's
executemany does the work. RETURNING rows come back keyed by a unique column, so their order
does not matter.

`copy_rows` is faster still where nothing needs returning: PostgreSQL's COPY takes the rows in
its own text format, so the server parses no JSON around them (about half the server time).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Collection, Iterator, Sequence
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    ARRAY,
    JSON,
    Column,
    ColumnElement,
    Table,
    any_,
    bindparam,
    delete,
    insert,
    select,
    text,
)
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from backend.storage.engine import POSTGRESQL, SQLITE, engine_kind, on_postgres


class EncodedJSON(str):
    """JSON text already encoded, as the value of a JSON column: inserted as is, not re-encoded.

    Publication encodes each score document once and writes it to two tables; encoding it again
    per table would cost more than computing it.
    """


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
    kind = engine_kind(session)
    if kind != POSTGRESQL:
        rows = [decoded(row) for row in rows]
        statement = sqlite_insert(table) if kind == SQLITE else insert(table)
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
    dialect = session.get_bind().dialect
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


def copy_rows(session: Session, table: Table, rows: list[dict],
              skip_conflicts_on: str | None = None) -> None:
    """Insert rows (all with the same keys) with COPY on PostgreSQL, insert_rows elsewhere.

    With `skip_conflicts_on`, rows whose value of that unique column exists are left out (and
    of rows sharing a value, the first is kept). COPY cannot skip: the values already stored
    are looked up first and the other rows copied straight in, under a savepoint; should
    another transaction store one of them meanwhile, the rows go through a temporary table of
    this transaction and INSERT ... ON CONFLICT DO NOTHING instead.
    """
    if not rows:
        return
    if not on_postgres(session):
        insert_rows(session, table, rows, skip_conflicts_on=skip_conflicts_on)
        return
    columns = list(rows[0])
    unknown = (set(columns) | {skip_conflicts_on or columns[0]}) - set(table.c.keys())
    if unknown:
        raise ValueError(f"not columns of {table.name}: {sorted(unknown)}")
    if skip_conflicts_on is None:
        copy_into(session, table, table.name, columns, rows)
        return
    key = skip_conflicts_on
    stored = existing(session, table.c[key], list({row[key] for row in rows}))
    seen, fresh = set(stored), []
    for row in rows:
        if row[key] not in seen:
            seen.add(row[key])
            fresh.append(row)
    if not fresh:
        return
    with cursor_of(session) as cursor:
        cursor.execute("SAVEPOINT copy_rows")
        try:
            copy_into(session, table, table.name, columns, fresh)
        except Exception as error:
            if getattr(error, "sqlstate", None) != UNIQUE_VIOLATION:
                raise
            cursor.execute("ROLLBACK TO SAVEPOINT copy_rows")
            staged(session, table, columns, fresh, key)
        cursor.execute("RELEASE SAVEPOINT copy_rows")


UNIQUE_VIOLATION = "23505"


def cursor_of(session: Session):
    """Return a cursor of the driver's connection under the session, in its transaction."""
    return session.connection().connection.driver_connection.cursor()


def copy_into(session: Session, table: Table, target: str, columns: list[str],
              rows: list[dict]) -> None:
    """COPY rows of `table` into `target` (the table or its staging copy)."""
    names = ", ".join(columns)  # identifiers of the model's own table, checked by the caller
    with cursor_of(session) as cursor, cursor.copy(f"COPY {target} ({names}) FROM STDIN") as copy:
        for record in copy_records(table, columns, rows, session.get_bind().dialect):
            copy.write_row(record)


def staged(session: Session, table: Table, columns: list[str], rows: list[dict],
           key: str) -> None:
    """Insert rows through a temporary table, leaving out those whose `key` value exists."""
    names = ", ".join(columns)
    with cursor_of(session) as cursor:
        target = staging_table(cursor, table)
        copy_into(session, table, target, columns, rows)
        cursor.execute(f"INSERT INTO {table.name} ({names}) SELECT {names} "  # noqa: S608
                       f"FROM {target} ON CONFLICT ({key}) DO NOTHING")
        cursor.execute(f"TRUNCATE {target}")


def existing(session: Session, column: Column, values: list) -> set:
    """Return which of the values a (unique) column already holds."""
    if not on_postgres(session):
        return set(session.scalars(select(column).where(column.in_(values))))
    # One array parameter (a thousand IN placeholders cost more to send and plan than the
    # probe), joined rather than matched with = ANY: on a table just emptied and refilled in
    # this transaction the planner expects no rows, scans it, and = ANY would compare every
    # row with every value.
    kind = column.type.compile(dialect=session.get_bind().dialect)
    with cursor_of(session) as cursor:
        sql = (f"SELECT t.{column.name} FROM unnest(CAST(%s AS {kind}[])) AS v(value) "  # noqa: S608
               f"JOIN {column.table.name} AS t ON t.{column.name} = v.value")
        cursor.execute(sql, (values,))
        return {value for (value,) in cursor}


def staging_table(cursor, table: Table) -> str:
    """Create (once per transaction) an empty temporary copy of a table; return its name."""
    name = f"staging_{table.name}"
    cursor.execute(f"CREATE TEMPORARY TABLE IF NOT EXISTS {name} ON COMMIT DROP "  # noqa: S608
                   f"AS SELECT * FROM {table.name} WITH NO DATA")
    return name


def copy_records(table: Table, columns: Sequence[str], rows: list[dict], dialect):
    """Yield each row's values as COPY takes them: bind-processed, JSON columns as text."""
    json_columns = {c for c in columns if isinstance(table.c[c].type, JSON)}
    processors = {c: table.c[c].type.bind_processor(dialect) for c in columns
                  if c not in json_columns}
    last: dict[str, tuple] = {}  # per column: the last value and its rendering
    for row in rows:
        record = []
        for column in columns:
            value = row[column]
            if value is None or (column not in json_columns and processors[column] is None):
                record.append(value)
            elif column in json_columns:
                record.append(str(value) if isinstance(value, EncodedJSON)
                              else _ENCODER.encode(value))
            else:
                seen = last.get(column)  # batches repeat values (one `now` in every row)
                if seen is None or seen[0] is not value:
                    seen = last[column] = (value, processors[column](value))
                record.append(seen[1])
        yield record


def rows_json(table: Table, columns: Sequence[str], rows: list[dict], dialect) -> str:
    """Serialise rows to one JSON array, each value bind-processed by its column type."""
    processors = {c: table.c[c].type.bind_processor(dialect) for c in columns
                  if not isinstance(table.c[c].type, JSON)}
    last: dict[str, tuple] = {}  # per column: the last value and its rendering
    out = []
    for row in rows:
        record, spliced = {}, []
        for column in columns:
            value = row[column]
            if isinstance(value, EncodedJSON):
                spliced.append(f'"{column}":{value}')  # a checked column name needs no escape
            elif value is None or processors.get(column) is None:
                record[column] = value
            else:
                # Batches repeat values (one `now` in every row): process each once.
                seen = last.get(column)
                if seen is None or seen[0] is not value:
                    seen = last[column] = (value, plain_value(processors[column](value)))
                record[column] = seen[1]
        out.append(splice(_ENCODER.encode(record), spliced))
    return "[" + ",".join(out) + "]"


def splice(encoded: str, members: list[str]) -> str:
    """Add encoded `"name":value` members to an encoded JSON object."""
    if not members:
        return encoded
    return encoded[:-1] + ("," if encoded != "{}" else "") + ",".join(members) + "}"


def decoded(row: dict) -> dict:
    """Return a row with its EncodedJSON values decoded, for inserts through SQLAlchemy."""
    if not any(isinstance(value, EncodedJSON) for value in row.values()):
        return row
    return {k: json.loads(v) if isinstance(v, EncodedJSON) else v for k, v in row.items()}


def plain(value):
    """Render values json cannot: times in ISO 8601 with offset, decimals as text."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"cannot store {type(value).__name__} in a bulk insert")


def plain_value(value):
    """Return a processed value as json encodes it: times and decimals as text."""
    return plain(value) if isinstance(value, datetime | date | Decimal) else value


_ENCODER = json.JSONEncoder(ensure_ascii=False, default=plain)


def add_counts_as_json(session: Session, model, keys: Sequence[str], measures: Sequence[str],
                       values: list[dict]) -> None:
    """Add counter deltas on PostgreSQL in ONE statement whose rows travel as one JSON parameter.

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


def one_of(session: Session, column, values: Collection) -> ColumnElement[bool]:
    """`column IN values`; on PostgreSQL `= ANY` of one array parameter.

    A thousand IN placeholders cost the driver and SQLAlchemy more to build (and psycopg
    more to split) than the database to answer; one array travels as one value. Run it
    under `custom_plans`: a generic plan kept from a small table would compare every row
    with every element; a plan made for the array uses the table's index.
    """
    if not on_postgres(session):
        return column.in_(values)
    return column == any_(bindparam(None, list(values), type_=ARRAY(column.type)))


@contextlib.contextmanager
def custom_plans(session: Session) -> Iterator[None]:
    """Run the statements inside without prepared statements: each is planned for its values.

    psycopg prepares a statement a connection runs often, and PostgreSQL may then keep a
    generic plan made while a table was small: a plan that scans it whole, every batch, as it
    grows. Lookups of a batch's keys are planned with the keys and the table's size instead.
    """
    if not on_postgres(session):
        yield
        return
    driver = session.connection().connection.driver_connection
    threshold, driver.prepare_threshold = driver.prepare_threshold, None
    try:
        yield
    finally:
        driver.prepare_threshold = threshold


def delete_ids(session: Session, column: Column, ids: Sequence[int]) -> None:
    """Delete the rows whose (integer) `column` is one of `ids`.

    On PostgreSQL the ids travel as one array parameter (`= ANY`): an IN list of thousands
    of parameters costs the driver more to build than the server to run.
    """
    if not ids:
        return
    if on_postgres(session):
        session.execute(text(f"DELETE FROM {column.table.name} "  # noqa: S608
                             f"WHERE {column.name} = ANY(:ids)"), {"ids": list(ids)})
        return
    for start in range(0, len(ids), 500):  # SQLite's limit on bound parameters
        session.execute(delete(column.table).where(column.in_(ids[start:start + 500])))
