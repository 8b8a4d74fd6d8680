"""The portable storage: what every supported engine can do, in SQLite's way.

SQLite serves the embedded mode: one writer, one connection at a time, no server processes
to lend work to. PostgreSQL's implementation (postgres.py) overrides what it does faster.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from sqlalchemy import JSON, func, select, type_coerce
from sqlalchemy.dialects import sqlite
from sqlalchemy.orm import Session

from backend.storage.engine import SQLITE


class PortableStorage:
    """The storage interface, implemented with one writer and one connection."""

    kind = SQLITE
    # Whether other connections (threads, worker processes) may work beside the caller's:
    # SQLite has one writer, and a reader beside it would only wait for the same file.
    concurrent = False
    # Whether the count tables can be pivoted into dense arrays (storage/pivots.py).
    pivots = False
    # The join that turns a JSON list column into rows with a `value` column, named t.
    json_elements = "CROSS JOIN json_each({column}) AS t"

    def upsert_insert(self) -> Any:
        """Return the engine's `insert` that offers ON CONFLICT."""
        return sqlite.insert

    def advisory_lock(self, session: Session, key: int) -> None:
        """Hold a transaction-scoped lock; SQLite's single writer needs none."""

    def try_advisory_lock(self, session: Session, key: int) -> bool:
        """Try a transaction-scoped lock; False when another transaction holds it."""
        return True

    def next_ids(self, session: Session, column, n: int) -> list[int]:
        """Draw n ids for an integer key column (the caller holds the write lock)."""
        if n == 0:
            return []
        top = session.scalar(select(func.max(column))) or 0
        return list(range(top + 1, top + 1 + n))

    def add_counts(self, session: Session, model, keys: Sequence[str], measures: Sequence[str],
                   values: list[dict]) -> None:
        """Add counter deltas to rows keyed by `keys`, creating missing rows (one statement)."""
        statement = self.upsert_insert()(model)
        statement = statement.on_conflict_do_update(
            index_elements=list(keys),
            set_={m: getattr(model, m) + getattr(statement.excluded, m) for m in measures})
        session.execute(statement, values)

    def collect(self, column) -> Any:
        """Aggregate a column into a list per group (a JSON array here)."""
        return type_coerce(func.json_group_array(column), JSON)

    @contextlib.contextmanager
    def snapshot(self, session: Session) -> Iterator[Session]:
        """Yield a session whose statements read the database as of one moment.

        Here it is the caller's: with one writer, nothing changes under the reader.
        """
        yield session

    def beside(self, session: Session, work: Callable[[Session], Any]) -> Callable[[], Any]:
        """Start work on a connection of its own; return what waits for its result.

        Here the work runs on the caller's session when its result is asked for.
        """
        return lambda: work(session)
