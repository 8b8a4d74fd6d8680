"""Rating-level and personal data (org admins only, every read audited): comments and
follow-up requests of an official, non-responders of a campaign, unmasking a phone number.
"""

from __future__ import annotations

from flask import abort, render_template, request
from flask.typing import ResponseReturnValue

from backend import wiring
from backend.console.blueprint import bp
from backend.services.accounts import audit
from backend.services.reports import personal
from backend.services.reports.comments import mask_below_minimum, visible_comments
from backend.services.reports.officials import find_cadre

from ..access import ORG
from ..auth import current_user, login_required, safe_next
from ..filters import id_arg
from ..labels import RATING_STATUSES, group_name
from ..pages import Column, Page, Table, register_page

MAX_REASON = 200


def build_feedback(cadre_id: int) -> Page:
    """Build an official's comments and follow-up requests (phones masked)."""
    cadre = find_cadre(wiring.session(), cadre_id)
    if cadre is None:
        abort(404)
    scheme = wiring.report_settings().for_official(cadre).scheme
    rows = visible_comments(wiring.session(), scheme, cadre.id)
    for row in rows:
        row["group"], row["status"] = group_name(row["group"]), RATING_STATUSES.get(
            row["status"], row["status"])
    comments = Table("comments", "评价意见", [
        Column("date", "日期", "date"), Column("group", "评价组"), Column("score", "分数", "int"),
        Column("tags", "标签"), Column("comment", "意见"), Column("status", "状态")], rows)
    calls = Table("followups", "回访请求（评价人同意回访）", [
        Column("date", "日期", "date"), Column("score", "分数", "int"), Column("tags", "标签"),
        Column("comment", "意见"), Column("phone", "联系电话")],
        mask_below_minimum(wiring.session(), scheme,
                           personal.followups(wiring.session(), wiring.vault(), cadre.id)))
    return Page(f"{cadre.name} · 评价意见与回访", "feedback",
                subtitle=f"{cadre.unit.name} · 干部编码 {cadre.code}", tables=[comments, calls],
                target=f"cadre:{cadre.code}", extra={"unmask_table": "followups",
                                                     "unmask_kind": "followup"},
                notes=["本页内容属于评价明细，每次查看和导出均记入查询留痕。评价不含评价人身份信息。",
                       "评价组当月有效评价未达最低样本数的，其意见、分数和标签一律不显示、不导出"
                       "（回访请求只留联系方式）。"])


def build_non_responders(campaign_id: int) -> Page:
    """Build a campaign's list of raters who have not answered (phones masked)."""
    campaign = personal.find_campaign(wiring.session(), campaign_id)
    if campaign is None:
        abort(404)
    rows = personal.non_responders(wiring.session(), wiring.vault(), wiring.sealer(), campaign)
    for row in rows:
        row["group"] = group_name(row["group"])
    table = Table("non_responders", f"未参评人员（{len(rows)} 人）", [
        Column("code", "编号"), Column("name", "姓名"), Column("group", "评价组"),
        Column("phone", "联系电话")], rows)
    return Page(f"{campaign.name} · 未参评名单", "non_responders", subtitle=campaign.code,
                tables=[table], target=f"campaign:{campaign.code}",
                extra={"unmask_table": "non_responders", "unmask_kind": "rater"},
                notes=["本页含个人信息，每次查看和导出均记入查询留痕。",
                       f"已发送提醒 {campaign.reminders_sent} 轮（每轮发给当时尚未参评的人员）。",
                       "名单按测评票是否已提交计算，数据库中不记录谁已参评。"])


@bp.route("/unmask", methods=["POST"])
@login_required(ORG)
def unmask() -> ResponseReturnValue:
    """Show a full phone number to an org admin who gives a reason; audited."""
    reason = request.form.get("reason", "").strip()
    kind, row_id = request.form.get("kind", ""), id_arg("id", request.form)
    found = personal.phone_token(wiring.session(), kind, row_id) if row_id else None
    back = safe_next(request.form.get("next"))
    if found is None:
        abort(404)
    if not reason or len(reason) > MAX_REASON:
        return render_template("console/unmask.html", phone=None, reason=reason, back=back,
                               error=f"请填写查看原因（1–{MAX_REASON} 字）"), 422
    target, token = found
    phone = wiring.vault().decrypt(token) if token else None
    audit.record_now(wiring.session(), current_user().username, "unmask.phone", target,
                     wiring.now(), {"reason": reason}, request.remote_addr)
    response = render_template("console/unmask.html", phone=phone or "（号码已清除）",
                               reason=reason, error=None, back=back)
    return response, 200, {"Cache-Control": "no-store"}


register_page("/officials/<int:cadre_id>/feedback", "feedback", build_feedback, ORG,
              template="console/personal.html", sensitive="comments")
register_page("/campaigns/<int:campaign_id>/non-responders", "non_responders",
              build_non_responders, ORG, template="console/personal.html",
              sensitive="non_responders")
