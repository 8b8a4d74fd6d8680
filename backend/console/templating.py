"""Template helpers of the console: links that keep the filters, times, number formats."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from flask import request, url_for

from backend import wiring
from backend.console.blueprint import bp
from backend.services.reports.rollups import refreshed_at
from backend.services.reports.scope import visible_units

from .auth import scope
from .filters import link_args
from .labels import (
    ALERT_STATES,
    ALERT_TYPES,
    CAMPAIGN_STATUSES,
    PUSH_STATUSES,
    SYSTEM_ALERTS,
)

NUMERIC = frozenset({"int", "pct", "score", "progress"})


@bp.app_template_global()
def console_units() -> list[dict[str, Any]]:
    """Return the units the user may filter on."""
    return [{"id": u.id, "name": u.name, "code": u.code}
            for u in visible_units(wiring.session(), scope())]


@bp.app_template_global()
def rollup_refreshed_at() -> str | None:
    """Return when the rollups were last refreshed, as local time."""
    moment = refreshed_at(wiring.session())
    if moment is None:
        return None
    return moment.astimezone(wiring.timezone()).strftime(
        "%m-%d %H:%M")


@bp.app_template_global()
def alert_types() -> dict[str, str]:
    """Return the alert types the user may filter on (system alerts: unscoped users only)."""
    if scope().units is None:
        return ALERT_TYPES
    return {k: v for k, v in ALERT_TYPES.items() if k not in SYSTEM_ALERTS}


@bp.app_template_global()
def same_page(**changes: Any) -> str:
    """Return this page's URL with some query arguments changed (None drops one)."""
    return url_for(request.endpoint, **(request.view_args or {}), **link_args(**changes))


@bp.app_template_global()
def export_url(fmt: str) -> str:
    """Return the export of this page in a format, with the same filters."""
    view_args = {k: v for k, v in (request.view_args or {}).items() if k != "fmt"}
    return url_for(request.endpoint.removesuffix("_export") + "_export", fmt=fmt, **view_args,
                   **link_args(page=None))


@bp.app_template_filter("local_time")
def local_time(value: datetime | date | None, with_time: bool = True) -> str:
    """Format a time in the deployment's zone."""
    if value is None:
        return "—"
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(wiring.timezone())
        return value.strftime("%Y-%m-%d %H:%M" if with_time else "%Y-%m-%d")
    return value.isoformat()


@bp.app_template_filter("cell_text")
def cell_text(value: Any, kind: str) -> str:
    """Format a table value for display."""
    if value is None or value == "":
        return "—"
    if isinstance(value, list | tuple):
        return "、".join(str(v) for v in value) or "—"
    if kind == "pct":
        return f"{value * 100:.1f}%"
    if kind == "int" and isinstance(value, int):
        return f"{value:,}"
    if kind == "score" and isinstance(value, int | float):
        return f"{value:.1f}"
    if kind in ("date", "datetime"):
        return local_time(value, kind == "datetime")
    return str(value)


@bp.app_template_filter("sort_value")
def sort_value(value: Any, kind: str) -> str:
    """Return the value a column sorts on."""
    if kind in NUMERIC:
        return str(value) if isinstance(value, int | float) else "-1"
    if isinstance(value, datetime | date):
        return value.isoformat()
    return "" if value is None else str(value)


@bp.context_processor
def names() -> dict[str, Any]:
    """Make code names and the numeric kinds available to templates."""
    return {"NUMERIC": NUMERIC, "ALERT_STATES": ALERT_STATES, "ALERT_TYPES": ALERT_TYPES,
            "CAMPAIGN_STATUSES": CAMPAIGN_STATUSES, "PUSH_STATUSES": PUSH_STATUSES}
