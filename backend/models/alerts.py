"""Alerts for administrators: one row per (type, official, period), with a state."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.models.base import db
from backend.models.directory import Cadre
from backend.models.types import UTCDateTime, utcnow

OPEN, ACKNOWLEDGED, RESOLVED = "open", "acknowledged", "resolved"


class Alert(db.Model):
    __tablename__ = "alerts"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    type: Mapped[str] = mapped_column(String(40), index=True)
    cadre_id: Mapped[int | None] = mapped_column(ForeignKey("cadres.id"), index=True)
    period: Mapped[str] = mapped_column(String(10))
    state: Mapped[str] = mapped_column(String(15), default=OPEN, index=True)
    details: Mapped[dict] = mapped_column(JSON, default=dict)
    raised_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    acknowledged_by: Mapped[str | None] = mapped_column(String(64))
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    resolved_by: Mapped[str | None] = mapped_column(String(64))
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    note: Mapped[str | None] = mapped_column(String(500))  # why it was resolved

    cadre: Mapped[Cadre | None] = relationship()
