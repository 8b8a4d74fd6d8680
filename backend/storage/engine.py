"""Which database engine a session is on: the one place in the application that reads the dialect.

The storage implementations (backend/storage/portable.py, postgres.py) are chosen by it;
the rest of this package asks `on_postgres` for its own fast paths.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from sqlalchemy import Connection, Engine, create_engine
from sqlalchemy.orm import Session

POSTGRESQL, SQLITE = "postgresql", "sqlite"
Bind = Session | Engine | Connection


def engine_kind(bind: Bind) -> str:
    """Return the engine's dialect name ("postgresql", "sqlite") of a session or engine."""
    if isinstance(bind, Session) or hasattr(bind, "get_bind"):
        bind = bind.get_bind()
    return bind.dialect.name


def on_postgres(bind: Bind) -> bool:
    """Return whether the session (or engine) is on PostgreSQL (for this package's own use)."""
    return engine_kind(bind) == POSTGRESQL


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
