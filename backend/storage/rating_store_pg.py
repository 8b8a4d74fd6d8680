"""The PostgreSQL reads and write of one submission: ONE statement on a pooled driver connection.

Imported only when the database is PostgreSQL (psycopg is a production extra; the embedded
demo runs without it). See backend/storage/rating_store.py for what is written and why.
The write is a single statement, so it is atomic by itself and runs in autocommit mode:
the read of the invitation and the write are two round trips, with no BEGIN and COMMIT.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator

import psycopg
from sqlalchemy import ARRAY, Engine, String, bindparam, func, text
from sqlalchemy.dialects.postgresql.psycopg import dialect as psycopg_dialect

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


class PostgresStore:
    """Reads and writes a submission on a pooled psycopg connection in autocommit mode.

    Both the read and the one-statement write are atomic by themselves, so no BEGIN or
    COMMIT travels; statements are compiled once and prepared by the driver.
    """

    def __init__(self, connection: psycopg.Connection):
        self.connection = connection

    def read(self, token: str, use_tags: list[str]) -> Presented | None:
        """Return the invitation behind a token with whether it was used, or None."""
        row = self.connection.execute(compiled(PRESENTED_PG),
                                      {"token": token, "tags": use_tags}).fetchone()
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
        return row[0] == 1


@functools.cache
def compiled(statement) -> str:
    """Return a statement's PostgreSQL text with psycopg placeholders (%(name)s)."""
    return str(statement.compile(dialect=PG_DIALECT))


@contextlib.contextmanager
def driver_store(bind: Engine) -> Iterator[PostgresStore]:
    """Lend a pooled driver connection in autocommit mode for one submission."""
    pooled = bind.raw_connection()
    connection = pooled.driver_connection
    try:
        connection.autocommit = True
        yield PostgresStore(connection)
    finally:
        with contextlib.suppress(psycopg.Error):
            connection.autocommit = False  # as the pool hands connections out
        pooled.close()
