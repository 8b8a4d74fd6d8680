"""Transaction helpers shared by services."""

from __future__ import annotations

from typing import TypeVar

from sqlalchemy.orm import Session

from backend.errors import NotFound

T = TypeVar("T")


def begin_write(session: Session) -> None:
    """Commit, then begin a transaction that takes SQLite's write lock up front.

    On SQLite a deferred transaction that reads and then writes can fail to upgrade its lock
    under concurrency; BEGIN IMMEDIATE (see backend/storage/sqlite.py) avoids that. On PostgreSQL
    this only starts a transaction.
    """
    session.commit()
    session.connection(execution_options={"sqlite_immediate": True})


def row_or_missing(session: Session, model: type[T], ident: int, message: str) -> T:
    """Return the row of `model` with this primary key; NotFound with `message` otherwise."""
    row = session.get(model, ident)
    if row is None:
        raise NotFound(message)
    return row
