"""Service events and the one-time invitations they produce."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.models.base import db
from backend.models.directory import Cadre
from backend.models.templates import SurveyTemplate
from backend.models.types import UTCDateTime, utcnow

ID = BigInteger().with_variant(db.Integer(), "sqlite")


class Invitation(db.Model):
    """A single-use right to rate. The row decides validity (expiry, revocation); whether it
    was used is a keyed tag in `invitation_use_tags`, never written on the row itself."""

    __tablename__ = "invitations"
    __table_args__ = (
        Index("ix_invitations_throttle_phone", "cadre_id", "phone_hash"),
        Index("ix_invitations_throttle_openid", "cadre_id", "openid_hash"),
    )

    id: Mapped[int] = mapped_column(ID, primary_key=True)
    token: Mapped[str] = mapped_column(String(32), unique=True)
    kind: Mapped[str] = mapped_column(String(10))
    template_id: Mapped[int] = mapped_column(ForeignKey("survey_templates.id"))
    cadre_id: Mapped[int | None] = mapped_column(ForeignKey("cadres.id"))
    event_type: Mapped[str | None] = mapped_column(String(40))
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id"), index=True)
    phone_hash: Mapped[str | None] = mapped_column(String(64))
    openid_hash: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    template: Mapped[SurveyTemplate] = relationship()
    cadre: Mapped[Cadre | None] = relationship()


class ServiceEvent(db.Model):
    """A service event reported by a business system; idempotent on (source, external_id)."""
    __tablename__ = "service_events"
    __table_args__ = (UniqueConstraint("source", "external_id"),)

    id: Mapped[int] = mapped_column(ID, primary_key=True)
    source: Mapped[str] = mapped_column(String(64))
    external_id: Mapped[str] = mapped_column(String(128))
    cadre_id: Mapped[int] = mapped_column(ForeignKey("cadres.id"), index=True)
    event_type: Mapped[str] = mapped_column(String(40))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    channels: Mapped[str] = mapped_column(String(40))
    content_hash: Mapped[str] = mapped_column(String(64))
    invitation_id: Mapped[int] = mapped_column(ForeignKey("invitations.id"), index=True)
    throttled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)

    invitation: Mapped[Invitation] = relationship()
    cadre: Mapped[Cadre] = relationship()
