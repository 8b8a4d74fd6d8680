"""What one submission reads and writes, shared by the portable and the PostgreSQL store."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import NamedTuple

from sqlalchemy import and_, bindparam, exists, select

from backend.models import Cadre, Invitation, ServiceEvent, SurveyTemplate, UseTag


class Presented(NamedTuple):
    """What submission needs of an invitation, read in one query."""
    id: int
    kind: str
    template_id: int
    digest: str
    cadre_id: int | None
    cadre_code: str | None
    event_type: str | None
    campaign_id: int | None
    revoked_at: datetime | None
    expires_at: datetime
    channels: str | None  # of the event that created the invitation
    used: bool


def presented_query(used_clause):
    """Return the one read of a submission: the invitation, its event's channels, its use."""
    creating = and_(ServiceEvent.invitation_id == Invitation.id,
                    ServiceEvent.throttled.is_(False))
    return (select(Invitation.id, Invitation.kind, Invitation.template_id,
                   SurveyTemplate.digest, Invitation.cadre_id, Cadre.code,
                   Invitation.event_type, Invitation.campaign_id, Invitation.revoked_at,
                   Invitation.expires_at, ServiceEvent.channels,
                   exists().where(used_clause).label("used"))
            .join(SurveyTemplate, SurveyTemplate.id == Invitation.template_id)
            .outerjoin(Cadre, Cadre.id == Invitation.cadre_id)
            .outerjoin(ServiceEvent, creating)
            .where(Invitation.token == bindparam("token")))


# One statement object: no per-request expression building.
PRESENTED = presented_query(UseTag.tag.in_(bindparam("tags", expanding=True)))


@dataclass(frozen=True)
class Write:
    """What one submission stores: tags, the sealed rating, perhaps a sealed opening."""
    invitation_id: int
    now: datetime
    day: date  # the submission's local day: a day's items are released whatever the batch
    use_tags: list[str]  # newest key first; the first is written, the others must be absent
    open_tags: list[str]
    receipt_hash: str  # the receipt's accepted_hash: the rater may ask while it waits
    sealed: str
    open_sealed: str | None = None  # an event link's opening, buffered if it is the first
