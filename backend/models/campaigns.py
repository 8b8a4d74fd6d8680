"""Multi-rater campaigns (民主测评): rosters of raters, each with one ballot invitation."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    ForeignKey,
    Integer,
    LargeBinary,
    PrimaryKeyConstraint,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.models.base import db
from backend.models.directory import Cadre
from backend.models.invitations import ID, Invitation
from backend.models.templates import SurveyTemplate
from backend.models.types import UTCDateTime, utcnow

OPEN, CLOSED, CANCELLED = "open", "closed", "cancelled"


class Campaign(db.Model):
    __tablename__ = "campaigns"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    template_id: Mapped[int] = mapped_column(ForeignKey("survey_templates.id"))
    period: Mapped[str] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(10), default=OPEN, index=True)
    closes_at: Mapped[datetime] = mapped_column(UTCDateTime())
    max_reminders: Mapped[int] = mapped_column(Integer, default=2)
    # Reminder rounds go to the whole campaign: no row records which raters were reminded.
    reminders_sent: Mapped[int] = mapped_column(Integer, default=0)
    last_reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    template: Mapped[SurveyTemplate] = relationship()


class CampaignRater(db.Model):
    """One rater of a campaign and the ballot (invitation) they hold."""
    __tablename__ = "campaign_raters"
    __table_args__ = (UniqueConstraint("campaign_id", "code"),)

    id: Mapped[int] = mapped_column(ID, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"), index=True)
    code: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(100))
    rater_group: Mapped[str] = mapped_column(String(20))
    phone_enc: Mapped[str | None] = mapped_column(Text)
    invitation_id: Mapped[int] = mapped_column(ForeignKey("invitations.id"), unique=True)

    campaign: Mapped[Campaign] = relationship()
    invitation: Mapped[Invitation] = relationship()


class BallotTarget(db.Model):
    """An official covered by a ballot, rated under the ballot's rater group."""
    __tablename__ = "ballot_targets"
    __table_args__ = (PrimaryKeyConstraint("invitation_id", "cadre_id"),)

    invitation_id: Mapped[int] = mapped_column(ForeignKey("invitations.id"))
    cadre_id: Mapped[int] = mapped_column(ForeignKey("cadres.id"), index=True)
    rater_group: Mapped[str] = mapped_column(String(20))
    position: Mapped[int] = mapped_column(Integer, default=0)

    cadre: Mapped[Cadre] = relationship()


class SlipPrint(db.Model):
    """One printing of a campaign's slips: its progress while it runs, then the PDF.

    The PDF holds working ballot links, so it is stored sealed (keys outside the database),
    kept only for a day (PRINT_KEEP), and downloads of it are audited.
    """
    __tablename__ = "slip_prints"

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"), index=True)
    requested_by: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(10))  # queued | running | done | failed
    done: Mapped[int] = mapped_column(Integer, default=0)
    total: Mapped[int] = mapped_column(Integer, default=0)
    pdf: Mapped[bytes | None] = mapped_column(LargeBinary)  # sealed, see services/campaigns
    error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
