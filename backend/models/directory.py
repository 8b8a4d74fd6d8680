"""The directory: units and the cadres who work in them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.models.base import db
from backend.models.types import UTCDateTime, utcnow


class Unit(db.Model):
    __tablename__ = "units"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    category: Mapped[str] = mapped_column(String(32))  # settings/unit_categories.yaml
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    parent: Mapped[Unit | None] = relationship(remote_side=[id])


# What a rating target is: one official, or a unit's leadership team (班子) rated as a whole.
OFFICIAL = "official"
TEAM = "team"
TARGET_KINDS = {OFFICIAL: "干部", TEAM: "领导班子"}


class Cadre(db.Model):
    """A rating target in the directory: an official, or a unit's leadership team.

    A team is a row of its own (kind "team", at most one per unit) so that ratings, counts,
    the ledger, scores and pushes treat it as they treat an official.
    """

    __tablename__ = "cadres"
    __table_args__ = (
        Index("uq_cadres_team_unit", "unit_id", unique=True,
              sqlite_where=text("kind = 'team'"), postgresql_where=text("kind = 'team'")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    position: Mapped[str] = mapped_column(String(200))
    level: Mapped[str | None] = mapped_column(String(20))  # POSITION_LEVELS (scoring); None: unset
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    kind: Mapped[str] = mapped_column(String(10), default=OFFICIAL,
                                      server_default=OFFICIAL)  # TARGET_KINDS
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    unit: Mapped[Unit] = relationship()
