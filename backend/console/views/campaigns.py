"""民主测评: campaigns and their progress; per group, small groups as counts only."""

from __future__ import annotations

from flask import abort, current_app, request, url_for

from backend import wiring
from backend.scoring import Scheme
from backend.services.campaigns.printing import latest_print, print_status
from backend.services.campaigns.progress import campaign_progress
from backend.services.campaigns.results import campaign_results
from backend.services.scores.documents import scheme_of
from backend.services.templates.catalogue import register

from ..access import READERS
from ..auth import current_user, scope
from ..labels import CAMPAIGN_STATUSES, group_name
from ..pages import Card, Chart, Column, Page, Table, exporting, register_page
from ..queries import campaigns as queries
from .common import PAGE_SIZE, number, page_arg, pct, rate_tone, tz

LIST_COLUMNS = [Column("code", "编号"), Column("name", "名称"), Column("period", "期间"),
                Column("status_name", "状态"), Column("closes_at", "截止时间", "datetime"),
                Column("invited", "应参评", "int"), Column("responded", "已参评", "int"),
                Column("rate", "参评率", "pct")]
GROUP_STATUS = {"ok": "样本充足", "collecting": "收集中", "insufficient": "样本不足（仅显示人数）"}


def build_list() -> Page:
    """Build the campaigns page."""
    status = request.args.get("status") if request.args.get("status") in CAMPAIGN_STATUSES \
        else None
    rows, total = queries.campaigns_page(wiring.session(), scope(), status, page_arg(),
                                         None if exporting() else PAGE_SIZE)
    for row in rows:
        row["status_name"] = CAMPAIGN_STATUSES.get(row["status"], row["status"])
        row["url"] = url_for("console.campaign", campaign_id=row["id"])
    open_rows = [r for r in rows if r["status"] == "open"]
    chart = Chart("campaigns-rate", "bars", "进行中测评的参评率",
                  {"labels": [r["name"] for r in open_rows][:15],
                   "values": [r["rate"] for r in open_rows][:15], "pct": True})
    return Page("民主测评", "campaigns", subtitle=f"共 {total} 项",
                charts=[chart] if open_rows else [],
                tables=[Table("campaigns", "测评列表", LIST_COLUMNS, rows, links={"name": "url"})],
                extra={"campaign_filter": True, "total": total, "page_size": PAGE_SIZE,
                       "new_url": url_for("console.campaign_new")
                       if current_user().role == "org_admin" else None,
                       "new_label": "新建测评"})


def group_rows(progress: dict) -> list[dict]:
    """Return one row per rater group of a campaign's progress."""
    return [{"group": group_name(name), "status": GROUP_STATUS.get(g["status"], g["status"]),
             "invited": g["invited"], "responded": g["responded"], "rate": g.get("rate")}
            for name, g in progress["groups"].items()]


def cumulative_chart(progress: dict) -> dict:
    """Return the cumulative responses per day of the groups large enough to show."""
    days = sorted({p["date"] for g in progress["groups"].values() for p in g.get("by_day", [])})
    lines = []
    for name, group in progress["groups"].items():
        running, points = 0, {p["date"]: p["cumulative"] for p in group.get("by_day", [])}
        if group["status"] == "insufficient":
            continue
        values = []
        for day in days:
            running = points.get(day, running)
            values.append(running)
        lines.append({"name": group_name(name), "values": values})
    return {"x": days, "bars": [], "lines": lines, "counts": True}


def build_campaign(campaign_id: int) -> Page:
    """Build one campaign's page."""
    campaign = queries.visible_campaign(wiring.session(), scope(), campaign_id)
    if campaign is None:
        abort(404)
    scheme = current_app.extensions["catalogue"].schemes.get("default")
    progress = campaign_progress(wiring.session(), campaign, tz(),
                                 scheme.definition if scheme else None, wiring.vocabulary())
    scheme = register(wiring.session(), scheme) if scheme else None
    cards = [Card("应参评", number(progress["invited"])),
             Card("已参评", number(progress["responded"])),
             Card("参评率", pct(progress["rate"]), "", rate_tone(progress["rate"], 0.8, 0.5)),
             Card("状态", CAMPAIGN_STATUSES.get(campaign.status, campaign.status),
                  f"截止 {campaign.closes_at.astimezone(tz()):%Y-%m-%d %H:%M}")]
    table = Table("groups", "分组进度", [Column("group", "评价组"), Column("status", "状态"),
                                        Column("invited", "应参评", "int"),
                                        Column("responded", "已参评", "int"),
                                        Column("rate", "参评率", "pct")], group_rows(progress),
                  note="人数少于最低样本的评价组只显示人数，不显示逐日进度，以保护评价人。")
    allowed = current_user().role == "org_admin"
    tables = [table]
    if campaign.status == "closed":
        tables.append(results_table(campaign, scheme))
    return Page(campaign.name, "campaign", subtitle=f"{campaign.code} · {campaign.period}",
                cards=cards, charts=[Chart("progress", "trend", "累计参评人数",
                                           cumulative_chart(progress))],
                tables=tables, target=f"campaign:{campaign.code}",
                extra={"non_responders_url": url_for("console.non_responders",
                                                     campaign_id=campaign.id)
                       if allowed else None,
                       "admin": admin_panel(campaign) if allowed else None,
                       "live_url": url_for("console.api_campaign", campaign_id=campaign.id)
                       if campaign.status == "open" else None})


RESULT_COLUMNS = [Column("cadre_code", "干部编码"), Column("cadre", "姓名"), Column("unit", "单位"),
                  Column("group_name", "评价组"), Column("n", "有效票", "int"),
                  Column("result", "截尾均分"), Column("satisfaction", "满意率", "pct"),
                  Column("top_tags", "主要标签")]


def results_table(campaign, scheme) -> Table:
    """Return a closed campaign's results; groups below their minimum as counts only."""
    rows = campaign_results(wiring.session(), campaign, scheme_of(scheme) if scheme else Scheme(),
                            tz(), wiring.vocabulary())
    for row in rows:
        row["group_name"] = group_name(row["group"])
        row["result"] = (f"{row['trimmed_mean']:.2f}" if row["status"] == "ok"
                         else f"样本不足（少于 {row['min_n']} 票，不计算）")
    return Table("results", "测评结果", RESULT_COLUMNS, rows,
                 note="有效票少于该评价组最低样本数时只显示票数，不显示分数、满意率和标签，以保护评价人。")


def admin_panel(campaign) -> dict:
    """Return the organiser's controls of a campaign: print, roster, reminders, window."""
    latest = latest_print(wiring.session(), campaign, wiring.now())
    ids = {"campaign_id": campaign.id}
    chosen = None
    if latest is not None:
        chosen = print_status(latest) | {
            "status_url": url_for("console.campaign_print_status", print_id=latest.id, **ids),
            "pdf_url": url_for("console.campaign_print_pdf", print_id=latest.id, **ids)
            if latest.status == "done" else None}
    return {"open": campaign.status == "open", "print": chosen,
            "print_url": url_for("console.campaign_print", **ids),
            "roster_url": url_for("console.campaign_roster", **ids),
            "reminders_sent": campaign.reminders_sent, "max_reminders": campaign.max_reminders,
            "action_urls": {a: url_for("console.campaign_action", action=a, **ids)
                            for a in ("remind", "extend", "close", "cancel")}}


register_page("/campaigns", "campaigns", build_list, READERS)
register_page("/campaigns/<int:campaign_id>", "campaign", build_campaign, READERS,
              template="console/campaign.html")
