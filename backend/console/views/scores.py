"""评分发布与推送: publish a period after a preview of what changes; the push outbox per
official with replay; an honest status of pushing to the assessment core.

Replaces the former 推送状态 page: /console/push and its exports redirect here.
"""

from __future__ import annotations

from datetime import datetime

from flask import current_app, flash, redirect, request, url_for
from flask.typing import ResponseReturnValue

from backend import errors, wiring
from backend.console.blueprint import bp
from backend.extensions import BROKER_ERRORS
from backend.scoring import PeriodError, current_period
from backend.services.accounts import audit
from backend.services.outbox import push
from backend.services.scores.preview import preview_period
from backend.services.scores.publication import begun_period
from backend.services.scores.schemes import scheme_book
from workers.jobs.scores import publish_scores
from workers.queues import job_queue

from ..access import ORG, ORG_READERS
from ..auth import current_user, login_required
from ..labels import PUSH_STATUSES, PUSH_TYPES
from ..pages import Card, Column, Page, Table, register_page
from .campaign_admin import refused
from .common import number, tz

MESSAGE_COLUMNS = [Column("webhook_id", "消息编号"), Column("type_name", "类型"),
                   Column("period", "期间"), Column("status_name", "状态"),
                   Column("attempts", "尝试次数", "int"), Column("last_status", "最近响应"),
                   Column("last_error", "最近错误"), Column("created_at", "创建时间", "datetime"),
                   Column("delivered_at", "送达时间", "datetime")]
PREVIEW_COLUMNS = [Column("cadre_code", "干部编码"), Column("cadre", "姓名"),
                   Column("change", "变化"), Column("before", "当前发布"),
                   Column("after", "发布后"), Column("flags", "标记")]
CODE_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-")


def labelled(rows: list[dict]) -> list[dict]:
    """Add Chinese status and type names and local times to message rows."""
    for row in rows:
        row["status_name"] = PUSH_STATUSES.get(row["status"], row["status"])
        row["type_name"] = PUSH_TYPES.get(row["type"], row["type"])
        for key in ("created_at", "delivered_at", "next_attempt_at"):
            if row.get(key):
                row[key] = row[key].astimezone(tz())
    return rows


def waited(oldest: datetime | None, now: datetime) -> str:
    """Return how long the oldest waiting message has waited, in words."""
    if oldest is None:
        return "无积压"
    minutes = int((now - oldest).total_seconds() // 60)
    span = f"{minutes // 1440} 天" if minutes >= 1440 else (
        f"{minutes // 60} 小时" if minutes >= 60 else f"{max(minutes, 0)} 分钟")
    return f"最早一条 {oldest.astimezone(tz()):%m-%d %H:%M} 入队，已等待 {span}"


def push_state(summary: dict) -> Card:
    """Return the honest state of pushing: 未配置, 已停用, 重试中 or 正常."""
    pending = summary["counts"]["pending"]
    if not current_app.config.get("ASSESSMENT_CORE_URL"):
        return Card("推送状态", "未配置", f"未设置 ASSESSMENT_CORE_URL，{pending} 条消息等待推送"
                    if pending else "未设置 ASSESSMENT_CORE_URL", "bad")
    if summary["endpoint_disabled"]:
        return Card("推送状态", "已停用", "考核核心返回 410，处理后在告警中解决即可恢复", "bad")
    if summary["retrying"] or summary["counts"]["dead"]:
        return Card("推送状态", "推送异常", f"重试中 {summary['retrying']} 条", "warn")
    return Card("推送状态", "正常", "无失败重试", "ok")


def cadre_arg() -> str | None:
    """Return the official asked for (?cadre=C001), or None for all."""
    code = (request.args.get("cadre") or "").strip()
    if not code:
        return None
    if len(code) > 64 or not set(code) <= CODE_CHARS:
        raise errors.InvalidInput("干部编码格式不正确", {"cadre": "无效"})
    return code


def period_arg(name: str = "period") -> str | None:
    """Return a period argument, checked (it has begun), or None when absent."""
    label = (request.form.get(name) or request.args.get(name) or "").strip()
    if not label:
        return None
    try:
        begun_period(label, wiring.now(), tz())  # InvalidInput when it has not begun
    except PeriodError as exc:
        raise errors.InvalidInput(str(exc), {name: "期间格式无效"}) from None
    return label


def schemes():
    """Return the registered current schemes and which official each scores."""
    return scheme_book(wiring.session(), current_app.extensions["catalogue"])


def preview_table(label: str) -> tuple[Table, str]:
    """Return the preview of publishing a period and its one-line summary."""
    preview = preview_period(wiring.session(), label, schemes(), wiring.now(), tz())
    teams = f"及 {number(preview.teams)} 个领导班子" if preview.teams else ""
    summary = (f"发布 {label} 将重新计算 {number(preview.officials)} 名干部{teams}，其中 "
               f"{number(preview.changed)} 名的成绩与当前发布不同，将推送给考核核心系统。")
    note = "只列出前 200 名。" if preview.changed > len(preview.rows) else ""
    return Table("preview", f"发布预览：{label}", PREVIEW_COLUMNS, preview.rows,
                 note=note), summary


def build() -> Page:
    """Build the scores page: status, publication with preview, the outbox."""
    now = wiring.now()
    summary = push.status_summary(wiring.session(), dead_letters=100)
    counts = summary["counts"]
    cadre, tables, extra = cadre_arg(), [], {}
    cards = [push_state(summary),
             Card("待推送", number(counts["pending"]), waited(summary["oldest_pending_at"], now),
                  "warn" if counts["pending"] else "ok"),
             Card("已送达", number(counts["delivered"])),
             Card("失败（死信）", number(counts["dead"]), "多次重试后仍失败，可重新推送",
                  "bad" if counts["dead"] else "ok")]
    if label := period_arg("preview"):
        table, extra["preview_summary"] = preview_table(label)
        extra["preview_period"] = label
        tables.append(table)
    if cadre:
        tables.append(Table("official", f"干部 {cadre} 的成绩推送", MESSAGE_COLUMNS,
                            labelled(push.official_messages(wiring.session(), cadre))))
    status = request.args.get("status") if request.args.get("status") in PUSH_STATUSES else None
    tables += [Table("dead", "死信（可重新推送）", MESSAGE_COLUMNS,
                     labelled(summary["dead_letters"])),
               Table("recent", "最近消息", MESSAGE_COLUMNS, labelled(push.list_messages(
                   wiring.session(), status=status, period=request.args.get("period") or None,
                   limit=100)))]
    period = current_period("quarter", now, tz())
    return Page("评分发布与推送", "scores", subtitle="发布期间评分，查看向考核核心系统的推送",
                cards=cards, tables=tables, target=f"cadre:{cadre}" if cadre else "",
                notes=["推送地址返回 410 后推送自动停用；在告警中将其标记为已解决即可恢复。",
                       "成绩只在与上次发布不同时生成新的推送；同一内容的消息编号不变，"
                       "考核核心可据此去重。"],
                extra=extra | {"admin": current_user().role == "org_admin", "cadre": cadre,
                               "default_period": extra.get("preview_period", period)})


@bp.route("/scores/publish", methods=["POST"])
@login_required(ORG)
def scores_publish() -> ResponseReturnValue:
    """Queue the publication of a period (as POST /api/v1/scores/publish does); audited."""
    back = url_for("console.scores")
    try:
        label = period_arg()
        if label is None:
            raise errors.InvalidInput("请填写要发布的期间，如 2026-Q4", {"period": "缺少期间"})
        job_id = job_queue().enqueue(publish_scores, label, queue="low",
                                     job_id=f"scores-publish-{label}")
    except errors.InvalidInput as exc:
        return refused(exc, back)
    except BROKER_ERRORS:
        return refused(errors.Unavailable("任务队列暂不可用，评分未发布，请稍后重试"), back)
    audit.record(wiring.session(), current_user().username, "scores.publish", f"period:{label}",
                 wiring.now(), {"job": job_id}, request.remote_addr)
    wiring.session().commit()
    flash(f"已开始发布 {label} 的评分；有变化的成绩将在一分钟内推送。", "ok")
    return redirect(url_for("console.scores", period=label)), 303


@bp.route("/scores/replay", methods=["POST"])
@login_required(ORG)
def scores_replay() -> ResponseReturnValue:
    """Push an official's score messages again (the receiver drops duplicates); audited."""
    back = url_for("console.scores")
    try:
        cadre = (request.form.get("cadre") or "").strip()
        if not cadre or len(cadre) > 64 or not set(cadre) <= CODE_CHARS:
            raise errors.InvalidInput("干部编码格式不正确", {"cadre": "无效"})
        ids = push.official_message_ids(wiring.session(), cadre)
        if not ids:
            raise errors.NotFound(f"干部 {cadre} 没有成绩推送")
    except (errors.InvalidInput, errors.NotFound) as exc:
        return refused(exc, back)
    count = push.replay(wiring.session(), ids=ids, now=wiring.now())
    audit.record(wiring.session(), current_user().username, "push.replay", f"cadre:{cadre}",
                 wiring.now(), {"count": count}, request.remote_addr)
    wiring.session().commit()
    flash(f"已将干部 {cadre} 的 {count} 条成绩推送重新排队。", "ok")
    return redirect(url_for("console.scores", cadre=cadre)), 303


register_page("/scores", "scores", build, ORG_READERS, template="console/scores.html")
