"""Watch the delivery outbox: missed 24-hour deadlines become alerts; contacts are purged."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from typing import Any

from sqlalchemy import and_, delete, exists, or_, select, update
from sqlalchemy.orm import Session, aliased

from backend.models import Alert, Delivery, Invitation, MpSession, ServiceEvent
from backend.models.alerts import RESOLVED
from backend.models.outbox import CANCELLED, RECORDED, SENT
from backend.services.alerts.records import DELIVERY_OVERDUE, find_alert, month_period, raise_alert
from backend.storage.transactions import begin_write

DEADLINE_LOOKBACK = timedelta(days=62)  # the current and the previous month, whole


@dataclass
class MissedDeadlines:
    """The deliveries of one (official, month) whose invitation did not arrive in time."""

    events: set[int] = field(default_factory=set)
    late: set[int] = field(default_factory=set)
    channels: Counter[str] = field(default_factory=Counter)
    oldest_due_by: datetime | None = None

    def add(self, channel: str, status: str, due_by: datetime, event_id: int) -> None:
        """Count one delivery of an event that missed its deadline."""
        self.events.add(event_id)
        if status in (SENT, RECORDED):
            self.late.add(event_id)
        else:
            self.channels[channel] += 1
        if self.oldest_due_by is None or due_by < self.oldest_due_by:
            self.oldest_due_by = due_by

    def details(self, tz: tzinfo) -> dict[str, Any]:
        """Return the alert details."""
        return {"overdue": sum(self.channels.values()), "events": len(self.events),
                "late": len(self.late), "channels": dict(sorted(self.channels.items())),
                "oldest_due_by": self.oldest_due_by.astimezone(tz).isoformat()}


def check_deadlines(session: Session, now: datetime, tz: tzinfo) -> int:
    """Raise or refresh a delivery_overdue alert per (official, month); return how many."""
    changed = 0
    for (cadre_id, period), missed in missed_deadlines(session, now, tz).items():
        details = missed.details(tz)
        if fires(find_alert(session, DELIVERY_OVERDUE, cadre_id, period), details):
            raise_alert(session, DELIVERY_OVERDUE, cadre_id, period, details, now)
            changed += 1
    session.commit()
    return changed


def fires(alert: Alert | None, details: Mapping[str, Any]) -> bool:
    """Tell whether details are news: a new alert, changed figures, or a newly missed event."""
    if alert is None:
        return True
    if alert.state == RESOLVED:
        return details["events"] > (alert.details or {}).get("events", 0)
    return alert.details != details


def missed_deadlines(session: Session, now: datetime,
                     tz: tzinfo) -> dict[tuple[int, str], MissedDeadlines]:
    """Group, per (official, month of the event), deliveries of events not reached in time."""
    on_time = aliased(Delivery)
    reached = exists().where(on_time.invitation_id == Delivery.invitation_id,
                             on_time.status.in_((SENT, RECORDED)),
                             on_time.delivered_at <= on_time.due_by)
    # Whether the link was used is not asked: a delivery that missed its deadline is late
    # either way, and the outbox must not differ between used and unused links.
    still_open = or_(Invitation.revoked_at.is_(None), Invitation.revoked_at > Delivery.due_by)
    stmt = (select(Delivery.channel, Delivery.status, Delivery.due_by, ServiceEvent.id,
                   ServiceEvent.cadre_id, ServiceEvent.occurred_at)
            .join(ServiceEvent, Delivery.event_id == ServiceEvent.id)
            .join(Invitation, Delivery.invitation_id == Invitation.id)
            .where(Delivery.due_by < now, Delivery.due_by >= now - DEADLINE_LOOKBACK,
                   Delivery.status != CANCELLED, still_open, ~reached)
            .execution_options(yield_per=1000))
    groups: dict[tuple[int, str], MissedDeadlines] = {}
    for channel, status, due_by, event_id, cadre_id, occurred_at in session.execute(stmt):
        key = (cadre_id, month_period(occurred_at, tz))
        groups.setdefault(key, MissedDeadlines()).add(channel, status, due_by, event_id)
    return groups


@dataclass(frozen=True)
class PurgeReport:
    """How many deliveries lost their contacts and how many mini-program sessions went."""

    deliveries: int = 0
    mp_sessions: int = 0


def purge_contacts(session: Session, now: datetime, retention_days: int,
                   batch_size: int = 500) -> PurgeReport:
    """Erase contacts of invitations ended over retention_days ago, and stale mp sessions."""
    cutoff = now - timedelta(days=retention_days)
    purge_recipient_hashes(session, cutoff, batch_size)
    return PurgeReport(purge_delivery_contacts(session, now, retention_days, batch_size),
                       purge_mp_sessions(session, now - timedelta(days=1), batch_size))


def ended_before(cutoff: datetime):
    """Return the condition of invitations revoked or expired before `cutoff`.

    Whether a link was used is never asked: that would need a mark on used links.
    """
    return or_(Invitation.revoked_at < cutoff, Invitation.expires_at < cutoff)


def purge_recipient_hashes(session: Session, cutoff: datetime, batch_size: int = 500) -> int:
    """Null the keyed phone and openid hashes (kept for throttling) of long-ended invitations."""
    total = 0
    while True:
        begin_write(session)
        ids = session.scalars(
            select(Invitation.id).where(ended_before(cutoff), or_(
                Invitation.phone_hash.is_not(None), Invitation.openid_hash.is_not(None)))
            .limit(batch_size)).all()
        if ids:
            session.execute(update(Invitation).where(Invitation.id.in_(ids))
                            .values(phone_hash=None, openid_hash=None))
        session.commit()
        total += len(ids)
        if len(ids) < batch_size:
            return total


def purge_delivery_contacts(session: Session, now: datetime, retention_days: int,
                            batch_size: int = 500) -> int:
    """Null the contacts and message of deliveries whose invitation ended long ago.

    A campaign reminder names no invitation: it is purged retention_days after it was made.
    """
    cutoff, last_id, total = now - timedelta(days=retention_days), 0, 0
    ended = or_(ended_before(cutoff),
                and_(Delivery.invitation_id.is_(None), Delivery.created_at < cutoff))
    while True:
        begin_write(session)
        ids = session.scalars(
            select(Delivery.id).outerjoin(Invitation, Delivery.invitation_id == Invitation.id)
            .where(Delivery.id > last_id, Delivery.purged_at.is_(None), ended)
            .order_by(Delivery.id).limit(batch_size)).all()
        if not ids:
            session.commit()
            return total
        session.execute(update(Delivery).where(Delivery.id.in_(ids)).values(
            contact_enc=None, fallback_phone_enc=None, message=None, sealed_ref=None,
            purged_at=now))
        session.commit()
        total, last_id = total + len(ids), ids[-1]


def purge_mp_sessions(session: Session, before: datetime, batch_size: int = 500) -> int:
    """Delete mini-program sessions that expired before `before`."""
    total = 0
    while True:
        begin_write(session)
        ids = session.scalars(select(MpSession.id).where(MpSession.expires_at < before)
                              .limit(batch_size)).all()
        if ids:
            session.execute(delete(MpSession).where(MpSession.id.in_(ids)))
        session.commit()
        total += len(ids)
        if len(ids) < batch_size:
            return total
