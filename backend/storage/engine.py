"""Which database engine a session is on: the one place in the application that asks.

Everything engine-specific (COPY, pivots, advisory locks, sequences, upsert syntax) lives in
`backend.storage`; services ask these helpers instead of reading the dialect themselves.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

POSTGRESQL, SQLITE = "postgresql", "sqlite"


def engine_kind(bind: Session | Engine | Connection) -> str:
    """Return the engine's dialect name ("postgresql", "sqlite") of a session or engine."""
    if isinstance(bind, Session) or hasattr(bind, "get_bind"):
        bind = bind.get_bind()
    return bind.dialect.name


def on_postgres(bind: Session | Engine | Connection) -> bool:
    """Return whether the session (or engine) is on PostgreSQL."""
    return engine_kind(bind) == POSTGRESQL


def upsert_insert(session: Session) -> Any:
    """Return the engine's `insert` that offers ON CONFLICT (PostgreSQL's or SQLite's)."""
    return postgresql.insert if on_postgres(session) else sqlite.insert


def advisory_lock(session: Session, key: int) -> None:
    """Hold a transaction-scoped lock on PostgreSQL; SQLite's single writer needs none."""
    if on_postgres(session):
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})


def try_advisory_lock(session: Session, key: int) -> bool:
    """Try a transaction-scoped lock; False when another transaction holds it."""
    if not on_postgres(session):
        return True
    return bool(session.scalar(text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": key}))


def url_of(session: Session) -> str:
    """Return the URL of a session's database, password included, for a worker process."""
    return session.get_bind().url.render_as_string(hide_password=False)


@contextlib.contextmanager
def session_for(url: str) -> Iterator[Session]:
    """Yield a session on an engine of its own (a worker process's), disposed afterwards."""
    engine = create_engine(url)
    try:
        with Session(engine) as session:
            yield session
    finally:
        engine.dispose()
