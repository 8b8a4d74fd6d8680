"""WeChat mini-program sessions and subscription credits (openid stays on the server)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from backend.models.base import db
from backend.models.types import UTCDateTime, utcnow


class MpSession(db.Model):
    __tablename__ = "mp_sessions"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    openid_hash: Mapped[str] = mapped_column(String(64), index=True)
    openid_enc: Mapped[str] = mapped_column(Text)
    session_key_enc: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class MpSubscription(db.Model):
    """Subscribe-message credits a user granted for one message template."""
    __tablename__ = "mp_subscriptions"
    __table_args__ = (UniqueConstraint("openid_hash", "template_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    openid_hash: Mapped[str] = mapped_column(String(64))
    template_id: Mapped[str] = mapped_column(String(64))
    credits: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
