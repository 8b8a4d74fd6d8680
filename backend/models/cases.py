"""Cases (整改单): a bad rating, a flag or a rater's report, with an owner and a deadline.

A case names the official, the unit and what was said (score, tags, comment, month through
its rating), never the rater: it is opened at release, from the released rating, at the
batch's hour. Its history is a list of events; nothing is ever deleted.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.models.base import db
from backend.models.directory import Cadre, Unit
from backend.models.invitations import ID
from backend.models.ratings import Rating
from backend.models.types import UTCDateTime, utcnow

OPEN, IN_PROGRESS, AWAITING, CLOSED, RETURNED = (
    "open", "in_progress", "awaiting_acceptance", "closed", "returned")
STATUSES = (OPEN, IN_PROGRESS, AWAITING, CLOSED, RETURNED)
RATING, FLAG, REPORT = "rating", "flag", "report"
SOURCES = (RATING, FLAG, REPORT)
CALLBACK_OUTCOMES = ("reached", "unreached", "declined", "no_consent")
VERDICTS = ("satisfied", "unsatisfied")
REPORT_KINDS = {"retaliation": "打击报复", "pressure": "现场施压或指定评分", "other": "其他"}


class Case(db.Model):
    __tablename__ = "cases"
    __table_args__ = (Index("ix_cases_status_due", "status", "due_at"),)

    id: Mapped[int] = mapped_column(ID, primary_key=True)
    key: Mapped[str] = mapped_column(String(120), unique=True)  # what opened it, once
    source: Mapped[str] = mapped_column(String(10))
    cadre_id: Mapped[int | None] = mapped_column(ForeignKey("cadres.id"), index=True)
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), index=True)
    rating_id: Mapped[int | None] = mapped_column(ForeignKey("ratings.id"), unique=True)
    flag: Mapped[str | None] = mapped_column(String(40))
    period: Mapped[str | None] = mapped_column(String(10))  # the rating's month or flag period
    assignee_role: Mapped[str] = mapped_column(String(20))  # unit_admin | discipline
    status: Mapped[str] = mapped_column(String(20), default=OPEN, index=True)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    reply: Mapped[str | None] = mapped_column(Text)  # published to the rater
    measures: Mapped[str | None] = mapped_column(Text)  # internal: what was done
    callback: Mapped[str | None] = mapped_column(String(12))
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_on_time: Mapped[bool | None] = mapped_column(Boolean)  # for the SLA figures
    hours_to_close: Mapped[int | None] = mapped_column(Integer)
    recheck_due: Mapped[datetime | None] = mapped_column(UTCDateTime())
    reopened: Mapped[int] = mapped_column(Integer, default=0)
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    verdict: Mapped[str | None] = mapped_column(String(12))  # the rater's word, once
    # A rater's report of retaliation or pressure (打击报复锁): for the discipline side only.
    report_kind: Mapped[str | None] = mapped_column(String(20))
    report_text: Mapped[str | None] = mapped_column(Text)
    contact_enc: Mapped[str | None] = mapped_column(Text)  # encrypted; SECRET_KEYS

    cadre: Mapped[Cadre | None] = relationship()
    unit: Mapped[Unit | None] = relationship()
    rating: Mapped[Rating | None] = relationship()
    events: Mapped[list[CaseEvent]] = relationship(order_by="CaseEvent.id",
                                                   back_populates="case")
    evidence: Mapped[list[CaseEvidence]] = relationship(order_by="CaseEvidence.id",
                                                        back_populates="case")


class CaseEvent(db.Model):
    """One step in a case's history: who did what, from which state to which, and why."""

    __tablename__ = "case_events"

    id: Mapped[int] = mapped_column(ID, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(20))
    from_status: Mapped[str | None] = mapped_column(String(20))
    to_status: Mapped[str] = mapped_column(String(20))
    note: Mapped[str | None] = mapped_column(Text)

    case: Mapped[Case] = relationship(back_populates="events")


class CaseEvidence(db.Model):
    """A file the assignee attached to a case (photos, scans of what was done).

    The bytes live outside the web root (`CASE_EVIDENCE_DIR`) under a random name; the row
    keeps the name shown on download, the type found by its magic bytes, its size and digest.
    """

    __tablename__ = "case_evidence"

    id: Mapped[int] = mapped_column(ID, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    stored_name: Mapped[str] = mapped_column(String(64), unique=True)
    filename: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(10))  # jpg | png | pdf
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    uploaded_by: Mapped[str] = mapped_column(String(64))
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime())

    case: Mapped[Case] = relationship(back_populates="evidence")


NOTICE_KINDS = {"opened": "新整改单待受理", "returned": "整改单被退回",
                "escalated": "整改单逾期督办", "reopened": "回头看重新整改"}


class CaseNotice(db.Model):
    """A notice to one console user about cases: shown in the console, sent by SMS or WeChat.

    Its text names the official's unit and how many cases, never anything of a rater.
    """

    __tablename__ = "case_notices"
    __table_args__ = (Index("ix_case_notices_user_read", "user_id", "read_at"),)

    id: Mapped[int] = mapped_column(ID, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("console_users.id"))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))  # when one case only
    kind: Mapped[str] = mapped_column(String(12))
    count: Mapped[int] = mapped_column(Integer, default=1)
    text: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    case: Mapped[Case | None] = relationship()
