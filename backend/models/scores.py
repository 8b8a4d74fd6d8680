"""Published scores and the webhook outbox that pushes them to the assessment core."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.models.base import db
from backend.models.directory import Cadre
from backend.models.invitations import ID
from backend.models.templates import SurveyTemplate
from backend.models.types import UTCDateTime, utcnow


class ScoreSnapshot(db.Model):
    """One computed score of an official for a period under one scheme version.

    A new row is written only when the digest (of the histograms) or the document changes, so
    recomputing unchanged data writes and publishes nothing.
    """

    __tablename__ = "score_snapshots"
    __table_args__ = (
        UniqueConstraint("cadre_id", "period", "scheme_id", "document_hash"),
        Index("ix_score_snapshots_period_cadre", "period", "cadre_id"),
    )

    id: Mapped[int] = mapped_column(ID, primary_key=True)
    cadre_id: Mapped[int] = mapped_column(ForeignKey("cadres.id"))
    period: Mapped[str] = mapped_column(String(10))
    scheme_id: Mapped[int] = mapped_column(ForeignKey("survey_templates.id"))
    digest: Mapped[str] = mapped_column(String(71))
    document_hash: Mapped[str] = mapped_column(String(64))
    document: Mapped[dict] = mapped_column(JSON)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    superseded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    cadre: Mapped[Cadre] = relationship()
    scheme: Mapped[SurveyTemplate] = relationship()


class WebhookMessage(db.Model):
    """A message for the assessment core, written in the transaction that caused it."""
    __tablename__ = "webhook_outbox"
    __table_args__ = (Index("ix_webhook_outbox_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(ID, primary_key=True)
    webhook_id: Mapped[str] = mapped_column(String(80), unique=True)
    type: Mapped[str] = mapped_column(String(40))
    period: Mapped[str | None] = mapped_column(String(10), index=True)
    payload: Mapped[dict] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(12), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_status: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
