"""申诉复核: a unit admin appeals a rating case's rating; org admins decide; the appeals list.

The case page includes console/cases/_appeal.html, which reads `appeal_panel(case)`. Nothing
here names or asks for the rater: an appeal is filed on a case, and shows what the case shows.
"""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, request, url_for
from flask.typing import ResponseReturnValue

from backend import errors, wiring
from backend.console.blueprint import bp
from backend.services.cases import APPEAL_REASONS, APPEAL_STATUSES, CONFIRMING, PENDING, appeals
from backend.services.cases.flow import owns
from backend.storage.transactions import begin_write

from ..access import ORG, READERS
from ..auth import current_user, login_required
from ..pages import Card, Column, Page, Table, exporting, register_page
from .cases import actor, visible
from .common import PAGE_SIZE, page_arg, tz, unit_arg
from .decisions import REFUSED, refused, republish

FILERS = ("unit_admin",)
COLUMNS = [Column("id", "编号", "int"), Column("case_id", "整改单", "int"),
           Column("cadre", "干部"), Column("unit", "单位"), Column("reason", "申诉理由"),
           Column("status_name", "状态"), Column("filed_at", "申诉时间", "datetime"),
           Column("decided_by", "复核人")]
TABS = [("open", "待复核"), *((s, appeals.STATUS_LABELS[s]) for s in APPEAL_STATUSES[1:]),
        ("all", "全部")]


@bp.app_template_global()
def appeal_panel(case: dict[str, Any]) -> dict[str, Any]:
    """Return the case page's appeal section: the appeal, and what the user may do now."""
    found = visible(case["id"])
    appeal = appeals.appeal_of(wiring.session(), found.id)
    who = actor()
    view = appeals.appeal_view(wiring.session(), appeal) if appeal else None
    can_file = (appeal is None and who.role == "unit_admin" and owns(who, found)
                and found.source == "rating" and (case.get("rating") or {}).get("status")
                == "valid")
    deciding = appeal is not None and appeal.status in (PENDING, CONFIRMING)
    return {"appeal": view, "can_file": can_file, "reasons": list(APPEAL_REASONS.items()),
            "can_decide": deciding and who.role == "org_admin",
            "second": bool(view and view["first_by"] and appeal.status == CONFIRMING),
            "mine_first": bool(view and view["first_by"] == who.name), "tz": tz()}


@bp.route("/cases/<int:case_id>/appeal", methods=["POST"])
@login_required(FILERS)
def appeal_file(case_id: int) -> ResponseReturnValue:
    """File an appeal on a case's rating (its unit admin, once per case); audited."""
    back = url_for("console.case", case_id=case_id)
    begin_write(wiring.session())
    found = visible(case_id, lock=True)
    form = request.form
    try:
        appeals.file_appeal(wiring.session(), found, actor(), wiring.now(),
                            reason=form.get("reason", ""), text=form.get("text", ""),
                            evidence=form.get("evidence"))
    except REFUSED as exc:
        return refused(exc, back)
    wiring.session().commit()
    flash("申诉已提交，等待组织部复核", "ok")
    return redirect(back), 303


@bp.route("/cases/<int:case_id>/appeal/<any(uphold, reject):decision>", methods=["POST"])
@login_required(ORG)
def appeal_decide(case_id: int, decision: str) -> ResponseReturnValue:
    """Decide an appeal: reject, or approve upholding it (the second admin excludes)."""
    back = url_for("console.case", case_id=case_id)
    begin_write(wiring.session())
    found = visible(case_id)
    appeal = appeals.appeal_of(wiring.session(), found.id, lock=True)
    try:
        if appeal is None:
            raise errors.Conflict("此整改单没有申诉")
        outcome = appeals.decide(wiring.session(), wiring.sealer(), appeal, actor(), wiring.now(),
                                 decision, request.form.get("note", ""))
    except REFUSED as exc:
        return refused(exc, back)
    wiring.session().commit()
    if not outcome.final:
        flash("已记录您的同意；须另一名组织部管理员确认后评价才会剔除", "ok")
    else:
        flash("申诉成立，评价已剔除（留存于账本）" if decision == "uphold" else "申诉已驳回", "ok")
    republish(outcome.months)
    return redirect(back), 303


def status_arg() -> str:
    """Return the tab asked for: a state, the open ones (default) or all."""
    status = request.args.get("status", "open")
    return status if status in APPEAL_STATUSES or status in ("open", "all") else "open"


def appeal_row(appeal) -> dict[str, Any]:
    """Return an appeal as a row of the list."""
    case = appeal.case
    return {"id": appeal.id, "case_id": appeal.case_id,
            "cadre": case.cadre.name if case.cadre else "",
            "unit": case.unit.name if case.unit else "",
            "reason": APPEAL_REASONS.get(appeal.reason, appeal.reason),
            "status_name": appeals.STATUS_LABELS[appeal.status],
            "filed_at": appeal.filed_at.astimezone(tz()), "decided_by": appeal.decided_by or "",
            "url": url_for("console.case", case_id=appeal.case_id)}


def build() -> Page:
    """Build the appeals list: tabs by state, those awaiting a decision first."""
    unit_scope, unit = unit_arg()
    status = status_arg()
    counts = appeals.appeal_counts(wiring.session(), unit_scope.units)
    waiting = counts.get(PENDING, 0) + counts.get(CONFIRMING, 0)
    limit = None if exporting() else PAGE_SIZE
    states = {"open": (PENDING, CONFIRMING), "all": ()}.get(status, (status,))
    found = appeals.list_appeals(wiring.session(), unit_scope.units, states,
                                 (page_arg() - 1) * PAGE_SIZE if limit else 0, limit)
    total = {"open": waiting, "all": sum(counts.values())}.get(status, counts.get(status, 0))
    role = current_user().role
    return Page("申诉复核", "appeals", subtitle=unit.name if unit else "全部单位",
                cards=[Card("待复核", str(waiting), tone="warn" if waiting else ""),
                       Card("已支持", str(counts.get("upheld", 0))),
                       Card("已驳回", str(counts.get("rejected", 0)))],
                tables=[Table("appeals", dict(TABS)[status] + "申诉", COLUMNS,
                              [appeal_row(a) for a in found],
                              links={"id": "url", "case_id": "url"})],
                notes=["申诉针对整改单中的评价提出，不涉及评价人身份。剔除评价须两名组织部管理员"
                       "先后同意（四眼原则），评价仍留存于账本。"
                       + ("在整改单页面可提出申诉。" if role == "unit_admin" else "")],
                extra={"unit_filter": True, "counts": counts, "status": status, "tabs": TABS,
                       "page_size": PAGE_SIZE, "total": total, "open": waiting})


register_page("/appeals", "appeals", build, READERS, template="console/appeals.html")
