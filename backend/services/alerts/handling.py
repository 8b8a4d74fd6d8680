"""Alerts as administrators handle them: the inbox, acknowledging and resolving in bulk.

`units` is the set of unit ids a user may see (None: every unit); alerts of no official (the
push system's) are visible to unscoped users only. A batch naming an alert the user may not
see changes nothing (NotFound); resolving needs a note, kept on the alert and in the audit
trail. Alerts whose condition cleared are resolved by `clear_alerts` with the note 自动解除.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, true, update
from sqlalchemy.orm import Session

from backend.errors import InvalidInput, NotFound
from backend.models import Alert, Cadre, Unit
from backend.models.alerts import ACKNOWLEDGED, OPEN, RESOLVED
from backend.storage.transactions import begin_write

# record(session, action, target, details): append an audit entry in the session's transaction.
Recorder = Callable[[Session, str, str, dict], None]
NOTE_MAX = 500
BATCH_MAX = 200
AUTO_BY = "系统"
AUTO_NOTE = "自动解除：告警条件已消除"
ACTIONS = ("acknowledge", "resolve")


def visible(units: frozenset[int] | None, query):
    """Restrict an alert query to the units (alerts of no official: unscoped users only)."""
    query = query.outerjoin(Cadre, Cadre.id == Alert.cadre_id).outerjoin(
        Unit, Unit.id == Cadre.unit_id)
    if units is None:
        return query
    return query.where(Cadre.unit_id.in_(sorted(units)) if units else ~true())


def state_counts(session: Session, units: frozenset[int] | None,
                 type: str | None) -> dict[str, int]:
    """Count the visible alerts per state."""
    query = visible(units, select(Alert.state, func.count()).select_from(Alert))
    if type:
        query = query.where(Alert.type == type)
    return dict(session.execute(query.group_by(Alert.state)).all())


def alerts_page(session: Session, units: frozenset[int] | None, state: str | None,
                type: str | None, page: int, size: int | None) -> list[dict[str, Any]]:
    """Return one page of visible alerts, newest first."""
    query = visible(units, select(Alert, Cadre.name, Cadre.code, Unit.name).select_from(Alert))
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
             "resolved_at": alert.resolved_at, "note": alert.note}
            for alert, name, code, unit in session.execute(query)]


def visible_alert(session: Session, units: frozenset[int] | None,
                  alert_id: int) -> Alert | None:
    """Return the alert when the units may see it."""
    return session.scalar(visible(units, select(Alert)).where(Alert.id == alert_id))


def checked_note(action: str, note: str | None) -> str | None:
    """Return the note, required to resolve and at most NOTE_MAX characters."""
    note = (note or "").strip()
    if action == "resolve" and not note:
        raise InvalidInput("解决告警须填写处理说明", {"note": "请填写处理说明"})
    if len(note) > NOTE_MAX:
        raise InvalidInput(f"处理说明不超过 {NOTE_MAX} 个字符", {"note": "处理说明过长"})
    return note or None


def checked_ids(ids: Iterable[int]) -> list[int]:
    """Return the distinct ids of a batch: at least one, at most BATCH_MAX."""
    chosen = sorted(set(ids))
    if not chosen:
        raise InvalidInput("请先勾选要处理的告警", {"ids": "未选择告警"})
    if len(chosen) > BATCH_MAX:
        raise InvalidInput(f"一次最多处理 {BATCH_MAX} 条告警", {"ids": "选择过多"})
    return chosen


def handle(session: Session, units: frozenset[int] | None, ids: Iterable[int], action: str,
           by: str, now: datetime, note: str | None, record: Recorder) -> list[int]:
    """Acknowledge or resolve visible alerts; audited; commit; return the ids changed."""
    if action not in ACTIONS:
        raise InvalidInput("未知操作", {"action": "可选：确认、解决"})
    chosen = checked_ids(ids)
    begin_write(session)
    alerts = list(session.scalars(visible(units, select(Alert)).where(Alert.id.in_(chosen))))
    if len(alerts) != len(chosen):
        session.rollback()
        raise NotFound("告警不存在或无权处理")
    try:
        note = checked_note(action, note)
    except InvalidInput:
        session.rollback()
        raise
    done = [a for a in alerts if apply(a, action, by, now, note)]
    for alert in done:
        record(session, f"alert.{action}", f"alert:{alert.id}",
               {"type": alert.type, "period": alert.period, **({"note": note} if note else {})})
    session.commit()
    return [a.id for a in done]


def apply(alert: Alert, action: str, by: str, now: datetime, note: str | None) -> bool:
    """Change one alert's state; False when it already is past that state."""
    if action == "acknowledge":
        if alert.state != OPEN:
            return False
        alert.state, alert.acknowledged_by, alert.acknowledged_at = ACKNOWLEDGED, by, now
    else:
        if alert.state == RESOLVED:
            return False
        alert.state, alert.resolved_by, alert.resolved_at = RESOLVED, by, now
    if note:
        alert.note = note
    alert.updated_at = now
    return True


def clear_alerts(session: Session, type: str, cadre_ids: Iterable[int], periods: Iterable[str],
                 now: datetime) -> int:
    """Resolve the unresolved alerts of a type, officials and periods whose cause is gone."""
    cadre_ids, periods = sorted(set(cadre_ids)), sorted(set(periods))
    if not cadre_ids or not periods:
        return 0
    result = session.execute(
        update(Alert).where(Alert.type == type, Alert.cadre_id.in_(cadre_ids),
                            Alert.period.in_(periods), Alert.state != RESOLVED)
        .values(state=RESOLVED, resolved_by=AUTO_BY, resolved_at=now, note=AUTO_NOTE,
                updated_at=now).execution_options(synchronize_session=False))
    return result.rowcount or 0
