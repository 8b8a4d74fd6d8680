"""Shared pieces of the console's aggregations: spans of days, scopes, sums and rates."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from typing import Any

from sqlalchemy import ColumnElement, func, select, true
from sqlalchemy.orm import Session

from backend.models import UnitDaily
from backend.models.rollups import MEASURES


@dataclass(frozen=True)
class Span:
    """An inclusive range of local days ending today."""
    start: date
    end: date

    @property
    def days(self) -> int:
        """Return how many days the span covers."""
        return (self.end - self.start).days + 1

    def dates(self) -> list[date]:
        """Return every day of the span, oldest first."""
        return [self.start + timedelta(days=n) for n in range(self.days)]


@dataclass(frozen=True)
class Scope:
    """The units a user may see: None means every unit."""
    units: frozenset[int] | None

    def allows(self, unit_id: int | None) -> bool:
        """Tell whether a unit is visible."""
        return self.units is None or unit_id in self.units

    def where(self, column) -> ColumnElement[bool]:
        """Return the condition restricting a unit column to the scope."""
        return true() if self.units is None else column.in_(sorted(self.units))


def today(now: datetime, tz: tzinfo) -> date:
    """Return the local date of a moment."""
    return now.astimezone(tz).date()


def last_days(days: int, end: date) -> Span:
    """Return the span of the last `days` days up to `end`."""
    return Span(end - timedelta(days=days - 1), end)


def sums(model=UnitDaily, measures: Iterable[str] = MEASURES) -> list:
    """Return labelled sums of the measures of a rollup model."""
    return [func.coalesce(func.sum(getattr(model, m)), 0).label(m) for m in measures]


def ratio(part: int | None, whole: int | None) -> float | None:
    """Return part / whole, or None when there is nothing to divide."""
    return round((part or 0) / whole, 4) if whole else None


def derive(values: Mapping[str, Any]) -> dict[str, Any]:
    """Add the response rate, on-time share and open rate to a row of sums."""
    row = {m: int(values.get(m) or 0) for m in MEASURES if m in values}
    row.update({k: v for k, v in values.items() if k not in MEASURES})
    row["rate"] = ratio(row.get("rated"), row.get("invited"))
    row["reach_rate"] = ratio(row.get("reached"), row.get("invited"))
    row["on_time"] = ratio(row.get("reached_on_time"), row.get("to_deliver"))
    if "opened" in row:
        row["open_rate"] = ratio(row["opened"], row.get("reached"))
    if "messages" in row:
        row["fail_rate"] = ratio(row.get("messages_failed"), row["messages"])
    return row


def rollup_sums(session: Session, model, scope: Scope, span: Span, *group_by,
                where=()) -> list[dict]:
    """Sum a daily rollup over a span within the scope (when it has units), grouped as asked."""
    scoped = () if scope.units is None else (scope.where(model.unit_id),)
    query = (select(*group_by, *sums(model))
             .where(model.day >= span.start, model.day <= span.end, *scoped, *where)
             .group_by(*group_by))
    return [derive(row._mapping) for row in session.execute(query)]
