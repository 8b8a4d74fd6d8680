"""Campaigns a user may see, with their response progress."""

from __future__ import annotations

from typing import Any

from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session

from backend.models import BallotTarget, Cadre, Campaign, Invitation
from backend.services.campaigns.progress import totals
from backend.services.reports.common import Scope, ratio


def in_scope(scope: Scope):
    """Return the condition of campaigns rating at least one official of the scope."""
    if scope.units is None:
        return Campaign.id.is_not(None)
    return exists().where(Invitation.campaign_id == Campaign.id,
                          BallotTarget.invitation_id == Invitation.id,
                          Cadre.id == BallotTarget.cadre_id, scope.where(Cadre.unit_id))


def campaigns_page(session: Session, scope: Scope, status: str | None, page: int,
                   size: int | None) -> tuple[list[dict[str, Any]], int]:
    """Return one page of visible campaigns, newest first, with progress, and the total."""
    query = select(Campaign).where(in_scope(scope))
    if status:
        query = query.where(Campaign.status == status)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    query = query.order_by(Campaign.created_at.desc(), Campaign.id.desc())
    if size:
        query = query.limit(size).offset((page - 1) * size)
    campaigns = list(session.scalars(query))
    progress = totals(session, [c.id for c in campaigns])
    rows = []
    for campaign in campaigns:
        invited, responded = progress.get(campaign.id, (0, 0))
        rows.append({"id": campaign.id, "code": campaign.code, "name": campaign.name,
                     "period": campaign.period, "status": campaign.status,
                     "closes_at": campaign.closes_at, "invited": invited,
                     "responded": responded, "rate": ratio(responded, invited)})
    return rows, total


def visible_campaign(session: Session, scope: Scope, campaign_id: int) -> Campaign | None:
    """Return the campaign when the scope may see it."""
    return session.scalar(select(Campaign).where(Campaign.id == campaign_id, in_scope(scope)))
