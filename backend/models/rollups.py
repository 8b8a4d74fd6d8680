"""Rollups read by the console, so that its pages never scan invitations or ratings.

The rollup job (workers/jobs/rollups.py) recomputes the still-changing recent days from the
base tables and leaves older days frozen. Invitation measures belong to the day the service
event arrived (created, reached, reached within the deadline); opened and rated belong to the
day they happened. Channels: an invitation counts under its main channel (wechat, else sms,
else qr); message counts under the message's own channel.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Index, Integer, PrimaryKeyConstraint, String
from sqlalchemy.orm import Mapped, mapped_column

from backend.models.base import db
from backend.models.types import UTCDateTime, utcnow

MEASURES = ("invited", "to_deliver", "reached", "reached_on_time", "opened", "rated",
            "messages", "messages_failed")
MONTHLY_MEASURES = ("invited", "to_deliver", "reached", "reached_on_time", "opened", "rated")


def _count() -> Mapped[int]:
    return mapped_column(Integer, default=0)


class InvitationMeasures:
    """The invitation funnel's counts (MONTHLY_MEASURES), shared by every rollup table."""
    invited: Mapped[int] = _count()
    to_deliver: Mapped[int] = _count()
    reached: Mapped[int] = _count()
    reached_on_time: Mapped[int] = _count()
    opened: Mapped[int] = _count()
    rated: Mapped[int] = _count()


class DailyMeasures(InvitationMeasures):
    """The funnel's counts and the messages sent (MEASURES), for the daily rollups."""
    messages: Mapped[int] = _count()
    messages_failed: Mapped[int] = _count()


class CadreDaily(DailyMeasures, db.Model):
    """Counts per (local day, official, event type, channel)."""
    __tablename__ = "rollup_cadre_daily"
    __table_args__ = (PrimaryKeyConstraint("day", "cadre_id", "event_type", "channel"),
                      Index("ix_rollup_cadre_daily_cadre_day", "cadre_id", "day"))

    day: Mapped[date] = mapped_column(Date)
    cadre_id: Mapped[int] = mapped_column(ForeignKey("cadres.id"))
    event_type: Mapped[str] = mapped_column(String(40))
    channel: Mapped[str] = mapped_column(String(10))
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))


class UnitDaily(DailyMeasures, db.Model):
    """Counts per (local day, unit, event type, channel): the sum of the unit's officials."""
    __tablename__ = "rollup_unit_daily"
    __table_args__ = (PrimaryKeyConstraint("day", "unit_id", "event_type", "channel"),
                      Index("ix_rollup_unit_daily_unit_day", "unit_id", "day"))

    day: Mapped[date] = mapped_column(Date)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    event_type: Mapped[str] = mapped_column(String(40))
    channel: Mapped[str] = mapped_column(String(10))


class UnitDay(DailyMeasures, db.Model):
    """Counts per (local day, unit), all event types and channels together."""
    __tablename__ = "rollup_unit_day"
    __table_args__ = (PrimaryKeyConstraint("day", "unit_id"),
                      Index("ix_rollup_unit_day_unit_day", "unit_id", "day"))

    day: Mapped[date] = mapped_column(Date)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))


class DayTotal(DailyMeasures, db.Model):
    """Counts per (local day, event type, channel) over every unit: what org-wide pages read."""
    __tablename__ = "rollup_daily"
    __table_args__ = (PrimaryKeyConstraint("day", "event_type", "channel"),)

    day: Mapped[date] = mapped_column(Date)
    event_type: Mapped[str] = mapped_column(String(40))
    channel: Mapped[str] = mapped_column(String(10))


class CadreMonthly(InvitationMeasures, db.Model):
    """Counts per (month, official), with the valid ratings of the month."""
    __tablename__ = "rollup_cadre_monthly"
    __table_args__ = (PrimaryKeyConstraint("month", "cadre_id"),
                      Index("ix_rollup_cadre_monthly_cadre", "cadre_id", "month"))

    month: Mapped[str] = mapped_column(String(7))
    cadre_id: Mapped[int] = mapped_column(ForeignKey("cadres.id"))
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    valid_ratings: Mapped[int] = _count()


class RollupState(db.Model):
    """Where a rollup stands: days before `open_from` are final."""
    __tablename__ = "rollup_state"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    open_from: Mapped[date | None] = mapped_column(Date)
    refreshed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
