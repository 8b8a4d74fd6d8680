"""Helpers of the console views: query arguments, the clock, number formats, chart data."""

from __future__ import annotations

from datetime import date, datetime, tzinfo
from typing import Any

from flask import abort, request

from backend import wiring
from backend.services.accounts import audit
from backend.services.reports.common import Scope, today
from backend.services.reports.scope import Unit, find_unit, narrowed

from ..auth import current_user, scope
from ..filters import id_arg, int_arg
from ..pages import Column

WINDOWS = {7: "近 7 天", 30: "近 30 天"}
PAGE_SIZE = 50


def tz() -> tzinfo:
    """Return the deployment's time zone."""
    return wiring.timezone()


def now() -> datetime:
    """Return the current time."""
    return wiring.now()


def local_today() -> date:
    """Return today's local date."""
    return today(now(), tz())


def recorder():
    """Return the signed-in user's audit recorder, for services that audit their changes."""
    user, moment, address = current_user().username, now(), request.remote_addr

    def record(session, action: str, target: str, details: dict) -> None:
        audit.record(session, user, action, target, moment, details, address)

    return record


def days_arg(default: int = 30) -> int:
    """Return the window asked for (7 or 30 days)."""
    days = int_arg("days", default, 1, 365)
    return days if days in WINDOWS else default


def page_arg() -> int:
    """Return the 1-based page number asked for."""
    return int_arg("page", 1, 1, 10_000)


def unit_arg() -> tuple[Scope, Unit | None]:
    """Return the scope narrowed to ?unit= (404 when that unit is not visible) and the unit."""
    unit_id = id_arg("unit")
    if not unit_id:
        return scope(), None
    return scoped_unit(unit_id)


def scoped_unit(unit_id: int) -> tuple[Scope, Unit]:
    """Return a visible unit's subtree scope and the unit; 404 otherwise."""
    narrow = narrowed(wiring.session(), scope(), unit_id)
    if narrow is None:
        abort(404)
    return narrow, find_unit(wiring.session(), unit_id)


def scope_name() -> str:
    """Return what an unfiltered page covers: the user's own unit (and below), or all units."""
    user = current_user()
    if scope().units is not None and user.unit_id:
        own = find_unit(wiring.session(), user.unit_id)
        return f"{own.name}（含下级单位）" if own else "本单位"
    return "全部单位"


def subtitle(unit: Unit | None, days: int | None = None) -> str:
    """Return a page subtitle: the unit filtered on (or the user's scope) and the window."""
    name = unit.name if unit else scope_name()
    return f"{name} · {WINDOWS[days]}" if days else name


def pct(value: float | None) -> str:
    """Format a ratio as a percentage, or a dash."""
    return "—" if value is None else f"{value * 100:.1f}%"


def number(value: int | None) -> str:
    """Format a count with thousands separators."""
    return f"{int(value or 0):,}"


def rate_tone(value: float | None, good: float = 0.5, bad: float = 0.3) -> str:
    """Return the tone of a rate: ok, warn or bad."""
    if value is None:
        return ""
    return "ok" if value >= good else ("bad" if value < bad else "warn")


ACTIVITY_COLUMNS = [
    Column("invited", "邀请", "int"), Column("reached", "送达", "int"),
    Column("on_time", "24小时送达率", "pct"), Column("opened", "打开", "int"),
    Column("rated", "评价", "int"), Column("rate", "参评率", "pct"),
]


def trend_chart_data(series: list[dict[str, Any]]) -> dict[str, Any]:
    """Return the data of a daily trend chart: invitations and ratings, response rate."""
    return {"x": [row["day"].strftime("%m-%d") for row in series],
            "bars": [{"name": "邀请", "values": [row["invited"] for row in series]},
                     {"name": "送达", "values": [row["reached"] for row in series]},
                     {"name": "评价", "values": [row["rated"] for row in series]}],
            "lines": [{"name": "参评率", "values": [row["rate"] for row in series]}]}


def ranking_chart_data(rows: list[dict[str, Any]], label: str, value: str) -> dict[str, Any]:
    """Return the data of a horizontal bar chart of rates, lowest first."""
    return {"labels": [r[label] for r in rows], "values": [r[value] for r in rows],
            "pct": True}
