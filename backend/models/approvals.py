"""Two-person decisions (四眼原则): a consequential step needs two different administrators.

One row per (subject, action): the first approval records who asked for the step and why; a
second, different administrator completes it; a refusal withdraws it. The row stays as the
record of who decided; the audit trail holds every step as well.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from backend.models.base import db
from backend.models.invitations import ID
from backend.models.types import UTCDateTime

PENDING, DONE, WITHDRAWN = "pending", "done", "withdrawn"
APPROVAL_STATES = (PENDING, DONE, WITHDRAWN)


class TwoPersonDecision(db.Model):
    __tablename__ = "two_person_decisions"
    __table_args__ = (UniqueConstraint("subject", "action"),)

    id: Mapped[int] = mapped_column(ID, primary_key=True)
    subject: Mapped[str] = mapped_column(String(60))  # e.g. appeal:12, review:7
    action: Mapped[str] = mapped_column(String(20))  # e.g. exclude
    state: Mapped[str] = mapped_column(String(10), default=PENDING)
    first_by: Mapped[str] = mapped_column(String(64))
    first_at: Mapped[datetime] = mapped_column(UTCDateTime())
    first_note: Mapped[str] = mapped_column(String(500))
    second_by: Mapped[str | None] = mapped_column(String(64))
    second_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    second_note: Mapped[str | None] = mapped_column(String(500))
