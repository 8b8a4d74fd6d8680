"""按单位: a sortable table and a bar chart of units; a unit's own page with its subtree."""

from __future__ import annotations

from flask import request, url_for

from backend import wiring
from backend.services.reports import activity
from backend.services.reports.common import last_days

from ..access import READERS
from ..pages import Card, Chart, Column, Page, Table, register_page
from .common import (
    ACTIVITY_COLUMNS,
    WINDOWS,
    days_arg,
    local_today,
    number,
    pct,
    ranking_chart_data,
    rate_tone,
    scoped_unit,
    subtitle,
    trend_chart_data,
    unit_arg,
)

SORTS = {"rate": lambda r: (r["rate"] is None, r["rate"] or 0),
         "invited": lambda r: -r["invited"], "on_time": lambda r: (r["on_time"] or 0),
         "code": lambda r: r["code"]}


NOTES = {False: "统计口径：本单位干部，不含下级单位。勾选“含下级单位”可汇总各单位的下级单位。",
         True: "统计口径：本单位及其全部下级单位的干部（下级单位同时单独列出，请勿重复相加）。"}


def subordinates_arg() -> bool:
    """Tell whether unit rows should include their subordinate units (?sub=1)."""
    return request.args.get("sub") == "1"


def units_table(rows: list[dict], title: str) -> Table:
    """Return the table of units with links to their pages (sums per ?sub=)."""
    sub = subordinates_arg()
    if sub:
        rows = activity.with_subordinates(rows)
    for row in rows:
        row["url"] = url_for("console.unit", unit_id=row["unit_id"])
    return Table("units", title, [Column("code", "单位编码"), Column("name", "单位"),
                                  Column("parent", "上级单位"), *ACTIVITY_COLUMNS,
                                  Column("messages_failed", "失败消息", "int")],
                 rows, links={"name": "url"}, note=NOTES[sub])


def sorted_rows(rows: list[dict]) -> list[dict]:
    """Order rows as ?sort= asks (by code when not given)."""
    return sorted(rows, key=SORTS.get(request.args.get("sort", "code"), SORTS["code"]))


def build_list() -> Page:
    """Build the units page."""
    scope, unit = unit_arg()
    days = days_arg()
    rows = activity.by_unit(wiring.session(), scope, last_days(days, local_today()))
    table = units_table(rows, f"各单位情况（{WINDOWS[days]}）")
    table.rows = sorted_rows(table.rows)
    slow = list(reversed(activity.lagging(table.rows, 15)))
    chart = Chart("units-rate", "bars", f"参评率最低的单位（{WINDOWS[days]}，邀请≥20）",
                  ranking_chart_data(slow, "name", "rate"))
    return Page("按单位", "units", subtitle=subtitle(unit, days),
                charts=[chart], tables=[table],
                extra={"unit_filter": True, "window_filter": True, "sub_filter": True})


def subtree_cards(month: dict, week: dict) -> list[Card]:
    """Return a unit's headline figures for its whole subtree."""
    return [Card("邀请数（近30天）", number(month["invited"]), f"近7天 {number(week['invited'])}"),
            Card("评价数", number(month["rated"]), f"近7天 {number(week['rated'])}"),
            Card("参评率", pct(month["rate"]), f"近7天 {pct(week['rate'])}",
                 rate_tone(month["rate"])),
            Card("24小时送达率", pct(month["on_time"]), f"近7天 {pct(week['on_time'])}",
                 rate_tone(month["on_time"], 0.95, 0.85))]


def build_unit(unit_id: int) -> Page:
    """Build one unit's page: its subtree's figures, trend and units."""
    scope, unit = scoped_unit(unit_id)
    end = local_today()
    series = activity.daily_series(wiring.session(), scope, last_days(30, end))
    month, week = activity.window(series, 30, end), activity.window(series, 7, end)
    rows = activity.by_unit(wiring.session(), scope, last_days(30, end))
    return Page(unit.name, "unit", subtitle=f"单位编码 {unit.code} · 含下级单位",
                cards=subtree_cards(month, week),
                charts=[Chart("trend", "trend", "近30天趋势（含下级单位）",
                              trend_chart_data(series))],
                tables=[units_table(rows, "本单位及下级单位（近30天）")],
                target=f"unit:{unit.code}",
                extra={"officials_url": url_for("console.officials", unit=unit.id),
                       "sub_filter": True,
                       "results_url": url_for("console.unit_results", unit_id=unit.id)})


register_page("/units", "units", build_list, READERS)
register_page("/units/<int:unit_id>", "unit", build_unit, READERS)
