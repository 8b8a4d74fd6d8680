"""Rating-level and personal data: follow-up requests, non-responders (comments: services/reports).

Every caller audits the read. Nothing here returns who gave a rating: ratings carry no rater,
and a follow-up phone is only there because the rater asked to be called back.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.models import Campaign, CampaignRater, FollowupContact, Rating
from backend.services.campaigns.progress import unanswered
from backend.services.privacy.personal_data import Vault, mask_phone
from backend.services.sealing.seal import Sealer

LIMIT = 200


def masked(vault: Vault, token: str | None) -> str:
    """Return a stored phone number masked (138****8000), or a dash."""
    phone = vault.decrypt(token) if token else None
    return mask_phone(phone) if phone else "—"


def followups(session: Session, vault: Vault, cadre_id: int,
              limit: int = LIMIT) -> list[dict[str, Any]]:
    """Return an official's ratings whose rater asked for a call back, phones masked."""
    rows = session.execute(
        select(FollowupContact.id, FollowupContact.phone_enc, FollowupContact.created_at,
               Rating.score, Rating.tags, Rating.comment, Rating.cadre_id, Rating.month,
               Rating.rater_group)
        .join(Rating, Rating.id == FollowupContact.rating_id)
        .where(Rating.cadre_id == cadre_id).order_by(FollowupContact.id.desc()).limit(limit))
    return [{"id": r.id, "date": r.created_at.date(), "score": r.score,
             "tags": list(r.tags or []), "comment": r.comment or "",
             "phone": masked(vault, r.phone_enc), "cadre_id": r.cadre_id, "month": r.month,
             "group": r.rater_group} for r in rows]


def non_responders(session: Session, vault: Vault, sealer: Sealer, campaign: Campaign,
                   limit: int = 5000) -> list[dict[str, Any]]:
    """Return a campaign's raters who have not answered (asked of the use tags), phones masked."""
    rows = unanswered(session, sealer, campaign)[:limit]
    return [{"id": r.id, "code": r.code, "name": r.name, "group": r.rater_group,
             "phone": masked(vault, r.phone_enc)} for r in rows]


def phone_token(session: Session, kind: str, row_id: int) -> tuple[str, str | None] | None:
    """Return (audit target, encrypted phone) of a follow-up or rater; None if unknown."""
    if kind == "followup":
        row = session.get(FollowupContact, row_id)
        return (f"followup:{row.id}", row.phone_enc) if row else None
    if kind == "rater":
        row = session.get(CampaignRater, row_id)
        return (f"campaign_rater:{row.id}", row.phone_enc) if row else None
    return None


def find_campaign(session: Session, campaign_id: int) -> Campaign | None:
    """Return a campaign by id, or None."""
    return session.get(Campaign, campaign_id)
