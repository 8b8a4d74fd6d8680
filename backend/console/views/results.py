"""成绩: an official's and a unit's results for a period, from services/reports.

Per group n, trimmed mean, interval and rates (a group below its minimum as 样本不足 with its
n only), the tags of ok groups as bars, the trend with its interval band, the standing among
peers as a percentile, the flags with their reasons. Every number is computed as publication
computes it; nothing from a group below its minimum is shown.
"""

from __future__ import annotations

from typing import Any

from flask import abort, request, url_for
from markupsafe import Markup

from backend import wiring
from backend.console.blueprint import bp
from backend.scoring import current_period
from backend.services.reports import results as reports
from backend.services.reports.charts import bar_chart, trend_chart
from backend.services.reports.reading import reading
from backend.services.reports.units import find_unit, unit_report

from ..access import READERS
from ..auth import current_user, scope
from ..filters import text_arg
from ..pages import Card, Column, Page, Table, register_page
from .common import pct

GROUP_COLUMNS = [Column("name", "评价组"), Column("n", "有效评价", "int"),
                 Column("min_n", "最低样本", "int"), Column("k", "两端各去掉", "int"),
                 Column("mean", "去极值平均分"), Column("ci", "95% 区间"),
                 Column("satisfaction", "满意率"), Column("dissatisfaction", "不满意率")]
TREND_COLUMNS = [Column("period", "期间"), Column("kind", "口径"), Column("score", "得分"),
                 Column("band", "区间（随时评指数）"), Column("n", "有效评价", "int")]


def period_arg() -> str:
    """Return ?period= (a month, quarter, half-year or year), the current quarter by default."""
    return text_arg("period", 10) or current_period("quarter", wiring.now(), wiring.timezone())


def group_rows(groups: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Return the groups as table rows: an insufficient group shows only n and its minimum."""
    rows = []
    for g in groups:
        row = {"name": g["name"], "n": g["n"], "min_n": g["min_n"]}
        if g["status"] == "ok":
            ci = g.get("ci95")
            row.update(k=g["k"], mean=f"{g['trimmed_mean']:.2f}",
                       ci=f"{ci[0]:.2f}–{ci[1]:.2f}" if ci else "—",
                       satisfaction=pct(g["satisfaction"]),
                       dissatisfaction=pct(g["dissatisfaction"]))
        else:
            row.update(mean=g["text"], ci="—", satisfaction="—", dissatisfaction="—")
        rows.append(row)
    return rows


def trend_rows(points: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Return trend points as table rows."""
    labels = reports.HEADLINE_LABELS
    return [{"period": p["period"], "kind": labels[p["headline"]["kind"]],
             "score": (f"{p['headline']['score_100']:.2f}"
                       if p["headline"].get("score_100") is not None else "样本不足"),
             "band": f"{p['band'][0]:.2f}–{p['band'][1]:.2f}" if p.get("band") else "—",
             "n": p["n"]} for p in points]


def result_tables(report: dict[str, Any]) -> list[Table]:
    """Return the tables of a results page (what its exports hold)."""
    tags = [{"polarity": "好评" if side == "positive" else "问题", **t}
            for side in ("positive", "negative") for t in report["tags"][side]]
    return [
        Table("groups", "各评价组", GROUP_COLUMNS, group_rows(report["groups"]), sortable=False,
              note="去极值平均分：两端各去掉 5% 后的平均；人数不足的评价组只显示人数。"),
        Table("tags", "标签（仅计达到最低样本的评价组）", [
            Column("polarity", "类别"), Column("tag", "标签"), Column("count", "次数", "int")],
              tags, sortable=False),
        Table("trend_months", "近6个月", TREND_COLUMNS, trend_rows(report["trend"]["months"]),
              sortable=False),
        Table("trend_quarters", "近4个季度", TREND_COLUMNS,
              trend_rows(report["trend"]["quarters"]), sortable=False),
        Table("flags", "标记及原因", [Column("label", "标记"), Column("reason", "原因")],
              report["flags"], sortable=False),
    ]


def headline_card(report: dict[str, Any]) -> Card:
    """Return the headline as the page's first card, named by its kind."""
    head = report["headline"]
    if head.get("score_100") is None:
        return Card("本期得分", "样本不足", "有效评价未达最低样本数", "bad")
    return Card(report["headline_label"], f"{head['score_100']:.2f}",
                "综合得分" if head["kind"] == "composite" else "服务对象评价（百分制）", "ok")


def team_card(team: dict[str, Any]) -> Card:
    """Return the leadership team's own headline as a card."""
    head = team["headline"]
    if head.get("score_100") is None:
        return Card("领导班子", "样本不足", f"{team['name']}：有效评价未达最低样本数", "bad")
    return Card("领导班子", f"{head['score_100']:.2f}",
                f"{team['name']} · {team['headline_label']}", "ok")


def build_official_results(cadre_id: int) -> Page:
    """Build an official's results page for ?period=."""
    cadre = reports.find_official(wiring.session(), cadre_id=cadre_id)
    if not scope().allows(cadre.unit_id):
        abort(404)
    report = reports.official_report(wiring.session(), cadre, period_arg(),
                                     wiring.report_settings())
    standing = report["standing"]
    cards = [headline_card(report),
             Card("同类比较", "—" if standing["percentile"] is None
                  else f"高于 {standing['percentile']:.0f}%",
                  standing.get("note") or f"{standing['category_name']} · {standing['level']}"
                                          f"（{standing['peers']} 人可比）"),
             Card("标记", str(len(report["flags"])), "、".join(f["label"] for f in
                                                            report["flags"]) or "无")]
    org = current_user().role == "org_admin"
    return Page(f"{cadre.name}（{cadre.position}）· 成绩", "official_results",
                subtitle=f"{cadre.unit.name} · 期间 {report['period']}", cards=cards,
                tables=result_tables(report), target=f"cadre:{cadre.code}",
                notes=reading(report),
                extra={"report": report, "period_filter": True,
                       "pdf_url": url_for("console.official_report_pdf", cadre_id=cadre.id,
                                          period=report["period"]),
                       "own_link_url": url_for("console.own_link", cadre_id=cadre.id)
                       if org else None})


def build_unit_results(unit_id: int) -> Page:
    """Build a unit's roll-up for ?period= (?sub=1 adds the units below it)."""
    if not scope().allows(unit_id):
        abort(404)
    unit = find_unit(wiring.session(), unit_id=unit_id)
    with_sub = request.args.get("sub") == "1"
    report = unit_report(wiring.session(), unit, period_arg(), wiring.report_settings(), with_sub)
    officials = [{**o, "score": (f"{o['headline']['score_100']:.2f}" if o["headline"].get(
        "score_100") is not None else "样本不足"), "kind": o["headline_label"],
        "url": url_for("console.official_results", cadre_id=o["id"], period=report["period"])}
        for o in report["officials"]]
    tables = result_tables({**report, "standing": {}})
    cards = [headline_card(report)]
    if team := report["team"]:
        cards.append(team_card(team))
        tables.append(Table("team_groups",
                            f"{team['name']}（领导班子本身的测评结果，不计入干部汇总）",
                            GROUP_COLUMNS, group_rows(team["groups"]), sortable=False))
    tables.append(Table("officials", f"干部（{len(officials)} 人，按编码排列）", [
        Column("code", "干部编码"), Column("name", "姓名"), Column("position", "职务"),
        Column("unit", "单位"), Column("kind", "口径"), Column("score", "得分")],
        officials, links={"name": "url"}, sortable=False))
    return Page(f"{unit.name} · 成绩", "unit_results",
                subtitle=f"期间 {report['period']} · {'含' if with_sub else '不含'}下级单位 · "
                         f"{len(officials)} 名干部",
                cards=cards, tables=tables, target=f"unit:{unit.code}",
                extra={"report": report, "period_filter": True, "sub_filter": True,
                       "with_subordinates": with_sub,
                       "batch_url": url_for("console.report_batch_start", unit_id=unit.id)})


register_page("/officials/<int:cadre_id>/results", "official_results", build_official_results,
              READERS, template="console/results.html")
register_page("/units/<int:unit_id>/results", "unit_results", build_unit_results, READERS,
              template="console/results.html")


@bp.app_template_global("bar_svg")
def bar_svg(items: list[dict[str, Any]], tone: str, title: str) -> Markup:
    """Draw tag counts as inline SVG bars."""
    return bar_chart(items, tone, title)


@bp.app_template_global("trend_svg")
def trend_svg(points: list[dict[str, Any]], title: str) -> Markup:
    """Draw a trend with its interval band as inline SVG."""
    return trend_chart(points, title)
