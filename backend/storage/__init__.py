"""The one place that knows the database engine.

Two implementations of one interface: the portable one (portable.py: SQLite, used by the
embedded demo) and PostgreSQL's (postgres.py: pivots, sequences, advisory locks, snapshot
readers, work beside the caller), plus the engine-specific paths that the services call as
plain functions (bulk.py: COPY and JSON rows; rating_store*.py: the one-statement submission;
streaming.py: named cursors). `choose` picks the implementation once, in `create_app`;
services reach it through their session with `storage_of`. psycopg is imported only in this
package, and only where PostgreSQL is in use.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from backend.storage.engine import POSTGRESQL, SQLITE, Bind, engine_kind, session_for, url_of
from backend.storage.portable import PortableStorage
from backend.storage.postgres import PostgresStorage

Storage = PortableStorage  # the interface; PostgresStorage is its other implementation
STORAGES: dict[str, Storage] = {SQLITE: PortableStorage(), POSTGRESQL: PostgresStorage()}


class UnsupportedDatabase(RuntimeError):
    """The configured database is neither PostgreSQL nor SQLite."""


def storage_of(bind: Bind) -> Storage:
    """Return the storage of a session's (or engine's) database."""
    kind = engine_kind(bind)
    try:
        return STORAGES[kind]
    except KeyError:
        raise UnsupportedDatabase(f"不支持的数据库：{kind}。DATABASE_URL 须指向 "
                                  "PostgreSQL（生产）或 SQLite（嵌入模式）") from None


def choose(engine: Engine) -> Storage:
    """Pick an engine's storage when the application is created; refuse any other engine."""
    return storage_of(engine)


def upsert_insert(session: Session) -> Any:
    """Return the engine's `insert` that offers ON CONFLICT (PostgreSQL's or SQLite's)."""
    return storage_of(session).upsert_insert()


def advisory_lock(session: Session, key: int) -> None:
    """Hold a transaction-scoped lock where the engine has them (SQLite's one writer needs none)."""
    storage_of(session).advisory_lock(session, key)


def try_advisory_lock(session: Session, key: int) -> bool:
    """Try a transaction-scoped lock; False when another transaction holds it."""
    return storage_of(session).try_advisory_lock(session, key)


__all__ = ["STORAGES", "PortableStorage", "Storage", "UnsupportedDatabase", "advisory_lock",
           "choose", "session_for", "storage_of", "try_advisory_lock", "upsert_insert",
           "url_of"]
