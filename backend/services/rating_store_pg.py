"""The PostgreSQL write of one submission: ONE statement on a pooled driver connection.

Imported only when the database is PostgreSQL (psycopg is a production extra; the embedded
demo runs without it). See backend/services/rating_store.py for the design.
"""

from __future__ import annotations

import contextlib
import functools
import json
from collections.abc import Iterator

import psycopg
from sqlalchemy import Engine, text
from sqlalchemy.dialects.postgresql.psycopg import dialect as psycopg_dialect

from backend.services.rating_store import Write

PG_DIALECT = psycopg_dialect()

# The first stored rating (n = 0) carries the comment and, with consent, the follow-up phone.
POSTGRESQL_WRITE = text("""
WITH used AS (
    UPDATE invitations SET used_at = :used_at, phone_hash = NULL, openid_hash = NULL
    WHERE id = :invitation_id AND used_at IS NULL AND revoked_at IS NULL
      AND expires_at > :now
    RETURNING id
), marked AS (
    INSERT INTO invitation_uses (invitation_id, used_on)
    SELECT id, :used_on FROM used
    RETURNING invitation_id
), opened AS (
    INSERT INTO invitation_opens (invitation_id, opened_at)
    SELECT invitation_id, :used_at FROM marked
    ON CONFLICT (invitation_id) DO NOTHING
), given AS (
    SELECT * FROM json_to_recordset(CAST(:rows AS json))
        AS r(n integer, cadre_id bigint, rater_group text, score smallint, tags json,
             comment text, receipt_hash text)
    WHERE EXISTS (SELECT 1 FROM marked)
), stored AS (
    INSERT INTO ratings (cadre_id, rater_group, score, tags, comment, template_id,
                         event_type, submitted_hour, month, receipt_hash, status)
    SELECT cadre_id, rater_group, score, tags, comment, :template_id,
           CAST(:event_type AS text), :hour, :month, receipt_hash, 'valid'
    FROM given
    RETURNING id, receipt_hash
), counted AS (
    INSERT INTO rating_counts AS c (cadre_id, month, rater_group, score, count)
    SELECT cadre_id, :month, rater_group, score, 1 FROM given
    ON CONFLICT (cadre_id, month, rater_group, score) DO UPDATE SET count = c.count + 1
), tagged AS (
    INSERT INTO rating_tag_counts AS c (cadre_id, month, rater_group, tag, count)
    SELECT g.cadre_id, :month, g.rater_group, t.tag, 1
    FROM given AS g CROSS JOIN json_array_elements_text(g.tags) AS t(tag)
    ON CONFLICT (cadre_id, month, rater_group, tag) DO UPDATE SET count = c.count + 1
), signalled AS (
    INSERT INTO abuse_signals (rating_id, ip_hash, agent_hash, openid_hash, seconds_on_page,
                               created_at)
    SELECT id, CAST(:ip_hash AS text), CAST(:agent_hash AS text), CAST(:openid_hash AS text),
           CAST(:seconds_on_page AS integer), :now
    FROM stored
), followed AS (
    INSERT INTO followup_contacts (rating_id, phone_enc, created_at)
    SELECT s.id, CAST(:phone_enc AS text), :now
    FROM stored AS s JOIN given AS g ON g.receipt_hash = s.receipt_hash
    WHERE g.n = 0 AND CAST(:phone_enc AS text) IS NOT NULL
)
SELECT count(*) FROM marked
""")


class PostgresStore:
    """Reads and writes a submission on a pooled psycopg connection in autocommit mode.

    Both the read and the one-statement write are atomic by themselves, so no BEGIN or
    COMMIT travels; statements are compiled once and prepared by the driver.
    """

    def __init__(self, connection: psycopg.Connection):
        self.connection = connection

    def first(self, statement, params: dict) -> tuple | None:
        """Return the first row of a read."""
        return self.connection.execute(compiled(statement), params).fetchone()

    def store(self, write: Write) -> bool:
        """Run the one-statement write; False if the invitation was not open."""
        rows = [{"n": n, **row} for n, row in enumerate(write.rows)]
        params = {"invitation_id": write.invitation_id, "used_at": write.used_at,
                  "used_on": write.used_on, "now": write.now, "month": write.month,
                  "hour": write.hour, "template_id": write.template_id,
                  "event_type": write.event_type, "rows": json.dumps(rows, ensure_ascii=False),
                  "phone_enc": write.phone_enc, **write.signals}
        try:
            row = self.connection.execute(compiled(POSTGRESQL_WRITE), params).fetchone()
        except psycopg.IntegrityError:  # the backstop, as above
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
