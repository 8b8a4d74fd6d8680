"""Appeals (申诉复核): a unit contests a rating of one of its officials, by its case.

An appeal names the case (and through it the rating), never the rater. An org admin decides:
upheld (the rating is excluded, which takes two different org admins) or rejected. The
rating stays in the ledger either way; only its status changes.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, backref, mapped_column, relationship

from backend.models.base import db
from backend.models.cases import Case
from backend.models.invitations import ID
from backend.models.types import UTCDateTime

PENDING, CONFIRMING, UPHELD, REJECTED = "pending", "confirming", "upheld", "rejected"
APPEAL_STATUSES = (PENDING, CONFIRMING, UPHELD, REJECTED)
APPEAL_REASONS = {"malicious": "恶意评价", "not_theirs": "非本人事项", "objective": "客观原因"}


class Appeal(db.Model):
    __tablename__ = "appeals"

    id: Mapped[int] = mapped_column(ID, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), unique=True)  # one per case
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), index=True)
    reason: Mapped[str] = mapped_column(String(20))
    text: Mapped[str] = mapped_column(Text)
    evidence: Mapped[str | None] = mapped_column(Text)  # what the unit offers in support
    status: Mapped[str] = mapped_column(String(12), default=PENDING, index=True)
    filed_by: Mapped[str] = mapped_column(String(64))
    filed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    decided_by: Mapped[str | None] = mapped_column(String(64))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    decision_note: Mapped[str | None] = mapped_column(Text)

    case: Mapped[Case] = relationship(backref=backref("appeal", uselist=False))
