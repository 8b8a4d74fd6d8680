"""The PostgreSQL reads and write of one submission: ONE statement on a thread's own connection.

Imported only when the database is PostgreSQL (psycopg is a production extra; the embedded
demo runs without it). See backend/storage/rating_store.py for what is written and why.
The write is a single statement, so it is atomic by itself and runs in autocommit mode:
the read of the invitation and the write are two round trips, with no BEGIN and COMMIT.

Each thread of the server keeps a connection of its own for submissions (made by an engine of
their own on the same database), never pinged before use (a third round trip per submission)
nor lent and taken back per submission. A connection the server has closed meanwhile (a
restart, an idle timeout, a terminated backend) fails the read, which changes nothing: every
thread's connection is then retired and the read tried once more on a new one. A write that
fails so is not retried (it may have been committed); the broken connection is replaced
before the thread's next submission.
"""

from __future__ import annotations

import contextlib
import functools
import threading
import weakref

import psycopg
from sqlalchemy import ARRAY, Engine, String, bindparam, create_engine, event, func, text
from sqlalchemy.dialects.postgresql.psycopg import dialect as psycopg_dialect
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import NullPool

from backend.models import UseTag
from backend.storage.submission_rows import Presented, Write, presented_query

PG_DIALECT = psycopg_dialect()
PRESENTED_PG = presented_query(UseTag.tag == func.any(bindparam("tags", type_=ARRAY(String))))

# The link is used once: the newest key's tag goes in (its key refuses a second one), and
# no older key's tag may exist. The invitation row is read (open, unexpired), never written.
POSTGRESQL_WRITE = text("""
WITH fresh AS (
    SELECT 1 FROM invitations
    WHERE id = :invitation_id AND revoked_at IS NULL AND expires_at > :now
      AND NOT EXISTS (SELECT 1 FROM invitation_use_tags WHERE tag = ANY(:use_tags))
), used AS (
    INSERT INTO invitation_use_tags (tag) SELECT :use_tag FROM fresh
    ON CONFLICT (tag) DO NOTHING
    RETURNING tag
), pended AS (
    INSERT INTO pending_items (kind, day, receipt_hash, sealed)
    SELECT 'rating', :day, :receipt_hash, :sealed FROM used
), opened AS (
    INSERT INTO invitation_open_tags (tag) SELECT :open_tag FROM used
    WHERE NOT EXISTS (SELECT 1 FROM invitation_open_tags WHERE tag = ANY(:open_tags))
    ON CONFLICT (tag) DO NOTHING
    RETURNING tag
), open_pended AS (
    INSERT INTO pending_items (kind, day, sealed)
    SELECT 'open', :day, CAST(:open_sealed AS text) FROM opened
    WHERE CAST(:open_sealed AS text) IS NOT NULL
)
SELECT count(*) FROM used
""")


# The statements are prepared (psycopg prepares what a connection runs often), and a prepared
# statement keeps the plan made when the tag tables were small: a sequential scan of each, run
# on every submission while the tables grow, until an analyze happens to replace the plan (a
# new deployment's first thousands of ratings got slower by the minute). Without sequential
# scans the plan is index lookups whatever the tables' size: every table these statements
# touch is reached by a key or an index.
SESSION_OPTIONS = "-c enable_seqscan=off"


class PostgresStore:
    """Reads and writes a submission on its thread's psycopg connection in autocommit mode.

    Both the read and the one-statement write are atomic by themselves, so no BEGIN or
    COMMIT travels; statements are compiled once and prepared by the driver.
    """

    def __init__(self, connection: psycopg.Connection, reconnect=None):
        self.connection = connection
        self.reconnect = reconnect  # gives a new connection once the server closed this one

    def read(self, token: str, use_tags: list[str]) -> Presented | None:
        """Return the invitation behind a token with whether it was used, or None."""
        params = {"token": token, "tags": use_tags}
        try:
            row = self.connection.execute(compiled(PRESENTED_PG), params).fetchone()
        except psycopg.OperationalError as exc:
            if not (self.connection.closed or self.connection.broken) or self.reconnect is None:
                raise unavailable(PRESENTED_PG, exc) from exc
            self.connection, self.reconnect = self.reconnect(), None
            try:
                row = self.connection.execute(compiled(PRESENTED_PG), params).fetchone()
            except psycopg.OperationalError as again:
                raise unavailable(PRESENTED_PG, again) from again
        return Presented(*row) if row is not None else None

    def store(self, write: Write) -> bool:
        """Run the one-statement write; False if the link was not open."""
        params = {"invitation_id": write.invitation_id, "now": write.now, "day": write.day,
                  "use_tag": write.use_tags[0], "use_tags": write.use_tags,
                  "open_tag": write.open_tags[0], "open_tags": write.open_tags,
                  "receipt_hash": write.receipt_hash, "sealed": write.sealed,
                  "open_sealed": write.open_sealed}
        try:
            row = self.connection.execute(compiled(POSTGRESQL_WRITE), params).fetchone()
        except psycopg.IntegrityError:  # two submissions of one link at once: one wins
            return False
        except psycopg.OperationalError as exc:  # not retried: it may have been committed
            raise unavailable(POSTGRESQL_WRITE, exc) from exc
        return row[0] == 1


def unavailable(statement, exc: psycopg.OperationalError) -> OperationalError:
    """Wrap a driver's connection failure as SQLAlchemy's (the API answers it with 503)."""
    return OperationalError(compiled(statement), None, exc)


@functools.cache
def compiled(statement) -> str:
    """Return a statement's PostgreSQL text with psycopg placeholders (%(name)s)."""
    return str(statement.compile(dialect=PG_DIALECT))


class Source:
    """Where a database's submission connections come from: an engine of their own, and the
    generation current connections must be of (a retired generation's are replaced)."""

    def __init__(self, bind: Engine) -> None:
        # It only makes connections (each thread keeps its own), in autocommit mode: nothing
        # to switch, nothing to roll back.
        self.engine = create_engine(bind.url, poolclass=NullPool, isolation_level="AUTOCOMMIT",
                                    connect_args={"options": SESSION_OPTIONS})
        self.generation = 0


_sources: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_sources_lock = threading.Lock()


def source_of(bind: Engine) -> Source:
    """Return the source of `bind`'s submission connections, made on first use."""
    source = _sources.get(bind)
    if source is None:
        with _sources_lock:
            source = _sources.get(bind)
            if source is None:
                source = _sources[bind] = Source(bind)
                event.listen(bind, "engine_disposed", dispose_submission_engine)
    return source


def submission_engine(bind: Engine) -> Engine:
    """Return the engine submission connections are made by: `bind`'s database."""
    return source_of(bind).engine


def dispose_submission_engine(bind: Engine) -> None:
    """Retire `bind`'s submission connections (when `bind` is disposed)."""
    source = _sources.pop(bind, None)
    if source is not None:
        retire(source)
        source.engine.dispose()


class Kept:
    """A thread's own submission connection; closed when the thread ends (or it is replaced)."""

    __slots__ = ("connection", "generation", "source")

    def __init__(self, source: Source) -> None:
        made = source.engine.raw_connection()
        self.connection: psycopg.Connection = made.driver_connection
        made.detach()  # the thread's own from now on: closing `made` must not close it
        self.source, self.generation = source, source.generation

    def usable(self, source: Source) -> bool:
        """Tell whether it is of this source's current generation and not known closed."""
        return (self.source is source and self.generation == source.generation
                and not (self.connection.closed or self.connection.broken))

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.connection.close()

    __del__ = close


_kept = threading.local()


def kept_connection(source: Source) -> psycopg.Connection:
    """Return this thread's submission connection, made (or remade) when it has none usable.

    A pool lends a connection per submission and takes it back: 9.5 µs of CPU in one process,
    and 0.056 ms a submission with the store's context around it in a gunicorn worker under
    load (py-spy). Each thread keeps one instead, as many as the server's threads. One known
    closed or broken, or of a retired generation (the engine disposed, or the server found
    gone), is replaced before use.
    """
    kept = getattr(_kept, "kept", None)
    if kept is None or not kept.usable(source):
        if kept is not None:
            kept.close()
        kept = _kept.kept = Kept(source)
    return kept.connection


def retire(source: Source) -> None:
    """Have every thread make a new connection before its next submission (this one's now)."""
    source.generation += 1
    kept = getattr(_kept, "kept", None)
    if kept is not None and kept.source is source:
        _kept.kept = None
        kept.close()


def driver_store(bind: Engine) -> PostgresStore:
    """Return the store of one submission, on this thread's connection in autocommit mode.

    Should the server have closed it, the store's read asks for another: every thread's
    connection is retired (the others are likely closed too) and this one made anew.
    """
    source = source_of(bind)

    def reconnect() -> psycopg.Connection:
        retire(source)
        return kept_connection(source)

    return PostgresStore(kept_connection(source), reconnect)
