"""Ratings, the pending buffer they wait in, and what release derives from them.

A submission stores its rating sealed in `pending_items` and marks its link used with a keyed
tag; the release job moves pending items into `ratings` in shuffled batches and, in the same
transaction, counts them, signals them, chains them into the ledger and adds them to the
funnel's counters. A rating row holds what scoring needs and nothing that links it to the
invitation, the event or the rater: no invitation or event id, the batch's hour instead of
the submission's, an id drawn in shuffled order, and a MAC (keys outside the database) over
its content.
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

from backend.models.base import db
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
    batch_at: Mapped[datetime] = mapped_column(UTCDateTime())  # the release batch's hour
    month: Mapped[str] = mapped_column(String(7))
    receipt_hash: Mapped[str] = mapped_column(String(64), unique=True)
    mac: Mapped[str] = mapped_column(String(80))
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


class UseTag(db.Model):
    """A used link: the HMAC of its invitation (keys outside the database), nothing else.

    The primary key makes use single: a second submission of the same link inserts the same
    tag and fails. Without the key nobody can tell which invitation a tag belongs to.
    """

    __tablename__ = "invitation_use_tags"

    tag: Mapped[str] = mapped_column(String(64), primary_key=True)


class OpenTag(db.Model):
    """A link opened by a person (first opening), kept as a keyed tag like a use."""
    __tablename__ = "invitation_open_tags"

    tag: Mapped[str] = mapped_column(String(64), primary_key=True)


class PendingItem(db.Model):
    """A rating (or a first opening) waiting, sealed, for its release batch.

    `day` (local) lets a day's items be released whatever the batch size; `receipt_hash`
    lets a rater learn that the rating was accepted. Nothing else is in clear.
    """

    __tablename__ = "pending_items"

    id: Mapped[int] = mapped_column(ID, primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))  # rating | open
    day: Mapped[date] = mapped_column(Date, index=True)
    receipt_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    sealed: Mapped[str] = mapped_column(Text)


class FunnelCount(db.Model):
    """Event invitations opened and rated per (local day, official, event type, channel).

    Written at release, a batch at a time: the funnel reads these instead of per-link marks.
    """

    __tablename__ = "funnel_counts"
    __table_args__ = (PrimaryKeyConstraint("day", "cadre_id", "event_type", "channel"),)

    day: Mapped[date] = mapped_column(Date)
    cadre_id: Mapped[int] = mapped_column(ForeignKey("cadres.id"))
    event_type: Mapped[str] = mapped_column(String(40))
    channel: Mapped[str] = mapped_column(String(10))
    opened: Mapped[int] = mapped_column(Integer, default=0)
    rated: Mapped[int] = mapped_column(Integer, default=0)
    unstamped: Mapped[int] = mapped_column(Integer, default=0)  # rated without a valid stamp


class CampaignTurnout(db.Model):
    """Ballots answered per (campaign, rater group, local day), written at release."""
    __tablename__ = "campaign_turnout"
    __table_args__ = (PrimaryKeyConstraint("campaign_id", "rater_group", "day"),)

    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"))
    rater_group: Mapped[str] = mapped_column(String(20))
    day: Mapped[date] = mapped_column(Date)
    answered: Mapped[int] = mapped_column(Integer, default=0)


class AbuseSignal(db.Model):
    """Keyed hashes for fraud detection, kept apart from ratings and purged on schedule."""
    __tablename__ = "abuse_signals"

    id: Mapped[int] = mapped_column(ID, primary_key=True)
    rating_id: Mapped[int] = mapped_column(ForeignKey("ratings.id"), index=True)
    ip_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    net_hash: Mapped[str | None] = mapped_column(String(64), index=True)  # keyed /24 or /48
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
