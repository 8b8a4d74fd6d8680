"""按干部: valid ratings of six months against the minimum, response rate, latest score."""

from __future__ import annotations

from flask import abort, request, url_for

from backend import wiring
from backend.scoring.periods import trailing_months
from backend.services.reports import officials as queries
from backend.services.reports.common import last_days
from backend.services.reports.officials import latest_scores
from backend.services.reports.wording import HEADLINE_LABELS

from ..access import READERS
from ..auth import current_user, scope
from ..filters import text_arg
from ..labels import ALERT_TYPES, group_name
from ..pages import Card, Chart, Column, Page, Table, exporting, register_page
from .common import (
    PAGE_SIZE,
    local_today,
    number,
    page_arg,
    pct,
    rate_tone,
    subtitle,
    trend_chart_data,
    unit_arg,
)


def list_columns(minimum: int) -> list[Column]:
    """Return the officials list's columns (the target is the scheme's minimum sample)."""
    return [
        Column("code", "干部编码"), Column("name", "姓名"), Column("position", "职务"),
        Column("unit", "单位"), Column("valid", f"近6个月有效评价（目标{minimum}）", "progress",
                                       target=minimum),
        Column("invited", "邀请", "int"), Column("rated", "评价", "int"),
        Column("rate", "参评率", "pct"), Column("score", "最新得分", "score"),
        Column("score_kind", "得分口径"), Column("score_period", "得分期间"),
    ]


def months() -> list[str]:
    """Return the scheme's trailing months (six by default), the current one last."""
    return trailing_months(local_today().strftime("%Y-%m"), wiring.sample_thresholds().months)


def with_scores(rows: list[dict]) -> list[dict]:
    """Add each official's latest published score and page link."""
    scores = latest_scores(wiring.session(), [r["id"] for r in rows])
    for row in rows:
        score = scores.get(row["id"]) or {}
        row["score"] = score.get("score") if score.get("score") is not None else (
            "样本不足" if score else None)
        row["score_kind"] = HEADLINE_LABELS.get(score.get("kind", ""), "")
        row["score_period"] = score.get("period", "")
        row["url"] = url_for("console.official", cadre_id=row["id"])
    return rows


def build_list() -> Page:
    """Build the officials page (exports hold every matching official)."""
    unit_scope, unit = unit_arg()
    thresholds = wiring.sample_thresholds()
    rows, total = queries.officials_page(
        wiring.session(), unit_scope, months(), text_arg("q", 50),
        request.args.get("below") == "1", request.args.get("sort", "valid"), page_arg(),
        None if exporting() else PAGE_SIZE, thresholds.minimum)
    table = Table("officials", f"干部列表（共 {total} 人）", list_columns(thresholds.minimum),
                  with_scores(rows), links={"name": "url"},
                  note=f"有效评价按近{thresholds.months}个月（含本月）统计；"
                       f"不足{thresholds.minimum}条将触发组织提醒。")
    return Page("按干部", "officials", subtitle=subtitle(unit),
                tables=[table], extra={"unit_filter": True, "official_filter": True,
                                       "total": total, "page_size": PAGE_SIZE})


def visible_cadre(cadre_id: int) -> queries.Cadre:
    """Return an official of the user's scope; 404 otherwise."""
    cadre = queries.find_cadre(wiring.session(), cadre_id)
    if cadre is None or not scope().allows(cadre.unit_id):
        abort(404)
    return cadre


def detail_cards(month_rows: list[dict], groups: dict[str, int]) -> list[Card]:
    """Return an official's headline figures over six months."""
    valid = sum(r["valid"] for r in month_rows)
    invited, rated = sum(r["invited"] for r in month_rows), sum(r["rated"] for r in month_rows)
    rate = rated / invited if invited else None
    spread = "，".join(f"{group_name(g)} {n}" for g, n in sorted(groups.items())) or "暂无"
    minimum = wiring.sample_thresholds().minimum
    return [Card(f"近6个月有效评价（目标{minimum}）", number(valid), spread,
                 "ok" if valid >= minimum else "bad"),
            Card("近6个月邀请", number(invited)), Card("近6个月评价", number(rated)),
            Card("参评率", pct(rate), "", rate_tone(rate))]


def daily_chart(cadre_id: int) -> Chart:
    """Return an official's last 30 days as a trend chart."""
    span = last_days(30, local_today())
    found = queries.daily_rows(wiring.session(), cadre_id, span)
    zero = {"invited": 0, "reached": 0, "rated": 0, "rate": None}
    return Chart("daily", "trend", "近30天", trend_chart_data(
        [found.get(day) or {"day": day, **zero} for day in span.dates()]))


def scores_table(cadre_id: int) -> Table:
    """Return an official's current published scores."""
    rows = queries.current_scores(wiring.session(), cadre_id)
    for row in rows:
        row["score"] = row["score"] if row["score"] is not None else "样本不足"
        row["kind"] = HEADLINE_LABELS.get(row["kind"], row["kind"])
        row["flags"] = [ALERT_TYPES.get(f, f) for f in row["flags"]]
    return Table("scores", "已发布得分", [Column("period", "期间"),
                                       Column("score", "得分", "score"),
                                       Column("kind", "得分口径"),
                                       Column("flags", "标记"),
                                       Column("computed_at", "计算时间", "datetime")],
                 rows, sortable=False)


def months_table(month_rows: list[dict]) -> Table:
    """Return an official's months."""
    return Table("months", "按月", [Column("month", "月份"), Column("valid", "有效评价", "int"),
                                   Column("invited", "邀请", "int"), Column("rated", "评价", "int"),
                                   Column("rate", "参评率", "pct")], month_rows, sortable=False)


def build_official(cadre_id: int) -> Page:
    """Build one official's page: months, trend, groups and scores (aggregates only)."""
    cadre = visible_cadre(cadre_id)
    span = months()
    month_rows = queries.monthly_rows(wiring.session(), cadre.id, span)
    groups = queries.group_counts(wiring.session(), cadre.id, span)
    chart = {"x": span, "bars": [{"name": "有效评价", "values": [r["valid"] for r in month_rows]},
                                 {"name": "邀请", "values": [r["invited"] for r in month_rows]}],
             "lines": [{"name": "参评率", "values": [r["rate"] for r in month_rows]}]}
    feedback = url_for("console.feedback", cadre_id=cadre.id) \
        if current_user().role == "org_admin" else None
    return Page(f"{cadre.name}（{cadre.position}）", "official",
                subtitle=f"{cadre.unit.name} · 干部编码 {cadre.code}",
                cards=detail_cards(month_rows, groups),
                charts=[Chart("months", "trend", "近6个月", chart), daily_chart(cadre.id)],
                tables=[months_table(month_rows), scores_table(cadre.id)],
                target=f"cadre:{cadre.code}",
                extra={"feedback_url": feedback,
                       "results_url": url_for("console.official_results", cadre_id=cadre.id)})


register_page("/officials", "officials", build_list, READERS)
register_page("/officials/<int:cadre_id>", "official", build_official, READERS)
