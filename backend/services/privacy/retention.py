"""Retention: abuse-signal hashes and follow-up contacts are deleted once past their limit.

Campaign raters' phones are cleared once their campaign has been over for the personal-data
retention period (PERSONAL_DATA_RETENTION_DAYS, as for delivery contacts).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from backend.models import AbuseSignal, Campaign, CampaignRater, FollowupContact
from backend.models.campaigns import CANCELLED, CLOSED
from backend.storage.transactions import begin_write


@dataclass(frozen=True)
class RetentionReport:
    """How many rows each purge deleted, and how many raters' phones were cleared."""

    abuse_signals: int = 0
    followup_contacts: int = 0
    rater_phones: int = 0


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


def purge_rater_phones(session: Session, before: datetime, batch_size: int = 1000) -> int:
    """Clear the phones of raters whose campaign was closed or cancelled before `before`.

    Measured from `closed_at`, which close, cancel and the on-time close all set. The rater
    row stays (code, name, group and ballot are what progress and non-responder lists need);
    raters keep no phone hash, and reminders skip raters without a phone. One short
    transaction per batch, walking rater ids upwards.
    """
    ended = select(Campaign.id).where(Campaign.status.in_((CLOSED, CANCELLED)),
                                      Campaign.closed_at < before)
    last_id, total = 0, 0
    while True:
        begin_write(session)
        ids = session.scalars(
            select(CampaignRater.id).where(CampaignRater.id > last_id,
                                           CampaignRater.phone_enc.is_not(None),
                                           CampaignRater.campaign_id.in_(ended))
            .order_by(CampaignRater.id).limit(batch_size)).all()
        if ids:
            session.execute(update(CampaignRater).where(CampaignRater.id.in_(ids))
                            .values(phone_enc=None))
        session.commit()
        total += len(ids)
        if len(ids) < batch_size:
            return total
        last_id = ids[-1]


def purge(session: Session, now: datetime, signal_days: int = 90, followup_days: int = 180,
          phone_days: int = 30, batch_size: int = 1000) -> RetentionReport:
    """Delete signals and follow-up contacts past their limits; clear phones of ended campaigns."""
    return RetentionReport(
        purge_older(session, AbuseSignal, now - timedelta(days=signal_days), batch_size),
        purge_older(session, FollowupContact, now - timedelta(days=followup_days), batch_size),
        purge_rater_phones(session, now - timedelta(days=phone_days), batch_size))
