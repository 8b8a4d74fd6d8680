"""民主测评 run from the console: create with a roster, print slips, remind, extend, close, cancel.

The organisation department (org_admin) runs campaigns; every step goes through
services/campaigns and is written to the audit trail. A refused step changes nothing and
answers a 4xx page naming why, in Chinese.
"""

from __future__ import annotations

from datetime import datetime

from flask import Response, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from backend import errors, wiring
from backend.console.blueprint import bp
from backend.http_errors import DOMAIN_STATUS
from backend.services import campaigns
from backend.services.accounts import audit
from backend.services.campaigns.lifecycle import ballot_templates, campaign_by_id
from backend.services.campaigns.roster import COLUMNS as ROSTER_COLUMNS
from backend.services.campaigns.rules import CampaignInput
from workers.jobs.campaigns import print_slips
from workers.jobs.deliveries import RELAY_JOB_ID, relay_deliveries
from workers.queues import job_queue

from ..access import ORG
from ..auth import current_user, login_required
from .common import tz

MAX_UPLOAD = 5 * 1024 * 1024
FIELDS = ("code", "name", "template", "period", "closes_at", "targets", "max_reminders")
DONE = {"remind": "已发送一轮提醒：{n} 条短信排队发送", "extend": "已延期至 {when}",
        "close": "测评已关闭，{n} 张未提交的测评票已失效",
        "cancel": "测评已取消，{n} 张测评票已失效"}


def status_of(exc: errors.DomainError) -> int:
    """Return the HTTP status of a domain error (the one mapping in http_errors)."""
    return next((s for cls, s in DOMAIN_STATUS.items() if isinstance(exc, cls)), 400)


def refused(exc: errors.DomainError, back: str) -> ResponseReturnValue:
    """Roll back and answer a refused step: its status and message, nothing changed."""
    wiring.session().rollback()
    details = flat_errors(exc.errors or {})
    message = exc.message + ("：" + "；".join(details[:20]) if details else "")
    return render_template("console/message.html", title="操作未完成", message=message,
                           back=back), status_of(exc)


def flat_errors(found: dict) -> list[str]:
    """Flatten field errors into lines; roster rows as "第 3 行 group：未知的评价人群体"."""
    lines = []
    for key, value in found.items():
        if key == "rows" and isinstance(value, dict):
            lines += [f"第 {row} 行 {column}：{reason}" for row, columns in value.items()
                      for column, reason in columns.items()]
        elif isinstance(value, dict):
            lines += flat_errors(value)
        else:
            lines.append(str(value))
    return lines


def record(action: str, target: str, details: dict) -> None:
    """Write the signed-in user's step to the audit trail (the caller commits)."""
    audit.record(wiring.session(), current_user().username, action, target[:200], wiring.now(),
                 details, request.remote_addr)


def context() -> campaigns.CampaignContext:
    """Build the campaign services' context from the app's configuration."""
    return campaigns.CampaignContext(codec=wiring.token_codec(), vault=wiring.vault(),
                                     catalogue=current_app.extensions["catalogue"],
                                     base_url=current_app.config["PUBLIC_BASE_URL"],
                                     tz=wiring.timezone(), now=wiring.now())


def local_time(text: str, field: str) -> datetime:
    """Read a local date and time from a form (YYYY-MM-DDTHH:MM) in the deployment's zone."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise errors.InvalidInput("时间格式应为 年-月-日 时:分",
                                  {field: "时间无效"}) from None
    return moment.replace(tzinfo=tz()) if moment.tzinfo is None else moment


def reminders_arg(text: str) -> int:
    """Read the number of reminder rounds (0 to 5)."""
    if not text.strip().isdigit() or not 0 <= int(text) <= 5:
        raise errors.InvalidInput("提醒轮数应为 0–5 的整数", {"max_reminders": "无效"})
    return int(text)


def upload() -> tuple[bytes, str]:
    """Return the uploaded roster's bytes and name; refuse a missing or oversized file."""
    file = request.files.get("roster")
    if file is None or not file.filename:
        raise errors.InvalidInput("请选择测评名单文件（.csv 或 .xlsx）", {"roster": "缺少文件"})
    data = file.stream.read(MAX_UPLOAD + 1)
    if len(data) > MAX_UPLOAD:
        raise errors.TooLarge("名单文件不能超过 5 MB")
    return data, file.filename


def form_input(form) -> tuple[CampaignInput, tuple[str, ...]]:
    """Read the new-campaign form into the service's input and the default targets."""
    targets = tuple(t for t in form.get("targets", "").replace("，", ",").replace("、", ",")
                    .replace(" ", ",").split(",") if t)
    data = CampaignInput(code=form.get("code", "").strip(), name=form.get("name", ""),
                         template=form.get("template", ""), period=form.get("period", "").strip(),
                         closes_at=local_time(form.get("closes_at", ""), "closes_at"),
                         assignments=(),
                         max_reminders=reminders_arg(form.get("max_reminders", "2")))
    return data, targets


def new_form(values: dict, error: str | None = None, status: int = 200) -> ResponseReturnValue:
    """Render the new-campaign form with the values typed so far and any error."""
    return render_template("console/campaign_new.html", values=values, error=error,
                           templates=ballot_templates(current_app.extensions["catalogue"]),
                           columns=ROSTER_COLUMNS), status


@bp.route("/campaigns/new", methods=["GET", "POST"])
@login_required(ORG)
def campaign_new() -> ResponseReturnValue:
    """Create a campaign: template, officials, roster file and window; audited."""
    values = {k: request.form.get(k, "") for k in FIELDS}
    if request.method == "GET":
        return new_form({"template": "democratic_appraisal", "max_reminders": "2"})
    try:
        data, targets = form_input(request.form)
        file, filename = upload()
        campaign, links = campaigns.create_with_roster(wiring.session(), context(), data, file,
                                                       filename, targets)
    except (errors.InvalidInput, errors.Conflict, errors.ImportFileError,
            errors.TooLarge) as exc:
        wiring.session().rollback()
        details = flat_errors(exc.errors or {})
        return new_form(values, exc.message + ("：" + "；".join(details[:20]) if details else ""),
                        status_of(exc))
    record("campaign.create", f"campaign:{campaign.code}",
           {"ballots": len(links), "file": filename[:100]})
    wiring.session().commit()
    flash(f"已创建测评 {campaign.code}，共 {len(links)} 张测评票；可打印测评票发放。", "ok")
    return redirect(url_for("console.campaign", campaign_id=campaign.id)), 303


@bp.route("/campaigns/<int:campaign_id>/roster", methods=["POST"])
@login_required(ORG)
def campaign_roster(campaign_id: int) -> ResponseReturnValue:
    """Add raters from a roster file to an open campaign; a file with errors adds nobody."""
    back = url_for("console.campaign", campaign_id=campaign_id)
    try:
        campaign = campaign_by_id(wiring.session(), campaign_id)
        file, filename = upload()
        result = campaigns.import_roster(wiring.session(), context(), campaign.code, file, filename)
        if not result.report.applied:
            raise errors.InvalidInput("名单有错误，未导入任何评价人", errors={"rows": {
                str(e.row): {e.column: e.reason} for e in result.report.errors}})
    except (errors.InvalidInput, errors.Conflict, errors.ImportFileError, errors.NotFound,
            errors.TooLarge) as exc:
        return refused(exc, back)
    record("campaign.roster", f"campaign:{campaign.code}", {"added": result.report.created})
    wiring.session().commit()
    flash(f"已导入 {result.report.created} 名评价人，各有一张新的测评票。", "ok")
    return redirect(back), 303


@bp.route("/campaigns/<int:campaign_id>/print", methods=["POST"])
@login_required(ORG)
def campaign_print(campaign_id: int) -> ResponseReturnValue:
    """Start printing the open ballots' slips as a job; the page polls its progress."""
    back = url_for("console.campaign", campaign_id=campaign_id)
    try:
        campaign = campaign_by_id(wiring.session(), campaign_id)
        job, new = campaigns.start_print(wiring.session(), campaign, current_user().username,
                                         wiring.now())
    except (errors.Conflict, errors.NotFound) as exc:
        return refused(exc, back)
    if new:
        record("campaign.print", f"campaign:{campaign.code}", {"print": job.id})
        wiring.session().commit()
        job_queue().enqueue(print_slips, job.id, queue="default",
                            job_id=f"slip-print-{job.id}", retry=None)
    if request.accept_mimetypes.best == "application/json":
        return jsonify(status_json(campaign_id, job.id)), 202
    return redirect(back + f"?print={job.id}#slips"), 303


def status_json(campaign_id: int, print_id: int) -> dict:
    """Return a print's progress, with its status and download URLs."""
    campaign = campaign_by_id(wiring.session(), campaign_id)
    job = campaigns.printing.find_print(wiring.session(), campaign, print_id)
    body = campaigns.print_status(job)
    body["status_url"] = url_for("console.campaign_print_status", campaign_id=campaign_id,
                                 print_id=print_id)
    if body["status"] == "done":
        body["pdf_url"] = url_for("console.campaign_print_pdf", campaign_id=campaign_id,
                                  print_id=print_id)
    return body


@bp.route("/campaigns/<int:campaign_id>/prints/<int:print_id>")
@login_required(ORG)
def campaign_print_status(campaign_id: int, print_id: int) -> ResponseReturnValue:
    """Answer a print's progress as JSON, for the page's progress bar."""
    try:
        return jsonify(status_json(campaign_id, print_id))
    except errors.NotFound as exc:
        return jsonify({"code": 404, "message": exc.message}), 404


@bp.route("/campaigns/<int:campaign_id>/prints/<int:print_id>/slips.pdf")
@login_required(ORG)
def campaign_print_pdf(campaign_id: int, print_id: int) -> ResponseReturnValue:
    """Download a finished print's PDF; audited (it holds working ballot links)."""
    back = url_for("console.campaign", campaign_id=campaign_id)
    try:
        campaign = campaign_by_id(wiring.session(), campaign_id)
        pdf = campaigns.print_pdf(wiring.session(), wiring.sealer(), campaign, print_id,
                                  wiring.now())
    except (errors.Conflict, errors.NotFound, errors.Gone, errors.Unavailable) as exc:
        return refused(exc, back)
    record("campaign.slips", f"campaign:{campaign.code}", {"print": print_id})
    wiring.session().commit()
    return Response(pdf, mimetype="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="{campaign.code}-slips.pdf"',
        "Cache-Control": "no-store"})


def take(action: str, campaign) -> str:
    """Take one step on a campaign through its service; return the message to flash."""
    now, form = wiring.now(), request.form
    if action == "remind":
        n = campaigns.remind_now(wiring.session(), wiring.sealer(), wiring.vault(), campaign, now)
        return DONE[action].format(n=n)
    if action == "extend":
        when = local_time(form.get("closes_at", ""), "closes_at")
        campaigns.extend_campaign(wiring.session(), campaign.code, when, now)
        return DONE[action].format(when=when.astimezone(tz()).strftime("%Y-%m-%d %H:%M"))
    step = campaigns.close_campaign if action == "close" else campaigns.cancel_campaign
    _, n = step(wiring.session(), wiring.sealer(), campaign.code, now)
    return DONE[action].format(n=n)


@bp.route("/campaigns/<int:campaign_id>/<any(remind, extend, close, cancel):action>",
          methods=["POST"])
@login_required(ORG)
def campaign_action(campaign_id: int, action: str) -> ResponseReturnValue:
    """Remind the raters who have not answered, extend, close or cancel; audited."""
    back = url_for("console.campaign", campaign_id=campaign_id)
    try:
        campaign = campaign_by_id(wiring.session(), campaign_id)
        code = campaign.code
        message = take(action, campaign)
    except (errors.InvalidInput, errors.Conflict, errors.NotFound) as exc:
        return refused(exc, back)
    if action == "remind":  # wake the delivery relay for the round
        job_queue().enqueue(relay_deliveries, queue="high", job_id=RELAY_JOB_ID)
    record(f"campaign.{action}", f"campaign:{code}", {"result": message[:200]})
    wiring.session().commit()
    flash(message, "ok")
    return redirect(back), 303
