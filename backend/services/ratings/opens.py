"""First openings of invitations, for the delivery funnel: a keyed tag per link, first wins.

An opening is recorded by whoever observes a person (not a link scanner) opening the
invitation: the rating page's script (scanners and prefetchers do not run it), the
mini-program's read of the invitation, and a successful submission (which implies an
opening, for pages used without JavaScript; rating_store records it in the submission's
transaction). Like a use, an opening is an HMAC of the link's token in a set of its own
(`invitation_open_tags`), so the database does not say which links were opened; an event
link's first opening is also buffered sealed and counted in the funnel by the release job,
a batch at a time, on its local day.
"""

from __future__ import annotations

import logging
from datetime import datetime, tzinfo

from sqlalchemy import exists, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from backend.models import Invitation, OpenTag, PendingItem, ServiceEvent
from backend.services.ratings.submission import primary_channel
from backend.services.sealing.seal import Sealer
from backend.services.sealing.uses import OPEN
from backend.storage.transactions import begin_write

log = logging.getLogger(__name__)


def is_recorded(session: Session, tags: list[str]) -> bool:
    """Tell whether the link's first opening is already recorded (under any key)."""
    return bool(session.scalar(select(exists().where(OpenTag.tag.in_(tags)))))


def event_channel(session: Session, invitation: Invitation) -> str:
    """Return the main channel of the event that created an event invitation."""
    channels = session.scalar(select(ServiceEvent.channels).where(
        ServiceEvent.invitation_id == invitation.id, ServiceEvent.throttled.is_(False)))
    return primary_channel(channels)


def note_open(session: Session, sealer: Sealer, invitation: Invitation, now: datetime,
              tz: tzinfo) -> None:
    """Record a first opening in a short write transaction of its own; commit.

    Best effort: the funnel is a statistic, so a failed write is logged and rolled back
    rather than spoiling the rater's page. Call it after the view is built: the commit
    expires the loaded invitation.
    """
    tags = sealer.tags(OPEN, invitation.token)
    if is_recorded(session, tags):
        return  # the usual case for a second look: no write lock taken
    day = now.astimezone(tz).date()
    opening = None
    if invitation.kind == "event":
        opening = sealer.seal({"kind": "open", "cadre_id": invitation.cadre_id,
                               "event_type": invitation.event_type,
                               "channel": event_channel(session, invitation),
                               "day": day.isoformat()})
    try:
        begin_write(session)
        if not is_recorded(session, tags):
            session.add(OpenTag(tag=tags[0]))
            if opening is not None:
                session.add(PendingItem(kind="open", day=day, sealed=opening))
        session.commit()
    except SQLAlchemyError:
        session.rollback()
        log.warning("could not record a first opening", exc_info=True)
