"""Alerts a user may see, and acknowledging or resolving them (who and when)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.models import Alert, Cadre, Unit
from backend.models.alerts import ACKNOWLEDGED, OPEN, RESOLVED
from backend.services.alerts.records import resolve_alert

from .common import Scope


def visible(scope: Scope, query):
    """Restrict an alert query to the scope (alerts of no official: unscoped users only)."""
    query = query.outerjoin(Cadre, Cadre.id == Alert.cadre_id).outerjoin(
        Unit, Unit.id == Cadre.unit_id)
    return query if scope.units is None else query.where(scope.where(Cadre.unit_id))


def state_counts(session: Session, scope: Scope, type: str | None) -> dict[str, int]:
    """Count the visible alerts per state."""
    query = visible(scope, select(Alert.state, func.count()).select_from(Alert))
    if type:
        query = query.where(Alert.type == type)
    return dict(session.execute(query.group_by(Alert.state)).all())


def alerts_page(session: Session, scope: Scope, state: str | None, type: str | None,
                page: int, size: int | None) -> list[dict[str, Any]]:
    """Return one page of visible alerts, newest first."""
    query = visible(scope, select(Alert, Cadre.name, Cadre.code, Unit.name).select_from(Alert))
    if state:
        query = query.where(Alert.state == state)
    if type:
        query = query.where(Alert.type == type)
    query = query.order_by(Alert.raised_at.desc(), Alert.id.desc())
    if size:
        query = query.limit(size).offset((page - 1) * size)
    return [{"id": alert.id, "type": alert.type, "cadre_id": alert.cadre_id,
             "cadre": name or "—", "cadre_code": code or "", "unit": unit or "—",
             "period": alert.period, "state": alert.state, "details": alert.details,
             "raised_at": alert.raised_at, "acknowledged_by": alert.acknowledged_by,
             "acknowledged_at": alert.acknowledged_at, "resolved_by": alert.resolved_by,
             "resolved_at": alert.resolved_at}
            for alert, name, code, unit in session.execute(query)]


def visible_alert(session: Session, scope: Scope, alert_id: int) -> Alert | None:
    """Return the alert when the scope may see it."""
    return session.scalar(visible(scope, select(Alert)).where(Alert.id == alert_id))


def acknowledge(alert: Alert, by: str, now: datetime) -> bool:
    """Mark an open alert acknowledged; False when it is not open."""
    if alert.state != OPEN:
        return False
    alert.state, alert.acknowledged_by, alert.acknowledged_at = ACKNOWLEDGED, by, now
    alert.updated_at = now
    return True


def resolve(session: Session, alert: Alert, by: str, now: datetime) -> bool:
    """Mark an alert resolved; False when it already is."""
    if alert.state == RESOLVED:
        return False
    resolve_alert(session, alert.type, alert.cadre_id, alert.period, by, now)
    return True
