"""按事项与渠道, and the delivery funnel: created, delivered, opened, rated."""

from __future__ import annotations

from backend import wiring
from backend.services.reports import activity
from backend.services.reports.common import last_days, ratio

from ..access import READERS
from ..labels import CHANNEL_NAMES, event_type_names
from ..pages import Card, Chart, Column, Page, Table, register_page
from .common import (
    ACTIVITY_COLUMNS,
    days_arg,
    local_today,
    number,
    pct,
    subtitle,
    unit_arg,
)

MESSAGE_COLUMNS = [Column("messages", "发送消息", "int"),
                   Column("messages_failed", "失败消息", "int"),
                   Column("fail_rate", "消息失败率", "pct")]


def named(rows: list[dict], key: str, names: dict[str, str]) -> list[dict]:
    """Add the Chinese name of each row's code."""
    for row in rows:
        row["label"] = names.get(row[key], row[key])
    return rows


def rates_chart(chart_id: str, title: str, rows: list[dict]) -> Chart:
    """Return bars of the response rate and on-time share per row."""
    return Chart(chart_id, "groups", title, {
        "labels": [r["label"] for r in rows], "pct": True,
        "series": [{"name": "参评率", "values": [r["rate"] for r in rows]},
                   {"name": "24小时送达率", "values": [r["on_time"] for r in rows]}]})


def build_breakdown() -> Page:
    """Build the page by event type and by channel."""
    scope, unit = unit_arg()
    days = days_arg()
    rows = activity.by_dimensions(wiring.session(), scope, last_days(days, local_today()))
    events = named(activity.folded(rows, "event_type"), "event_type", event_type_names())
    channels = named(activity.folded(rows, "channel"), "channel", CHANNEL_NAMES)
    return Page("按事项与渠道", "breakdown",
                subtitle=subtitle(unit, days),
                charts=[rates_chart("events", "分事项类型", events),
                        rates_chart("channels", "分渠道", channels)],
                tables=[Table("events", "分事项类型", [Column("label", "事项类型"),
                                                     *ACTIVITY_COLUMNS], events),
                        Table("channels", "分渠道", [Column("label", "渠道"), *ACTIVITY_COLUMNS,
                                                  *MESSAGE_COLUMNS], channels,
                              note="邀请按主要渠道（微信 > 短信 > 现场扫码）统计；"
                                   "消息按各自渠道统计，含备用短信。")],
                extra={"unit_filter": True, "window_filter": True})


def funnel_cards(total: dict) -> list[Card]:
    """Return the funnel's step-to-step conversions."""
    return [Card("邀请", number(total["invited"])),
            Card("送达", number(total["reached"]), f"送达率 {pct(total['reach_rate'])}"),
            Card("打开", number(total["opened"]), f"打开率 {pct(total['open_rate'])}"),
            Card("评价", number(total["rated"]), f"参评率 {pct(total['rate'])}"),
            Card("24小时内送达", pct(total["on_time"]),
                 f"{number(total['reached_on_time'])} / {number(total['to_deliver'])} 条需发送")]


def build_funnel() -> Page:
    """Build the delivery funnel."""
    scope, unit = unit_arg()
    days = days_arg()
    rows = activity.by_dimensions(wiring.session(), scope, last_days(days, local_today()))
    channels = named(activity.folded(rows, "channel"), "channel", CHANNEL_NAMES)
    total = activity.total(channels)
    stages = [{"name": name, "value": total[key]} for key, name in (
        ("invited", "邀请"), ("reached", "送达"), ("opened", "打开"), ("rated", "评价"))]
    notes = ["送达：短信或微信发送成功；现场扫码的邀请在现场即送达。",
             "打开：评价页或小程序被本人首次打开（链接扫描不计；提交评价即视为已打开）。"]
    return Page("送达漏斗", "funnel", subtitle=subtitle(unit, days),
                cards=funnel_cards(total),
                charts=[Chart("funnel", "funnel", "邀请 → 送达 → 打开 → 评价", {"stages": stages})],
                tables=[Table("channels", "分渠道漏斗", [
                    Column("label", "渠道"), Column("invited", "邀请", "int"),
                    Column("reached", "送达", "int"), Column("reach_rate", "送达率", "pct"),
                    Column("on_time", "24小时送达率", "pct"), Column("opened", "打开", "int"),
                    Column("rated", "评价", "int"), Column("rate", "参评率", "pct")], channels)],
                notes=notes, extra={"unit_filter": True, "window_filter": True,
                                    "to_deliver_share": ratio(total["to_deliver"],
                                                              total["invited"])})


register_page("/breakdown", "breakdown", build_breakdown, READERS)
register_page("/funnel", "funnel", build_funnel, READERS)
