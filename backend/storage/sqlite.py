"""SQLite for embedded mode: real transactions, savepoints, WAL, and writes that never fail to lock.

pysqlite defers BEGIN and mishandles SAVEPOINT; the recipe from SQLAlchemy's SQLite notes
takes over transaction control so that savepoints and rollbacks behave as on PostgreSQL.

A deferred SQLite transaction that reads and then writes fails at once with "database is
locked" when another connection committed in between: its snapshot is stale and SQLite will
not upgrade it, whatever the busy timeout. So a transaction here emits no BEGIN until it
first writes: until then each read runs on its own and sees the latest commit, as a
statement does under PostgreSQL's READ COMMITTED, which every service is written for. The
first writing statement (or savepoint) is preceded by BEGIN IMMEDIATE, which waits for the
write lock (the busy timeout) instead of failing; from there the transaction holds the lock,
so its later reads see nothing change. A connection asked for with
`execution_options(sqlite_immediate=True)` takes the lock at once, before its first read,
so that check-and-consume sequences cannot race.
"""

from __future__ import annotations

import re

from sqlalchemy import event
from sqlalchemy.engine import Engine

from backend.storage.engine import SQLITE, engine_kind

BUSY_TIMEOUT_MS = 30_000
PENDING = "sqlite_begin_pending"
WRITING = re.compile(r"^\s*(INSERT|UPDATE|DELETE|REPLACE|CREATE|DROP|ALTER|SAVEPOINT)\b",
                     re.IGNORECASE)
CTE_WRITE = re.compile(r"^\s*WITH\b.*\b(INSERT|UPDATE|DELETE|REPLACE)\b",
                       re.IGNORECASE | re.DOTALL)


def writes(statement: str) -> bool:
    """Return whether a statement needs the write lock."""
    return bool(WRITING.match(statement) or CTE_WRITE.match(statement))


def configure(engine: Engine) -> None:
    """Attach the transaction-control listeners to a SQLite engine (no-op otherwise)."""
    if engine_kind(engine) != SQLITE:
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
        immediate = bool(connection.get_execution_options().get("sqlite_immediate"))
        connection.info[PENDING] = not immediate
        if immediate:
            connection.exec_driver_sql("BEGIN IMMEDIATE")

    @event.listens_for(engine, "before_cursor_execute")
    def on_execute(connection, cursor, statement, _parameters, _context, _many) -> None:
        if connection.info.get(PENDING) and writes(statement):
            connection.info[PENDING] = False
            if not cursor.connection.in_transaction:
                cursor.execute("BEGIN IMMEDIATE")

    @event.listens_for(engine, "commit")
    @event.listens_for(engine, "rollback")
    def on_end(connection) -> None:
        connection.info.pop(PENDING, None)
