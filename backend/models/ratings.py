"""Ratings and what is derived from them in the same transaction.

A rating row holds what scoring needs and nothing that links it to the invitation, the event
or the rater: no invitation or event id, and a submission time coarsened to the hour.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    JSON,
    Date,
    ForeignKey,
    Index,
    Integer,
    PrimaryKeyConstraint,
    SmallInteger,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.extensions import db
from backend.models.directory import Cadre
from backend.models.invitations import ID
from backend.models.templates import SurveyTemplate
from backend.models.types import UTCDateTime, utcnow

VALID, EXCLUDED = "valid", "excluded"


class Rating(db.Model):
    __tablename__ = "ratings"
    __table_args__ = (Index("ix_ratings_cadre_month", "cadre_id", "month"),)

    id: Mapped[int] = mapped_column(ID, primary_key=True)
    cadre_id: Mapped[int] = mapped_column(ForeignKey("cadres.id"))
    rater_group: Mapped[str] = mapped_column(String(20))
    score: Mapped[int] = mapped_column(SmallInteger)
    tags: Mapped[list] = mapped_column(JSON, default=list)
    comment: Mapped[str | None] = mapped_column(Text)
    template_id: Mapped[int] = mapped_column(ForeignKey("survey_templates.id"))
    event_type: Mapped[str | None] = mapped_column(String(40))
    submitted_hour: Mapped[datetime] = mapped_column(UTCDateTime())
    month: Mapped[str] = mapped_column(String(7))
    receipt_hash: Mapped[str] = mapped_column(String(64), unique=True)
    status: Mapped[str] = mapped_column(String(10), default=VALID)
    excluded_reason: Mapped[str | None] = mapped_column(String(500))
    excluded_by: Mapped[str | None] = mapped_column(String(64))
    excluded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    cadre: Mapped[Cadre] = relationship()
    template: Mapped[SurveyTemplate] = relationship()


class RatingCount(db.Model):
    """Valid ratings per (official, month, group, score): scoring reads only this."""

    __tablename__ = "rating_counts"
    # By month too: a publication or rollup reads a few months out of years of them.
    __table_args__ = (PrimaryKeyConstraint("cadre_id", "month", "rater_group", "score"),
                      Index("ix_rating_counts_month_cadre", "month", "cadre_id"))

    cadre_id: Mapped[int] = mapped_column(ForeignKey("cadres.id"))
    month: Mapped[str] = mapped_column(String(7))
    rater_group: Mapped[str] = mapped_column(String(20))
    score: Mapped[int] = mapped_column(SmallInteger)
    count: Mapped[int] = mapped_column(Integer, default=0)


class RatingTagCount(db.Model):
    """Valid ratings carrying a tag per (official, month, group, tag)."""

    __tablename__ = "rating_tag_counts"
    __table_args__ = (PrimaryKeyConstraint("cadre_id", "month", "rater_group", "tag"),
                      Index("ix_rating_tag_counts_month_cadre", "month", "cadre_id"))

    cadre_id: Mapped[int] = mapped_column(ForeignKey("cadres.id"))
    month: Mapped[str] = mapped_column(String(7))
    rater_group: Mapped[str] = mapped_column(String(20))
    tag: Mapped[str] = mapped_column(String(20))
    count: Mapped[int] = mapped_column(Integer, default=0)


class InvitationUse(db.Model):
    """Backstop of single use: a second consumption of one invitation violates the key."""

    __tablename__ = "invitation_uses"

    invitation_id: Mapped[int] = mapped_column(ForeignKey("invitations.id"), primary_key=True)
    used_on: Mapped[date] = mapped_column(Date)


class AbuseSignal(db.Model):
    """Keyed hashes for fraud detection, kept apart from ratings and purged on schedule."""

    __tablename__ = "abuse_signals"

    id: Mapped[int] = mapped_column(ID, primary_key=True)
    rating_id: Mapped[int] = mapped_column(ForeignKey("ratings.id"), index=True)
    ip_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    agent_hash: Mapped[str | None] = mapped_column(String(64))
    openid_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    seconds_on_page: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)


class FollowupContact(db.Model):
    """A phone number the rater agreed to be called back on; encrypted, purged on schedule."""

    __tablename__ = "followup_contacts"

    id: Mapped[int] = mapped_column(ID, primary_key=True)
    rating_id: Mapped[int] = mapped_column(ForeignKey("ratings.id"), index=True)
    phone_enc: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
