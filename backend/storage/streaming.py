"""Stream the rows of a big SELECT a batch at a time, the fastest way each engine allows.

On PostgreSQL the rows come straight from a server-side cursor of the driver as named tuples:
psycopg already returns aware times, dates and decoded JSON, and SQLAlchemy's per-value
result processing would cost more than a caller's checks on millions of rows; a thread
fetches the next batches while the caller works on the current one. Elsewhere (SQLite) they
come through SQLAlchemy, which makes the stored times aware. The rows have the same names
either way.
"""

from __future__ import annotations

import contextlib
import functools
import json
import queue
import threading
from collections.abc import Callable, Iterator
from typing import Any

from sqlalchemy import Select
from sqlalchemy.orm import Session

from backend.storage.engine import on_postgres


def stream_rows(session: Session, statement: Select, batch: int, name: str) -> Iterator[Any]:
    """Yield the statement's rows, `batch` at a time, from a cursor named `name`."""
    if not on_postgres(session):
        result = session.execute(statement.execution_options(yield_per=batch))
        with result:  # closes the cursor even when the caller stops early
            yield from result
        return
    from psycopg.rows import namedtuple_row  # psycopg is a production extra
    from psycopg.types.json import set_json_loads

    from backend.storage.rating_store_pg import PG_DIALECT

    connection = session.connection().connection.driver_connection
    with connection.cursor(name=name, row_factory=namedtuple_row) as cursor:
        # Ratings share a handful of tag lists: decode each distinct one once. The lists are
        # shared between rows, and the checks only read them (they sort copies).
        set_json_loads(functools.lru_cache(maxsize=4096)(json.loads), cursor)
        query = statement.compile(dialect=PG_DIALECT)
        cursor.execute(str(query), query.params)
        yield from prefetched(cursor.fetchmany, batch)



def prefetched(fetch: Callable[[int], list], batch: int, ahead: int = 2) -> Iterator[Any]:
    """Yield rows fetched `batch` at a time by a thread that keeps `ahead` batches ready.

    While the walk checks one batch, the database joins the next and the driver waits for
    it with the GIL released: on PostgreSQL that work overlaps the walk's instead of adding
    to it. Memory stays bounded by `ahead` + 2 batches. Stopping early (a failure found)
    stops the thread before the cursor is closed.
    """
    batches: queue.Queue = queue.Queue(maxsize=ahead)
    stop = threading.Event()

    def fetcher() -> None:
        try:
            while not stop.is_set():
                rows = fetch(batch)
                batches.put(rows)
                if not rows:
                    return
        except BaseException as exc:  # re-raised in the walk's thread
            batches.put(exc)

    thread = threading.Thread(target=fetcher, name="stream-fetch", daemon=True)
    thread.start()
    try:
        while (rows := batches.get()):
            if isinstance(rows, BaseException):
                raise rows
            yield from rows
    finally:
        stop.set()
        while thread.is_alive():  # unblock a pending put so the thread can see `stop`
            with contextlib.suppress(queue.Empty):
                batches.get(timeout=0.05)
        thread.join()
