"""Invitation activity from the daily rollups: series, windows, units, event types, channels."""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.models import Alert, Cadre, CadreMonthly, DayTotal, Unit, UnitDaily, UnitDay
from backend.models.alerts import RESOLVED
from backend.models.directory import OFFICIAL
from backend.models.rollups import MEASURES
from backend.services.reports.common import Scope, Span, derive, rollup_sums

MIN_INVITED_FOR_RANKING = 20


def daily_series(session: Session, scope: Scope, span: Span) -> list[dict[str, Any]]:
    """Return one row of sums per day of the span (days without data as zeros)."""
    model = DayTotal if scope.units is None else UnitDay
    found = {row["day"]: row for row in rollup_sums(session, model, scope, span, model.day)}
    return [found.get(day) or derive({"day": day, **dict.fromkeys(MEASURES, 0)})
            for day in span.dates()]


def window(series: list[dict[str, Any]], days: int, end: date) -> dict[str, Any]:
    """Sum the last `days` days of a daily series."""
    start = end - timedelta(days=days - 1)
    return total([row for row in series if row["day"] >= start])


def total(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Sum the measures of rows."""
    sums: Counter[str] = Counter(dict.fromkeys(MEASURES, 0))
    for row in rows:
        sums.update({m: row[m] for m in MEASURES})
    return derive(sums)


def by_unit(session: Session, scope: Scope, span: Span) -> list[dict[str, Any]]:
    """Return sums per unit of the scope (units without activity included)."""
    found = {row["unit_id"]: row
             for row in rollup_sums(session, UnitDay, scope, span, UnitDay.unit_id)}
    units = session.execute(select(Unit.id, Unit.code, Unit.name, Unit.parent_id)
                            .where(scope.where(Unit.id)).order_by(Unit.code)).all()
    names = {u.id: u.name for u in units}
    rows = []
    for unit in units:
        row = found.get(unit.id) or derive({"unit_id": unit.id, **dict.fromkeys(MEASURES, 0)})
        rows.append({**row, "code": unit.code, "name": unit.name,
                     "parent": names.get(unit.parent_id, ""), "parent_id": unit.parent_id})
    return rows


def with_subordinates(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Return unit rows whose sums include every visible unit below them."""
    children: dict[int, list[int]] = {}
    for row in rows:
        children.setdefault(row["parent_id"], []).append(row["unit_id"])
    by_id = {row["unit_id"]: row for row in rows}

    def subtree(unit_id: int, seen: set[int]) -> list[dict[str, Any]]:
        seen.add(unit_id)
        found = [by_id[unit_id]]
        for child in children.get(unit_id, []):
            if child not in seen:  # a loop in bad data is counted once
                found.extend(subtree(child, seen))
        return found

    return [{**row, **total(subtree(row["unit_id"], set()))} for row in rows]


def lagging(rows: list[dict[str, Any]], limit: int) -> list[dict[str, Any]]:
    """Return the rows with the lowest response rate among those with enough invitations."""
    ranked = [r for r in rows if r["invited"] >= MIN_INVITED_FOR_RANKING]
    return sorted(ranked, key=lambda r: (r["rate"] or 0, -r["invited"]))[:limit]


def by_dimensions(session: Session, scope: Scope, span: Span) -> list[dict[str, Any]]:
    """Return sums per (event type, channel)."""
    model = DayTotal if scope.units is None else UnitDaily
    return rollup_sums(session, model, scope, span, model.event_type, model.channel)


def folded(rows: list[dict[str, Any]], key: str) -> list[dict[str, Any]]:
    """Sum (event type, channel) rows over one of the two keys."""
    totals: dict[str, Counter] = {}
    for row in rows:
        totals.setdefault(row[key], Counter()).update({m: row[m] for m in MEASURES})
    return [derive({key: name, **counts}) for name, counts in sorted(totals.items())]


def open_alerts(session: Session, scope: Scope) -> dict[str, int]:
    """Count unresolved alerts per type within the scope."""
    query = select(Alert.type, func.count()).where(Alert.state != RESOLVED)
    if scope.units is not None:
        query = query.join(Cadre, Cadre.id == Alert.cadre_id).where(scope.where(Cadre.unit_id))
    return dict(session.execute(query.group_by(Alert.type)).all())


def low_sample_count(session: Session, scope: Scope, months: list[str], minimum: int) -> int:
    """Count active officials of the scope below the minimum valid ratings in the months."""
    valid = (select(CadreMonthly.cadre_id, func.sum(CadreMonthly.valid_ratings).label("n"))
             .where(CadreMonthly.month.in_(months)).group_by(CadreMonthly.cadre_id).subquery())
    return session.scalar(
        select(func.count()).select_from(Cadre).outerjoin(valid, valid.c.cadre_id == Cadre.id)
        .where(Cadre.active.is_(True), Cadre.kind == OFFICIAL, scope.where(Cadre.unit_id),
               func.coalesce(valid.c.n, 0) < minimum)) or 0

