"""Invitation life cycle: look up by signed token or scene, revoke."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session, joinedload

from backend.errors import Conflict, NotFound
from backend.models import Cadre, Delivery, Invitation
from backend.services.invitations.tokens import TokenCodec
from backend.services.sealing.seal import Sealer
from backend.services.sealing.uses import is_used


def find_invitation(session: Session, codec: TokenCodec, presented: str) -> Invitation:
    """Return the invitation behind a signed link token or scene; forged ones never query."""
    token = codec.verify(presented)
    if token is None:
        raise NotFound("链接无效")
    # One query brings what rating needs: the template version and the official with unit.
    invitation = session.scalar(
        select(Invitation).where(Invitation.token == token)
        .options(joinedload(Invitation.template),
                 joinedload(Invitation.cadre).joinedload(Cadre.unit)))
    if invitation is None:
        raise NotFound("链接无效")
    return invitation


def revoke(session: Session, codec: TokenCodec, sealer: Sealer, presented: str,
           now: datetime) -> Invitation:
    """Revoke an unused invitation and cancel its pending deliveries; commit."""
    invitation = find_invitation(session, codec, presented)
    if is_used(session, sealer, invitation.token):
        raise Conflict("该邀请已被使用，无法撤销")
    if invitation.revoked_at is None:
        invitation.revoked_at = now
        session.execute(update(Delivery)
                        .where(Delivery.invitation_id == invitation.id,
                               Delivery.status == "pending")
                        .values(status="cancelled", last_error="邀请已撤销"))
    session.commit()
    return invitation
