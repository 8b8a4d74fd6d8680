"""SQLite for embedded mode: real transactions, savepoints, WAL and BEGIN IMMEDIATE.

pysqlite defers BEGIN and mishandles SAVEPOINT; the recipe from SQLAlchemy's SQLite notes
takes over transaction control so that savepoints and rollbacks behave as on PostgreSQL.
A connection asked for with `execution_options(sqlite_immediate=True)` begins with
BEGIN IMMEDIATE, taking the write lock up front so that check-and-consume cannot race.
"""

from __future__ import annotations

from sqlalchemy import event
from sqlalchemy.engine import Engine

BUSY_TIMEOUT_MS = 10_000


def configure(engine: Engine) -> None:
    """Attach the transaction-control listeners to a SQLite engine (no-op otherwise)."""
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection, _record) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys = ON")
        if engine.url.database not in (None, "", ":memory:"):
            cursor.execute("PRAGMA journal_mode = WAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def on_begin(connection) -> None:
        immediate = connection.get_execution_options().get("sqlite_immediate")
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")
