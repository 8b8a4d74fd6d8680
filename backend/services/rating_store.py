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
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol

from sqlalchemy import Engine, update
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


class Store(Protocol):
    """Where one submission reads the invitation and writes its rows."""

    def first(self, statement, params: dict) -> tuple | None:
        """Return the first row of a read."""

    def store(self, write: Write) -> bool:
        """Write a submission; False if the invitation was not open."""


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


@contextlib.contextmanager
def opened(session: Session) -> Iterator[Store]:
    """Give the store one submission reads and writes through; end any open transaction."""
    current = session() if isinstance(session, scoped_session) else session
    if current.in_transaction():  # committing an idle session still costs a begin and end
        current.commit()
    bind = session.get_bind()
    if bind.dialect.name != "postgresql" or not isinstance(bind, Engine):
        yield SessionStore(session)
        return
    # psycopg is a production extra: imported only where PostgreSQL is in use.
    from backend.services.rating_store_pg import driver_store

    with driver_store(bind) as store:
        yield store


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
