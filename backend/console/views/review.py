"""防刷复核: the fraud detectors' review items, their evidence explained, and decisions.

Org admins decide: clear (one admin, with a reason) or exclude the item's ratings, which is a
two-person decision like an appeal's (services/accounts/four_eyes.py): the first approval is
recorded, a different org admin's second excludes. Auditors read. Items carry counts,
windows and truncated keyed hashes only, never a rater.
"""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from backend import errors, wiring
from backend.console.blueprint import bp
from backend.services import fraud
from backend.services.fraud.findings import KIND_LABELS
from backend.services.fraud.review import STATE_LABELS, STATES, count_items, get_item

from ..access import ORG
from ..auth import current_user, login_required
from ..filters import id_arg
from ..pages import Column, Page, Table, exporting, register_page
from .common import PAGE_SIZE, page_arg, tz
from .decisions import REFUSED, refused, republish

REVIEWERS = ("org_admin", "auditor")
COLUMNS = [Column("id", "编号", "int"), Column("kind_name", "信号"), Column("cadre", "干部"),
           Column("window", "时段"), Column("ratings", "指明评价", "int"),
           Column("state_name", "状态"), Column("created_at", "发现时间", "datetime")]
TABS = [(state, STATE_LABELS[state]) for state in STATES] + [("all", "全部")]


def filters() -> tuple[str | None, str | None, int | None]:
    """Return the state (default open), kind and official asked for."""
    state = request.args.get("state", "open")
    state = None if state == "all" else (state if state in STATES else "open")
    kind = request.args.get("kind") or None
    return state, (kind if kind in KIND_LABELS else None), id_arg("cadre")


def build() -> Page:
    """Build the list of review items: tabs by state, a filter by kind."""
    state, kind, cadre_id = filters()
    limit = 10_000 if exporting() else PAGE_SIZE
    items = fraud.list_items(wiring.session(), state, kind, limit,
                             0 if exporting() else (page_arg() - 1) * PAGE_SIZE, cadre_id)
    rows = [row(view) for view in fraud.item_views(wiring.session(), items)]
    return Page("防刷复核", "review", subtitle=KIND_LABELS.get(kind, "全部信号"),
                tables=[Table("review", "复核条目", COLUMNS, rows, links={"id": "url"})],
                notes=["复核条目只含计数、时段与截断的密钥哈希，不含评价人。放行须写明原因；"
                       "排除须两名组织部管理员先后同意（四眼原则），评价仍留存于账本。"],
                extra={"state": state or "all", "kind": kind, "tabs": TABS,
                       "kinds": KIND_LABELS, "page_size": PAGE_SIZE,
                       "total": count_items(wiring.session(), state, kind, cadre_id)})


def row(view: dict[str, Any]) -> dict[str, Any]:
    """Return an item's view as a row of the list."""
    return {"id": view["id"], "kind_name": view["kind_label"], "cadre": view["cadre"],
            "window": view["window"], "ratings": view["ratings"],
            "state_name": view["state_label"], "created_at": view["created_at"].astimezone(tz()),
            "url": url_for("console.review_item", item_id=view["id"])}


@bp.route("/review/<int:item_id>")
@login_required(REVIEWERS)
def review_item(item_id: int) -> ResponseReturnValue:
    """Show a review item: its signal explained, its figures, decisions and the forms."""
    try:
        item = get_item(wiring.session(), item_id)
    except errors.NotFound:
        return refused(errors.NotFound("复核条目不存在"), url_for("console.review"))
    view = fraud.item_view(wiring.session(), item)
    user = current_user()
    return render_template("console/review_item.html", item=view, tz=tz(),
                           can_decide=user.role == "org_admin" and item.state == "open",
                           mine_first=view["waiting"] and view["first_by"] == user.username)


@bp.route("/review/<int:item_id>/<any(exclude, clear):verdict>", methods=["POST"])
@login_required(ORG)
def review_decide(item_id: int, verdict: str) -> ResponseReturnValue:
    """Clear an item, or approve excluding its ratings (the second admin excludes)."""
    back = url_for("console.review_item", item_id=item_id)
    user, now, reason = current_user(), wiring.now(), request.form.get("reason", "")
    try:
        if verdict == "clear":
            decision = fraud.decide(wiring.session(), wiring.sealer(), item_id, "clear", reason,
                                    user.username, now, request.remote_addr)
        else:
            decision = fraud.approve_exclusion(wiring.session(), wiring.sealer(), item_id, reason,
                                               user.username, now, request.remote_addr)
    except REFUSED as exc:
        return refused(exc, back)
    if verdict == "clear":
        flash("已放行，评价保持有效", "ok")
    elif decision.pending:
        flash("已记录您的同意；须另一名组织部管理员确认后才会排除", "ok")
    else:
        flash(f"已排除 {decision.excluded} 条评价（跳过已排除的 {decision.skipped} 条）", "ok")
    republish(decision.months)
    return redirect(back), 303


register_page("/review", "review", build, REVIEWERS, template="console/review.html")
