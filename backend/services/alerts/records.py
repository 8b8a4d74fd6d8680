"""Alerts for administrators: one row per (type, official, period), raised by checks.

Checks raise an alert (or refresh the open one) on its unique key; people acknowledge and
resolve it. An alert raised again after it was resolved reopens. Periods are months such as
"2026-11" in the deployment's time zone, or the longer periods of CONTRACT.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, tzinfo
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend.models import Alert
from backend.models.alerts import OPEN, RESOLVED

DELIVERY_OVERDUE = "delivery_overdue"


def alert_key(type: str, cadre_id: int | None, period: str) -> str:
    """Return the unique key of an alert: type|cadre|period."""
    return f"{type}|{cadre_id or '-'}|{period}"


def month_period(moment: datetime, tz: tzinfo) -> str:
    """Return the month ("2026-11") a moment falls in, in the deployment's time zone."""
    return moment.astimezone(tz).strftime("%Y-%m")


def find_alert(session: Session, type: str, cadre_id: int | None,
               period: str) -> Alert | None:
    """Return the alert of this type, official and period, if it was ever raised."""
    return session.scalar(select(Alert).filter_by(key=alert_key(type, cadre_id, period)))


def raise_alert(session: Session, type: str, cadre_id: int | None,
                period: str, details: Mapping[str, Any], now: datetime) -> Alert:
    """Open an alert, refresh the open one, or reopen a resolved one; the caller commits."""
    for _attempt in range(3):
        alert = find_alert(session, type, cadre_id, period)
        if alert is not None:
            return _refresh(alert, details, now)
        alert = Alert(key=alert_key(type, cadre_id, period), type=type, cadre_id=cadre_id,
                      period=period, state=OPEN, details=dict(details), raised_at=now,
                      updated_at=now)
        try:
            with session.begin_nested():
                session.add(alert)
            return alert
        except IntegrityError:
            continue  # another worker raised it first: refresh theirs
    raise RuntimeError(f"could not raise alert {alert_key(type, cadre_id, period)}")


def resolve_alert(session: Session, type: str, cadre_id: int | None,
                  period: str, by: str, now: datetime) -> Alert | None:
    """Mark an alert resolved by `by`; the caller commits. None when it was never raised."""
    alert = find_alert(session, type, cadre_id, period)
    if alert is not None and alert.state != RESOLVED:
        alert.state, alert.resolved_by, alert.resolved_at = RESOLVED, by, now
        alert.updated_at = now
    return alert


def _refresh(alert: Alert, details: Mapping[str, Any], now: datetime) -> Alert:
    if alert.state == RESOLVED:
        alert.state, alert.raised_at = OPEN, now
        alert.resolved_by = alert.resolved_at = None
        alert.acknowledged_by = alert.acknowledged_at = None
    alert.details = dict(details)
    alert.updated_at = now
    return alert
