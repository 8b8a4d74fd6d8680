"""The rating ledger (a SHA-256 hash chain with a Merkle root per day) and fraud review items.

A ledger entry commits to a rating's content (not its status: exclusion is a separate,
audited fact) and to every entry before it. A checkpoint closes one local day. Review items
carry evidence of suspected fraud: counts, windows and truncated keyed hashes, never a raw
address or openid.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Date, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from backend.models.base import db
from backend.models.invitations import ID
from backend.models.types import UTCDateTime, utcnow

OPEN, CLEARED, EXCLUDED = "open", "cleared", "excluded"


class LedgerEntry(db.Model):
    """One rating in the chain: chain_hash = sha256(previous chain_hash + leaf_hash)."""
    __tablename__ = "ledger_entries"

    seq: Mapped[int] = mapped_column(ID, primary_key=True, autoincrement=False)
    rating_id: Mapped[int] = mapped_column(ForeignKey("ratings.id"), unique=True)
    leaf_hash: Mapped[str] = mapped_column(String(64), unique=True)
    chain_hash: Mapped[str] = mapped_column(String(64))
    day: Mapped[date] = mapped_column(Date, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class LedgerCheckpoint(db.Model):
    """The Merkle root over one local day's leaf hashes, in sequence order."""
    __tablename__ = "ledger_checkpoints"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    root: Mapped[str] = mapped_column(String(64), unique=True)
    first_seq: Mapped[int] = mapped_column(ID)
    last_seq: Mapped[int] = mapped_column(ID)
    count: Mapped[int] = mapped_column(Integer)
    chain_hash: Mapped[str] = mapped_column(String(64))
    max_rating_id: Mapped[int] = mapped_column(ID)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ReviewItem(db.Model):
    """A fraud signal for a reviewer to decide; one per (kind, subject, window)."""
    __tablename__ = "review_items"
    __table_args__ = (UniqueConstraint("kind", "subject", "window"),)

    id: Mapped[int] = mapped_column(ID, primary_key=True)
    kind: Mapped[str] = mapped_column(String(30), index=True)
    subject: Mapped[str] = mapped_column(String(80))
    window: Mapped[str] = mapped_column(String(40))
    cadre_id: Mapped[int | None] = mapped_column(ForeignKey("cadres.id"), index=True)
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id"))
    evidence: Mapped[dict] = mapped_column(JSON, default=dict)
    rating_ids: Mapped[list] = mapped_column(JSON, default=list)
    state: Mapped[str] = mapped_column(String(10), default=OPEN, index=True)
    decided_by: Mapped[str | None] = mapped_column(String(64))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    reason: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
