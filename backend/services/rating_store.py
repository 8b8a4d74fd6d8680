"""The write of one submission: consume the invitation and store its ratings, atomically.

Everything hangs off the consuming UPDATE ... WHERE used_at IS NULL ... RETURNING: the
invitation_uses backstop row, the first-opening row of the funnel, the ratings, their count
table rows and their abuse signals. When another submission consumed the invitation first,
the UPDATE returns nothing and nothing is written.

On PostgreSQL the whole write is ONE statement (data-modifying CTEs), one round trip with
the count upserts in the same transaction. Being a single statement it is atomic by itself,
so a submission runs on a pooled driver connection in autocommit mode (`opened`): the read of
the invitation and the write are two round trips, with no BEGIN and COMMIT around them and
no ORM work. Elsewhere (SQLite in embedded mode) the same rows go in through the session as
a sequence of statements inside BEGIN IMMEDIATE.
"""

from __future__ import annotations

import contextlib
import functools
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime

import psycopg
from sqlalchemy import Engine, text, update
from sqlalchemy.dialects.postgresql.psycopg import dialect as psycopg_dialect
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, scoped_session

from backend.models import AbuseSignal, FollowupContact, Invitation, InvitationUse, Rating
from backend.services import counts, opens
from backend.services.bulk import insert_rows
from backend.services.transactions import begin_write


@dataclass(frozen=True)
class Write:
    """The rows of one submission, ready to store."""

    invitation_id: int
    used_at: datetime  # coarsened: the hour, or a ballot's local day
    used_on: date
    now: datetime
    month: str
    hour: datetime
    template_id: int
    event_type: str | None
    rows: list[dict]  # cadre_id, rater_group, score, tags, comment, receipt_hash
    signals: dict  # ip_hash, agent_hash, openid_hash, seconds_on_page
    phone_enc: str | None = None


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


class SessionStore:
    """Reads and writes a submission through the ORM session (SQLite, embedded mode)."""

    def __init__(self, session: Session):
        self.session = session

    def first(self, statement, params: dict) -> tuple | None:
        """Return the first row of a read."""
        return self.session.execute(statement, params).first()

    def store(self, write: Write) -> bool:
        """Write under BEGIN IMMEDIATE and commit; False if the invitation was not open."""
        try:
            stored = store_statements(self.session, write)
            if stored:
                self.session.commit()
            else:
                self.session.rollback()
            return stored
        except IntegrityError:  # the backstop: a second consumption of the same invitation
            self.session.rollback()
            return False


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
def opened(session: Session) -> Iterator[SessionStore | PostgresStore]:
    """Give the store one submission reads and writes through; end any open transaction."""
    current = session() if isinstance(session, scoped_session) else session
    if current.in_transaction():  # committing an idle session still costs a begin and end
        current.commit()
    bind = session.get_bind()
    if bind.dialect.name != "postgresql" or not isinstance(bind, Engine):
        yield SessionStore(session)
        return
    pooled = bind.raw_connection()
    connection = pooled.driver_connection
    try:
        connection.autocommit = True
        yield PostgresStore(connection)
    finally:
        with contextlib.suppress(psycopg.Error):
            connection.autocommit = False  # as the pool hands connections out
        pooled.close()


def store_statements(session: Session, write: Write) -> bool:
    """Write statement by statement under BEGIN IMMEDIATE; return whether it consumed."""
    begin_write(session)
    used = session.execute(
        update(Invitation)
        .where(Invitation.id == write.invitation_id, Invitation.used_at.is_(None),
               Invitation.revoked_at.is_(None), Invitation.expires_at > write.now)
        .values(used_at=write.used_at, phone_hash=None, openid_hash=None)
        .returning(Invitation.id)
        .execution_options(synchronize_session=False)).first()
    if used is None:
        return False
    session.add(InvitationUse(invitation_id=write.invitation_id, used_on=write.used_on))
    opens.insert_open(session, write.invitation_id, write.used_at)
    ids = [row[0] for row in insert_rows(
        session, Rating.__table__,
        [{**row, "template_id": write.template_id, "event_type": write.event_type,
          "submitted_hour": write.hour, "month": write.month} for row in write.rows],
        returning=("id",))]
    for row in write.rows:
        counts.add_rating(session, row["cadre_id"], write.month, row["rater_group"],
                          row["score"], row["tags"])
    insert_rows(session, AbuseSignal.__table__,
                [{"rating_id": rating_id, **write.signals, "created_at": write.now}
                 for rating_id in ids])
    if write.phone_enc and ids:
        session.add(FollowupContact(rating_id=ids[0], phone_enc=write.phone_enc,
                                    created_at=write.now))
    session.flush()
    return True
