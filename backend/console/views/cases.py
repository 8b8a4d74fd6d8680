"""整改单: the cases inbox with its SLA figures, a case's page, and the steps of its handling.

Unit admins see and handle the cases of their subtree; org admins see every case, accept or
return the handling and move deadlines; viewers read. Nothing shown identifies a rater.
"""

from __future__ import annotations

from datetime import date

from flask import abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from backend import errors, wiring
from backend.console.blueprint import bp
from backend.services import cases
from backend.services.accounts import audit
from backend.services.cases import (
    CALLBACK_OUTCOMES,
    NOTICE_KINDS,
    REPORT_KINDS,
    STATUSES,
    evidence,
    notices,
)
from backend.services.cases.flow import CALLBACK_LABELS, STATUS_LABELS
from backend.services.cases.views import inbox, sla_rows, state_counts
from backend.services.privacy import mask_phone
from backend.services.reports.comments import shown_case_detail
from backend.storage.transactions import begin_write

from ..access import READERS, WRITERS
from ..auth import current_user, login_required, scope
from ..pages import Card, Column, Page, Table, exporting, register_page
from .common import PAGE_SIZE, page_arg, tz, unit_arg
from .personal import MAX_REASON

CASE_READERS = (*READERS, "discipline")
CASE_WRITERS = (*WRITERS, "discipline")
SOURCE_LABELS = {"rating": "差评", "flag": "预警", "report": "举报"}
COLUMNS = [Column("id", "编号", "int"), Column("source_name", "来源"), Column("cadre", "干部"),
           Column("cadre_code", "干部编码"), Column("unit", "单位"), Column("period", "期间"),
           Column("status_name", "状态"), Column("due_at", "期限", "datetime"),
           Column("overdue", "逾期")]
SLA_COLUMNS = [Column("unit", "单位"), Column("cases", "整改单", "int"),
               Column("closed", "已办结", "int"), Column("on_time_rate", "按期办结率", "pct"),
               Column("overdue", "逾期未办结", "int"), Column("avg_days", "平均办结天数")]
TABS = [("active", "办理中"), ("open", "待受理"), ("in_progress", "整改中"),
        ("awaiting_acceptance", "待验收"), ("returned", "退回"), ("closed", "已办结"),
        ("all", "全部")]


def status_arg() -> str:
    """Return the tab asked for: a state, the active ones (default) or all."""
    status = request.args.get("status", "active")
    return status if status in STATUSES or status in ("active", "all") else "active"


def case_roles() -> tuple[str, ...]:
    """Return whose cases the user's inbox lists: reports for 纪检, the units' cases else."""
    return ("discipline",) if current_user().role == "discipline" else ("unit_admin",)


def actor() -> cases.Actor:
    """Return the signed-in user as the actor of a case step."""
    user = current_user()
    return cases.Actor(user.username, user.role, scope().units, request.remote_addr)


def case_row(case, now) -> dict:
    """Return a case as a row of the inbox."""
    return {"id": case.id, "source_name": SOURCE_LABELS.get(case.source, case.source),
            "cadre": case.cadre.name if case.cadre else "", "cadre_code":
            case.cadre.code if case.cadre else "", "unit": case.unit.name if case.unit else "",
            "period": case.period or "", "status_name": STATUS_LABELS[case.status],
            "due_at": case.due_at.astimezone(tz()),
            "overdue": "逾期" if case.status != "closed" and case.due_at < now else "",
            "url": url_for("console.case", case_id=case.id)}


def notice_panel() -> dict:
    """Return the signed-in user's case notices: unread count, latest, where they are sent."""
    user = current_user()
    phone = wiring.vault().decrypt(user.phone_enc) if user.phone_enc else None
    items = [{"id": n.id, "label": NOTICE_KINDS.get(n.kind, n.kind), "text": n.text,
              "at": n.created_at.astimezone(tz()), "unread": n.read_at is None,
              "url": url_for("console.case", case_id=n.case_id) if n.case_id else None}
             for n in notices.recent_notices(wiring.session(), user.id)]
    return {"unread": notices.unread_count(wiring.session(), user.id), "items": items,
            "phone": mask_phone(phone) if phone else None, "has_openid": bool(user.openid_enc)}


def build() -> Page:
    """Build the cases inbox: tabs by state, the list due first, SLA figures per unit."""
    unit_scope, unit = unit_arg()
    status = status_arg()
    now = wiring.now()
    wanted = None if status == "active" else ("" if status == "all" else status)
    limit = None if exporting() else PAGE_SIZE
    found = inbox(wiring.session(), case_roles(), unit_scope.units, wanted,
                  (page_arg() - 1) * PAGE_SIZE if limit else 0, limit)
    rows = [case_row(c, now) for c in found]
    counts = state_counts(wiring.session(), case_roles(), unit_scope.units)
    sla = sla_rows(wiring.session(), case_roles(), unit_scope.units, now)
    active = sum(n for s, n in counts.items() if s != "closed")
    overdue = sum(u["overdue"] for u in sla)
    closed = sum(u["closed"] for u in sla)
    on_time = sum(u["on_time"] for u in sla)
    total = {"active": active, "all": sum(counts.values())}.get(status, counts.get(status, 0))
    return Page("整改单", "cases", subtitle=unit.name if unit else "全部单位",
                cards=[Card("办理中", str(active)),
                       Card("逾期未办结", str(overdue), tone="bad" if overdue else ""),
                       Card("按期办结率", f"{on_time / closed:.0%}" if closed else "—",
                            hint=f"已办结 {closed} 件")],
                tables=[Table("cases", dict(TABS)[status] + "整改单", COLUMNS, rows,
                              links={"id": "url", "cadre": "url"}),
                        Table("sla", "各单位办理情况", SLA_COLUMNS, sla)],
                extra={"unit_filter": True, "counts": counts, "status": status,
                       "notices": None if exporting() else notice_panel(),
                       "tabs": TABS, "page_size": PAGE_SIZE, "total": total, "active": active})


@bp.route("/cases/<int:case_id>")
@login_required(CASE_READERS)
def case(case_id: int) -> ResponseReturnValue:
    """Show a case: what was said, its state and deadline, its history, the next steps."""
    found = visible(case_id)
    detail = shown_case_detail(wiring.session(), found, wiring.report_settings().scheme)
    return render_template("console/case.html", case=detail,
                           steps=steps(found), labels=STATUS_LABELS, tz=tz(),
                           callbacks=[(c, CALLBACK_LABELS[c]) for c in CALLBACK_OUTCOMES],
                           callback_names=CALLBACK_LABELS,
                           has_contact=cases.flow.has_contact(wiring.session(), found),
                           sources=SOURCE_LABELS, report_kinds=REPORT_KINDS,
                           masked=masked_contact(found), evidence=evidence_panel(found))


def evidence_panel(found) -> dict:
    """Return a case's evidence files and whether (and what) the user may upload."""
    settings = wiring.evidence_settings()
    kinds = [k for k in settings.kinds if k in evidence.KINDS]
    return {"files": list(found.evidence), "allowed": settings.allowed(),
            "max_mb": max(1, settings.max_bytes // (1024 * 1024)),
            "accept": ",".join(s for k in kinds for s in evidence.KINDS[k][1]),
            "can_upload": found.status == "in_progress" and cases.flow.owns(actor(), found)}


def masked_contact(case) -> str | None:
    """Return a report's phone masked (the full number needs a reason)."""
    phone = wiring.vault().decrypt(case.contact_enc) if case.contact_enc else None
    return mask_phone(phone) if phone else None


def visible(case_id: int, lock: bool = False):
    """Return a case the signed-in user may see; 404 otherwise."""
    try:
        return cases.get_case(wiring.session(), case_id, actor(), lock=lock)
    except errors.NotFound:
        abort(404)


def steps(case) -> list[str]:
    """Return the steps the signed-in user may take on the case now."""
    who, status = actor(), case.status
    allowed = []
    if cases.flow.owns(who, case):
        if status in ("open", "returned"):
            allowed.append("accept")
        if status == "in_progress":
            allowed.append("submit")
    if who.role == cases.flow.acceptor(case):
        if status == "awaiting_acceptance":
            allowed += ["approve", "return"]
        if status != "closed":
            allowed.append("due")
    return allowed


@bp.route("/cases/<int:case_id>/<any(accept, submit, approve, return, due):step>",
          methods=["POST"])
@login_required(CASE_WRITERS)
def case_step(case_id: int, step: str) -> ResponseReturnValue:
    """Take one step of a case's handling from its page; refusals change nothing."""
    begin_write(wiring.session())
    found = visible(case_id, lock=True)
    form, now, who = request.form, wiring.now(), actor()
    try:
        if step == "accept":
            cases.accept(wiring.session(), found, who, now)
        elif step == "submit":
            cases.submit(wiring.session(), found, who, now, reply=form.get("reply", ""),
                         measures=form.get("measures", ""), callback=form.get("callback", ""))
        elif step == "approve":
            cases.approve(wiring.session(), found, who, now, wiring.case_rules())
        elif step == "return":
            cases.send_back(wiring.session(), found, who, now, note=form.get("note", ""),
                            tz=tz())
        else:
            cases.set_due(wiring.session(), found, who, now, due_day(form.get("due", "")), tz(),
                          note=form.get("note", ""))
    except (errors.Forbidden, errors.Conflict, errors.InvalidInput) as exc:
        wiring.session().rollback()
        flash(exc.message, "warn")
        return redirect(url_for("console.case", case_id=case_id)), 303
    wiring.session().commit()
    flash(DONE[step], "ok")
    return redirect(url_for("console.case", case_id=case_id)), 303


DONE = {"accept": "已受理，进入整改", "submit": "已提交验收", "approve": "已验收办结",
        "return": "已退回承办单位", "due": "已调整期限"}


def due_day(text: str) -> date:
    """Read the new deadline's day from the form (YYYY-MM-DD)."""
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise errors.InvalidInput("期限日期格式应为 YYYY-MM-DD", {"due": ["日期无效"]}) from None


@bp.route("/cases/<int:case_id>/contact", methods=["POST"])
@login_required(("discipline",))
def report_contact(case_id: int) -> ResponseReturnValue:
    """Show the phone a reporting rater left to the discipline side, with a reason; audited."""
    found = visible(case_id)
    reason = request.form.get("reason", "").strip()
    back = url_for("console.case", case_id=case_id)
    if not found.contact_enc:
        abort(404)
    if not reason or len(reason) > MAX_REASON:
        return render_template("console/unmask.html", phone=None, reason=reason, back=back,
                               error=f"请填写查看原因（1–{MAX_REASON} 字）"), 422
    phone = wiring.vault().decrypt(found.contact_enc)
    audit.record(wiring.session(), current_user().username, "unmask.phone", f"case:{case_id}",
                 wiring.now(), {"reason": reason}, request.remote_addr)
    wiring.session().commit()
    return render_template("console/unmask.html", phone=phone or "（号码已清除）",
                           reason=reason, error=None, back=back), 200, \
        {"Cache-Control": "no-store"}


register_page("/cases", "cases", build, CASE_READERS, template="console/cases.html")
