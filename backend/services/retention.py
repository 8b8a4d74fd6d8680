"""Retention: abuse-signal hashes and follow-up contacts are deleted once past their limit."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from backend.models import AbuseSignal, FollowupContact
from backend.services.transactions import begin_write


@dataclass(frozen=True)
class RetentionReport:
    """How many rows each purge deleted."""

    abuse_signals: int = 0
    followup_contacts: int = 0


def purge_older(session: Session, model, before: datetime, batch_size: int = 1000) -> int:
    """Delete rows of `model` created before `before`, one short transaction per batch."""
    total = 0
    while True:
        begin_write(session)
        ids = session.scalars(select(model.id).where(model.created_at < before)
                              .order_by(model.id).limit(batch_size)).all()
        if ids:
            session.execute(delete(model).where(model.id.in_(ids)))
        session.commit()
        total += len(ids)
        if len(ids) < batch_size:
            return total


def purge(session: Session, now: datetime, signal_days: int = 90, followup_days: int = 180,
          batch_size: int = 1000) -> RetentionReport:
    """Delete abuse signals and follow-up contacts past their retention periods."""
    return RetentionReport(
        purge_older(session, AbuseSignal, now - timedelta(days=signal_days), batch_size),
        purge_older(session, FollowupContact, now - timedelta(days=followup_days), batch_size))
