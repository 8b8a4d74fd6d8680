"""Printing and sharing results: an official's feedback PDF, a unit's batch (a job with
progress), and the signed link that lets an official read their own aggregated report.

Comments appear in a PDF only for organisation-department administrators (who alone read
comments in the console), and only those of groups that reached their minimum. Each PDF,
batch and issued link is written to the audit log.
"""

from __future__ import annotations

from flask import Response, abort, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from backend import wiring
from backend.console.blueprint import bp
from backend.extensions import BROKER_ERRORS
from backend.services.accounts import audit
from backend.services.reports import printing
from backend.services.reports.own_links import DEFAULT_DAYS
from backend.services.reports.results import find_official, report_period
from backend.services.reports.units import find_unit
from workers.jobs.reports import print_batch, report_font
from workers.queues import job_queue

from ..access import ORG, READERS
from ..auth import current_user, login_required, scope
from ..exports import content_disposition
from .results import period_arg


def record(action: str, target: str, details: dict) -> None:
    """Write an audit entry for the signed-in user; commit."""
    audit.record(wiring.session(), current_user().username, action, target[:200], wiring.now(),
                 details, request.remote_addr)
    wiring.session().commit()


def pdf_response(pdf: bytes, ascii_name: str, chinese_name: str) -> Response:
    """Return a PDF download named in Chinese with an ASCII fallback."""
    return Response(pdf, mimetype="application/pdf", headers={
        "Content-Disposition": content_disposition(chinese_name, ascii_name),
        "Cache-Control": "no-store"})


@bp.get("/officials/<int:cadre_id>/report.pdf")
@login_required(READERS)
def official_report_pdf(cadre_id: int) -> ResponseReturnValue:
    """Download an official's 成绩清单与问题清单 for ?period= as a PDF."""
    cadre = find_official(wiring.session(), cadre_id=cadre_id)
    if not scope().allows(cadre.unit_id):
        abort(404)
    period = period_arg()
    with_comments = current_user().role == "org_admin"
    pdf = printing.official_pdf(wiring.session(), cadre, period, wiring.report_settings(),
                                report_font(), with_comments)
    record("export.report_pdf", f"cadre:{cadre.code}",
           {"period": period, "comments": with_comments})
    return pdf_response(pdf, f"report-{cadre.code}-{period}.pdf",
                        f"成绩清单与问题清单-{cadre.name}-{period}.pdf")


@bp.post("/officials/<int:cadre_id>/own-link")
@login_required(ORG)
def own_link(cadre_id: int) -> ResponseReturnValue:
    """Issue a signed link that shows an official their own aggregated report; show it once."""
    cadre = find_official(wiring.session(), cadre_id=cadre_id)
    period = request.form.get("period", "").strip()[:10]
    report_period(period, wiring.report_settings())
    link = wiring.own_link_codec().issue(cadre.code, period, wiring.now(), DEFAULT_DAYS)
    url = f"{wiring.public_base_url()}/o/{link.token}"
    record("report.own_link", f"cadre:{cadre.code}", {"period": period, "days": DEFAULT_DAYS})
    expires = link.expires_at.astimezone(wiring.timezone()).strftime("%Y-%m-%d")
    message = (f"请将以下链接发送给 {cadre.name} 本人（{expires} 前有效，只显示汇总结果）：{url}")
    return render_template("console/message.html", title="本人查看链接", message=message), 200, {
        "Cache-Control": "no-store"}


@bp.post("/units/<int:unit_id>/report-batches")
@login_required(READERS)
def report_batch_start(unit_id: int) -> ResponseReturnValue:
    """Queue a unit's batch of feedback reports for a period; go to its progress page."""
    if not scope().allows(unit_id):
        abort(404)
    unit = find_unit(wiring.session(), unit_id=unit_id)
    period = request.form.get("period", "").strip()[:10]
    with_sub = request.form.get("sub") == "1"
    batch = printing.start_batch(wiring.session(), unit, period, wiring.report_settings(), with_sub,
                                 current_user().role == "org_admin", current_user().username,
                                 wiring.now())
    wiring.session().commit()
    record("report.batch", f"unit:{unit.code}", {"period": period, "batch": batch.id})
    try:
        job_queue().enqueue(print_batch, batch.id, queue="low", job_id=f"report-batch-{batch.id}")
    except BROKER_ERRORS:
        return render_template("console/message.html", title="暂时无法排队",
                               message="任务队列暂不可用，请稍后重试。"), 503
    return redirect(url_for("console.report_batch", batch_id=batch.id), 303)


@bp.get("/report-batches/<int:batch_id>")
@login_required(READERS)
def report_batch(batch_id: int) -> ResponseReturnValue:
    """Show a batch's progress (the page refreshes itself until the PDF is ready)."""
    view = printing.batch_view(wiring.session(), batch_id, scope().units)
    return render_template("console/report_batch.html", batch=view)


@bp.get("/report-batches/<int:batch_id>/report.pdf")
@login_required(READERS)
def report_batch_pdf(batch_id: int) -> ResponseReturnValue:
    """Download a finished batch's PDF."""
    pdf, name = printing.batch_pdf(wiring.session(), batch_id, scope().units)
    record("export.report_batch", f"report_batch:{batch_id}", {})
    return pdf_response(pdf, name, "成绩清单与问题清单-" + name.removeprefix("reports-"))
