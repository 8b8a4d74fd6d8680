"""First openings of invitations, for the delivery funnel: one row per invitation, first wins.

An opening is recorded by whoever observes a person (not a link scanner) opening the
invitation: the rating page's script (scanners and prefetchers do not run it), the
mini-program's read of the invitation, and a successful submission (which implies an opening,
for pages used without JavaScript; rating_store inserts it in the submission's transaction,
at the invitation's coarsened `used_at`). The time is kept no finer than the invitation's `used_at`
(the hour; ballots: the local day), so that an opening cannot narrow down which rating came
from which invitation.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, tzinfo

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from backend.models import Invitation, InvitationOpen
from backend.services.transactions import begin_write

log = logging.getLogger(__name__)


def opened_time(kind: str, now: datetime, tz: tzinfo = UTC) -> datetime:
    """Return the stored time of an opening: as coarse as the invitation's `used_at`."""
    if kind == "ballot":
        return now.astimezone(tz).replace(hour=0, minute=0, second=0, microsecond=0)
    return now.replace(minute=0, second=0, microsecond=0)


def insert_open(session: Session, invitation_id: int, opened_at: datetime) -> None:
    """Insert an opening unless the invitation has one (INSERT ... ON CONFLICT DO NOTHING)."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    session.execute(insert(InvitationOpen).values(invitation_id=invitation_id,
                                                  opened_at=opened_at)
                    .on_conflict_do_nothing(index_elements=["invitation_id"]))


def is_recorded(session: Session, invitation_id: int) -> bool:
    """Tell whether the invitation's first opening is already recorded."""
    return session.scalar(select(InvitationOpen.invitation_id)
                          .where(InvitationOpen.invitation_id == invitation_id)) is not None


def note_open(session: Session, invitation: Invitation, now: datetime,
              tz: tzinfo = UTC) -> None:
    """Record a first opening in a short write transaction of its own; commit.

    Best effort: the funnel is a statistic, so a failed write is logged and rolled back
    rather than spoiling the rater's page. Call it after the view is built: the commit
    expires the loaded invitation.
    """
    invitation_id, opened_at = invitation.id, opened_time(invitation.kind, now, tz)
    if is_recorded(session, invitation_id):
        return  # the usual case for a second look: no write lock taken
    try:
        begin_write(session)
        insert_open(session, invitation_id, opened_at)
        session.commit()
    except SQLAlchemyError:
        session.rollback()
        log.warning("could not record the opening of invitation %s", invitation_id,
                    exc_info=True)
