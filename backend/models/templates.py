"""The survey template registry: every version of every template and scheme ever used."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from backend.models.base import db
from backend.models.types import UTCDateTime, utcnow


class SurveyTemplate(db.Model):
    """One immutable version of a template (kind "template") or a scoring scheme ("scheme")."""
    __tablename__ = "survey_templates"
    __table_args__ = (
        UniqueConstraint("kind", "key", "version"),
        UniqueConstraint("kind", "key", "digest"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    key: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer)
    digest: Mapped[str] = mapped_column(String(71))
    definition: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
