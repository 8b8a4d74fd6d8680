"""The PostgreSQL storage: the portable interface with PostgreSQL's fast paths.

Sequences, advisory locks, counts sent as one JSON parameter, a second connection that reads
a snapshot while the first writes, and work in threads and processes beside the caller's
connection. COPY, the one-statement submission, the count tables' pivot and SKIP LOCKED sit
in this package's bulk.py, rating_store_pg.py, pivots.py and the outbox's claim.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from sqlalchemy import func, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session

from backend.storage.bulk import add_counts_as_json
from backend.storage.engine import POSTGRESQL
from backend.storage.portable import PortableStorage


class PostgresStorage(PortableStorage):
    """PostgreSQL's fast paths over the portable implementation."""

    kind = POSTGRESQL
    concurrent = True
    pivots = True
    json_elements = "CROSS JOIN LATERAL json_array_elements_text({column}) AS t(value)"

    def upsert_insert(self) -> Any:
        """Return PostgreSQL's `insert` with ON CONFLICT."""
        return postgresql.insert

    def advisory_lock(self, session: Session, key: int) -> None:
        """Hold a transaction-scoped advisory lock."""
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})

    def try_advisory_lock(self, session: Session, key: int) -> bool:
        """Try a transaction-scoped advisory lock; False when another transaction holds it."""
        return bool(session.scalar(text("SELECT pg_try_advisory_xact_lock(:key)"),
                                   {"key": key}))

    def next_ids(self, session: Session, column, n: int) -> list[int]:
        """Draw n ids from the column's own sequence, in one statement."""
        if n == 0:
            return []
        return list(session.scalars(text(
            "SELECT nextval(pg_get_serial_sequence(:table, :column)) "
            "FROM generate_series(1, :n)"),
            {"table": column.table.name, "column": column.name, "n": n}))

    def add_counts(self, session: Session, model, keys: Sequence[str], measures: Sequence[str],
                   values: list[dict]) -> None:
        """Add counter deltas in ONE statement, the rows travelling as one JSON parameter."""
        add_counts_as_json(session, model, keys, measures, values)

    def collect(self, column) -> Any:
        """Aggregate a column into an array per group."""
        return func.array_agg(column)

    @contextlib.contextmanager
    def snapshot(self, session: Session) -> Iterator[Session]:
        """Yield a session on a second connection, in a read-only REPEATABLE READ transaction.

        Its statements all see the database as of one moment, and its server process works
        (pivots the next range of officials, say) while the caller's connection writes.
        """
        with session.get_bind().connect() as connection:
            connection.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"))
            reader = Session(bind=connection)
            try:
                yield reader
            finally:
                reader.close()
                connection.rollback()

    def beside(self, session: Session, work: Callable[[Session], Any]) -> Callable[[], Any]:
        """Start work in a thread, on a connection of its own; return what waits for it.

        The work's statements (grouped scans and joins, say) run in the database server while
        the caller goes on; each reads a snapshot of its own, as it would in sequence.
        """
        bind = session.get_bind()
        outcome: dict[str, Any] = {}

        def run() -> None:
            try:
                with Session(bind) as own:
                    outcome["value"] = work(own)
            except BaseException as exc:  # re-raised in the caller's thread
                outcome["error"] = exc

        thread = threading.Thread(target=run, name="storage-beside", daemon=True)
        thread.start()

        def result() -> Any:
            thread.join()
            if "error" in outcome:
                raise outcome["error"]
            return outcome["value"]

        return result
