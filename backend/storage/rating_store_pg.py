"""The PostgreSQL reads and write of one submission: ONE statement on a pooled driver connection.

Imported only when the database is PostgreSQL (psycopg is a production extra; the embedded
demo runs without it). See backend/storage/rating_store.py for what is written and why.
The write is a single statement, so it is atomic by itself and runs in autocommit mode:
the read of the invitation and the write are two round trips, with no BEGIN and COMMIT.

Submissions borrow their connections from a pool of their own on the same database, which
does not ping a connection on checkout (a third round trip per submission). A connection the
server has closed meanwhile (a restart, an idle timeout, a terminated backend) fails the
read, which changes nothing: the pool is then replaced and the read tried once more on a
new connection. A write that fails so is not retried (it may have been committed).
"""

from __future__ import annotations

import contextlib
import functools
import threading
import weakref
from collections.abc import Iterator

import psycopg
from sqlalchemy import ARRAY, Engine, String, bindparam, create_engine, event, func, text
from sqlalchemy.dialects.postgresql.psycopg import dialect as psycopg_dialect
from sqlalchemy.exc import OperationalError

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
    """Reads and writes a submission on a pooled psycopg connection in autocommit mode.

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


_pools: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_pools_lock = threading.Lock()


def submission_engine(bind: Engine) -> Engine:
    """Return the engine submissions borrow from: `bind`'s database and pool size, no ping."""
    engine = _pools.get(bind)
    if engine is None:
        with _pools_lock:
            engine = _pools.get(bind)
            if engine is None:
                # Its connections stay in autocommit mode: nothing to switch on lending them,
                # nothing to roll back on their return.
                engine = create_engine(bind.url, pool_pre_ping=False,
                                       pool_size=bind.pool.size(),
                                       isolation_level="AUTOCOMMIT", pool_reset_on_return=None,
                                       connect_args={"options": SESSION_OPTIONS})
                _pools[bind] = engine
                event.listen(bind, "engine_disposed", dispose_submission_engine)
    return engine


def dispose_submission_engine(bind: Engine) -> None:
    """Close the idle connections of `bind`'s submission pool (when `bind` is disposed)."""
    engine = _pools.pop(bind, None)
    if engine is not None:
        engine.dispose()


@contextlib.contextmanager
def driver_store(bind: Engine) -> Iterator[PostgresStore]:
    """Lend a pooled driver connection in autocommit mode for one submission.

    Should the server have closed it, the store's read asks for another: the pool is
    replaced (its other connections are likely closed too) and a new connection lent.
    """
    engine = submission_engine(bind)
    lent = [engine.raw_connection()]

    def reconnect() -> psycopg.Connection:
        lent[0].invalidate()
        engine.dispose()  # the server went away: a new pool; lent connections are dropped
        lent.append(engine.raw_connection())
        return lent[-1].driver_connection

    try:
        yield PostgresStore(lent[0].driver_connection, reconnect)
    finally:
        for pooled in lent:
            pooled.close()
