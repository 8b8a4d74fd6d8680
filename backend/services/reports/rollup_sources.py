"""Read one day's counts from the base tables, for the rollup job (never for pages).

Every query is bounded by an indexed time range: service events by `created_at`; deliveries
are reached through their event. Openings and uses are not marked on invitations: they come
from the funnel counters the release job keeps per local day (`funnel_counts`).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime

from sqlalchemy import and_, case, func, literal_column, or_, select
from sqlalchemy.orm import Session

from backend.models import Cadre, Delivery, FunnelCount, ServiceEvent
from backend.models.outbox import FAILED, RECORDED, SENT
from backend.models.rollups import MEASURES

E = ServiceEvent
Key = tuple[int, str, str, int]  # (cadre_id, event_type, channel, unit_id)


def primary_channel(channels):
    """Return SQL for an invitation's main channel: wechat, else sms, else qr."""
    # Literal SQL, not bound parameters: PostgreSQL must see the same GROUP BY expression.
    return case((channels.like(literal_column("'%wechat%'")), literal_column("'wechat'")),
                (channels.like(literal_column("'%sms%'")), literal_column("'sms'")),
                else_=literal_column("'qr'"))


def ones(condition):
    """Return SQL summing 1 for each row where condition holds."""
    return func.sum(case((condition, 1), else_=0))


def arrived(start: datetime, end: datetime):
    """Return the condition of invitation-creating events that arrived in [start, end)."""
    return and_(E.created_at >= start, E.created_at < end, E.throttled.is_(False))


def first_deliveries(start: datetime, end: datetime):
    """Return per event of the range: its first successful delivery and its deadline."""
    delivered = case((Delivery.status.in_((SENT, RECORDED)), Delivery.delivered_at))
    return (select(Delivery.event_id, func.min(delivered).label("first"),
                   func.min(Delivery.due_by).label("due"))
            .where(Delivery.event_id.in_(select(E.id).where(arrived(start, end))))
            .group_by(Delivery.event_id).subquery())


def invitation_counts(session: Session, start: datetime, end: datetime):
    """Return invited, to_deliver, reached and reached_on_time per key for the range."""
    first, channel = first_deliveries(start, end), primary_channel(E.channels)
    reached = or_(first.c.event_id.is_(None), first.c.first.is_not(None))
    return session.execute(
        select(E.cadre_id, E.event_type, channel, Cadre.unit_id, func.count(),
               func.count(first.c.event_id), ones(reached), ones(first.c.first <= first.c.due))
        .select_from(E).join(Cadre, Cadre.id == E.cadre_id)
        .outerjoin(first, first.c.event_id == E.id).where(arrived(start, end))
        .group_by(E.cadre_id, E.event_type, channel, Cadre.unit_id))


def message_counts(session: Session, start: datetime, end: datetime):
    """Return messages and failed messages per key (the message's channel)."""
    return session.execute(
        select(E.cadre_id, E.event_type, Delivery.channel, Cadre.unit_id, func.count(),
               ones(Delivery.status == FAILED))
        .select_from(Delivery).join(E, E.id == Delivery.event_id)
        .join(Cadre, Cadre.id == E.cadre_id).where(arrived(start, end))
        .group_by(E.cadre_id, E.event_type, Delivery.channel, Cadre.unit_id))


def funnel_counts(session: Session, day: date):
    """Return per key the event invitations first opened and used on a local day."""
    return session.execute(
        select(FunnelCount.cadre_id, FunnelCount.event_type, FunnelCount.channel, Cadre.unit_id,
               FunnelCount.opened, FunnelCount.rated)
        .join(Cadre, Cadre.id == FunnelCount.cadre_id).where(FunnelCount.day == day))


def day_counts(session: Session, day: date, start: datetime,
               end: datetime) -> dict[Key, tuple[int, ...]]:
    """Return every measure per key for a local day, [start, end) in UTC."""
    found: dict[Key, dict[str, int]] = defaultdict(dict)
    for row in invitation_counts(session, start, end):
        found[tuple(row[:4])].update(zip(("invited", "to_deliver", "reached",
                                          "reached_on_time"), map(int, row[4:]), strict=True))
    for row in message_counts(session, start, end):
        found[tuple(row[:4])].update(messages=int(row[4]), messages_failed=int(row[5]))
    for row in funnel_counts(session, day):
        found[tuple(row[:4])].update(opened=int(row[4]), rated=int(row[5]))
    return {key: tuple(values.get(m, 0) for m in MEASURES) for key, values in found.items()}
