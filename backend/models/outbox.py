"""The delivery outbox: messages to send, written in the same transaction as their cause."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.models.base import db
from backend.models.invitations import ID, Invitation, ServiceEvent
from backend.models.types import UTCDateTime, utcnow

if TYPE_CHECKING:
    from backend.models.cases import CaseNotice

PENDING, SENT, RECORDED, FAILED, CANCELLED = "pending", "sent", "recorded", "failed", "cancelled"


class Delivery(db.Model):
    """One message (SMS or WeChat subscribe message) carrying an invitation or a case notice.

    `message` is stored without the link (the link is rendered at send time), so the outbox
    holds no working link. A campaign reminder names neither its rater nor its ballot: it
    carries the campaign and the ballot's invitation sealed (keys outside the database).
    """

    __tablename__ = "deliveries"
    __table_args__ = (Index("ix_deliveries_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(ID, primary_key=True)
    invitation_id: Mapped[int | None] = mapped_column(ForeignKey("invitations.id"), index=True)
    event_id: Mapped[int | None] = mapped_column(ForeignKey("service_events.id"), index=True)
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id"), index=True)
    sealed_ref: Mapped[str | None] = mapped_column(Text)
    # A notice to a console user about cases (no invitation, no link to a rating page).
    notice_id: Mapped[int | None] = mapped_column(ForeignKey("case_notices.id"), index=True)
    channel: Mapped[str] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(10), default=PENDING)
    contact_enc: Mapped[str | None] = mapped_column(Text)
    fallback_phone_enc: Mapped[str | None] = mapped_column(Text)
    message: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    due_by: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    last_error: Mapped[str | None] = mapped_column(String(500))
    provider_ref: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    purged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    invitation: Mapped[Invitation | None] = relationship()
    event: Mapped[ServiceEvent | None] = relationship()
    notice: Mapped[CaseNotice | None] = relationship()
