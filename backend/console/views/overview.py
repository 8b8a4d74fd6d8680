"""总览: today, 7 and 30 days at a glance, the trend, and where responses lag."""

from __future__ import annotations

from flask import current_app, url_for

from backend import wiring
from backend.scoring.periods import trailing_months
from backend.services.ratings.release import waiting
from backend.services.reports import activity
from backend.services.reports.common import last_days

from ..access import READERS
from ..labels import ALERT_TYPES, CHANNEL_NAMES
from ..pages import Card, Chart, Column, Page, Table, register_page
from .common import (
    ACTIVITY_COLUMNS,
    local_today,
    number,
    pct,
    ranking_chart_data,
    rate_tone,
    subtitle,
    trend_chart_data,
    unit_arg,
)

PERIODS = ((1, "今日"), (7, "近 7 天"), (30, "近 30 天"))


def headline_cards(totals: dict[int, dict], alerts: int, low: int) -> list[Card]:
    """Return the overview's headline figures (30 days, with today and 7 days below)."""
    def hint(key: str, fmt=number) -> str:
        return f"今日 {fmt(totals[1][key])} · 近7天 {fmt(totals[7][key])}"

    month = totals[30]
    return [Card("邀请数（近30天）", number(month["invited"]), hint("invited")),
            Card("送达数", number(month["reached"]), hint("reached")),
            Card("评价数", number(month["rated"]), hint("rated")),
            Card("参评率", pct(month["rate"]), hint("rate", pct), rate_tone(month["rate"])),
            Card("24小时送达率", pct(month["on_time"]), hint("on_time", pct),
                 rate_tone(month["on_time"], 0.95, 0.85)),
            Card("待处理告警", number(alerts),
                 f"有效评价不足{wiring.sample_thresholds().minimum}条的干部 {low} 人",
                 "bad" if alerts else "ok")]


def period_table(totals: dict[int, dict]) -> Table:
    """Return the today / 7 / 30 days table."""
    rows = [{"period": label, **totals[days]} for days, label in PERIODS]
    return Table("periods", "分时段汇总", [Column("period", "时段"), *ACTIVITY_COLUMNS], rows,
                 sortable=False)


def lagging_table(rows: list[dict]) -> Table:
    """Return the units whose response rate lags most."""
    for row in rows:
        row["url"] = url_for("console.unit", unit_id=row["unit_id"])
    return Table("lagging", "参评率最低的单位（近30天，邀请≥20）",
                 [Column("name", "单位"), *ACTIVITY_COLUMNS], rows, links={"name": "url"},
                 note="统计口径：本单位干部，不含下级单位。")


def channel_table(rows: list[dict]) -> Table:
    """Return the response by channel over 30 days."""
    for row in rows:
        row["channel_name"] = CHANNEL_NAMES.get(row["channel"], row["channel"])
    return Table("channels", "分渠道（近30天）", [Column("channel_name", "渠道"),
                                                *ACTIVITY_COLUMNS,
                                                Column("fail_rate", "消息失败率", "pct")], rows)


def alerts_table(counts: dict[str, int]) -> Table:
    """Return the unresolved alerts per type."""
    rows = [{"type": ALERT_TYPES.get(t, t), "count": n,
             "url": url_for("console.alerts", type=t)} for t, n in sorted(counts.items())]
    return Table("alerts", "待处理告警", [Column("type", "类型"), Column("count", "数量", "int")],
                 rows, links={"type": "url"})


def batch_note(pending: int) -> str:
    """Say that ratings enter in batches, and how many wait (an aggregate, all units)."""
    minimum = current_app.config["RATING_BATCH_MIN"]
    when = ("本演示每分钟入账一次" if not current_app.config["REDIS_URL"]
            else f"每批至少 {minimum} 条，最迟当天结束时入账")
    return (f"评价分批入账：为保护评价人，评价先密封保存，再打乱顺序分批计入统计（{when}）。"
            f"全平台当前待入账 {pending} 条。")


def build() -> Page:
    """Build the overview."""
    scope, unit = unit_arg()
    end = local_today()
    series = activity.daily_series(wiring.session(), scope, last_days(30, end))
    totals = {days: activity.window(series, days, end) for days, _ in PERIODS}
    units = activity.by_unit(wiring.session(), scope, last_days(30, end))
    alerts = activity.open_alerts(wiring.session(), scope)
    thresholds = wiring.sample_thresholds()
    months = trailing_months(end.strftime("%Y-%m"), thresholds.months)
    low = activity.low_sample_count(wiring.session(), scope, months, thresholds.minimum)
    channels = activity.folded(activity.by_dimensions(wiring.session(), scope, last_days(30, end)),
                               "channel")
    slow = activity.lagging(units, 8)
    return Page("监测总览", "overview", subtitle=subtitle(unit),
                notes=[batch_note(waiting(wiring.session()))],
                cards=headline_cards(totals, sum(alerts.values()), low),
                charts=[Chart("trend", "trend", "近30天趋势", trend_chart_data(series)),
                        Chart("lagging", "bars", "参评率最低的单位（近30天）",
                              ranking_chart_data(list(reversed(slow)), "name", "rate"))],
                tables=[period_table(totals), lagging_table(slow[:5]),
                        channel_table(channels), alerts_table(alerts)],
                extra={"unit_filter": True, "chart_layout": "wide"})


register_page("/", "overview", build, READERS)
