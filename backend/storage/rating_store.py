"""The reads and the write of one submission: mark the link used and buffer the sealed rating.

A submission writes three things in one transaction, none of which names the invitation: the
link's use tag (an HMAC of its token; the table's key makes use single), its first-opening
tag when the link had none, and the rating sealed into `pending_items` (with, for an event
invitation's new opening, a sealed opening for the funnel). The invitation row is read, never
written: nothing on it changes when it is used. The release job
(backend/services/ratings/release.py) later moves pending items into `ratings` in shuffled batches.

On PostgreSQL the write is ONE statement on a pooled driver connection in autocommit mode
(backend/storage/rating_store_pg.py); elsewhere (SQLite in embedded mode) the same rows go
in through the session under BEGIN IMMEDIATE.
"""

from __future__ import annotations

from typing import Protocol

from sqlalchemy import Engine, exists, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, scoped_session

from backend.models import (
    Invitation,
    OpenTag,
    PendingItem,
    UseTag,
)
from backend.storage.engine import on_postgres
from backend.storage.submission_rows import PRESENTED, Presented, Write
from backend.storage.transactions import begin_write


class Store(Protocol):
    """Where one submission reads the invitation and writes its rows."""
    def read(self, token: str, use_tags: list[str]) -> Presented | None:
        """Return the invitation behind a token with whether it was used, or None."""
    def store(self, write: Write) -> bool:
        """Write a submission; False if the link was used (or closed) meanwhile."""


class SessionStore:
    """Reads and writes a submission through the ORM session (SQLite, embedded mode)."""
    def __init__(self, session: Session):
        self.session = session

    def read(self, token: str, use_tags: list[str]) -> Presented | None:
        """Return the invitation behind a token with whether it was used, or None."""
        row = self.session.execute(PRESENTED, {"token": token, "tags": use_tags}).first()
        return Presented(*row) if row is not None else None

    def store(self, write: Write) -> bool:
        """Write under BEGIN IMMEDIATE and commit; False if the link was not open."""
        try:
            stored = store_statements(self.session, write)
            if stored:
                self.session.commit()
            else:
                self.session.rollback()
            return stored
        except IntegrityError:  # the key of the use tags: a second use of the same link
            self.session.rollback()
            return False


def opened(session: Session, engine: Engine | None = None) -> Store:
    """Give the store one submission reads and writes through; end any open transaction.

    With the `engine`, a request that has not used its scoped session yet gets none made for
    it on PostgreSQL (making and removing one costs more than the write's SQL). Nothing is
    to be given back afterwards: on PostgreSQL the store runs on its thread's own connection.
    """
    if isinstance(session, scoped_session) and engine is not None and (
            not session.registry.has()):
        bind = engine
    else:
        current = session() if isinstance(session, scoped_session) else session
        if current.in_transaction():  # committing an idle session still costs a begin and end
            current.commit()
        bind = session.get_bind()
    if not on_postgres(bind) or not isinstance(bind, Engine):
        return SessionStore(session)
    # psycopg is a production extra: imported only where PostgreSQL is in use.
    from backend.storage.rating_store_pg import driver_store

    return driver_store(bind)


def still_open(session: Session, write: Write) -> bool:
    """Tell whether the link is unrevoked, unexpired and used under no older key."""
    invitation = session.execute(select(Invitation.revoked_at, Invitation.expires_at)
                                 .where(Invitation.id == write.invitation_id)).first()
    if invitation is None or invitation.revoked_at is not None:
        return False
    if invitation.expires_at <= write.now:
        return False
    return session.scalar(select(exists().where(UseTag.tag.in_(write.use_tags)))) is False


def store_statements(session: Session, write: Write) -> bool:
    """Write statement by statement under BEGIN IMMEDIATE; return whether the link was used."""
    begin_write(session)
    if not still_open(session, write):
        return False
    session.add(UseTag(tag=write.use_tags[0]))
    session.add(PendingItem(kind="rating", day=write.day, receipt_hash=write.receipt_hash,
                            sealed=write.sealed))
    first_open = session.scalar(select(exists().where(OpenTag.tag.in_(write.open_tags)))) is False
    if first_open:
        session.add(OpenTag(tag=write.open_tags[0]))
        if write.open_sealed is not None:
            session.add(PendingItem(kind="open", day=write.day, sealed=write.open_sealed))
    session.flush()
    return True
