"""推送: messages for the assessment core, dead letters, and replaying them."""

from __future__ import annotations

from flask import flash, redirect, request, url_for
from flask.typing import ResponseReturnValue

from backend import wiring
from backend.console.blueprint import bp
from backend.extensions import db
from backend.services.accounts import audit
from backend.services.outbox import push

from ..access import ORG, ORG_READERS
from ..auth import current_user, login_required
from ..labels import PUSH_STATUSES
from ..pages import Card, Column, Page, Table, register_page
from .common import number, tz

MESSAGE_COLUMNS = [Column("webhook_id", "消息编号"), Column("type", "类型"),
                   Column("period", "期间"), Column("status_name", "状态"),
                   Column("attempts", "尝试次数", "int"), Column("last_status", "最近响应"),
                   Column("last_error", "最近错误"), Column("created_at", "创建时间", "datetime"),
                   Column("delivered_at", "送达时间", "datetime")]


def labelled(rows: list[dict]) -> list[dict]:
    """Add status names and local times to message rows."""
    for row in rows:
        row["status_name"] = PUSH_STATUSES.get(row["status"], row["status"])
        for key in ("created_at", "delivered_at", "next_attempt_at"):
            if row.get(key):
                row[key] = row[key].astimezone(tz())
    return rows


def build() -> Page:
    """Build the push status page."""
    summary = push.status_summary(db.session, dead_letters=100)
    counts = summary["counts"]
    status = request.args.get("status") if request.args.get("status") in PUSH_STATUSES else None
    recent = push.list_messages(db.session, status=status,
                                period=request.args.get("period") or None, limit=100)
    oldest = summary["oldest_pending_at"]
    cards = [Card("待推送", number(counts["pending"]),
                  f"最早 {oldest.astimezone(tz()):%m-%d %H:%M}" if oldest else "无积压",
                  "warn" if counts["pending"] else "ok"),
             Card("已送达", number(counts["delivered"])),
             Card("死信", number(counts["dead"]), "多次重试后仍失败",
                  "bad" if counts["dead"] else "ok"),
             Card("推送状态", "已停用" if summary["endpoint_disabled"] else "正常",
                  f"重试中 {summary['retrying']} 条",
                  "bad" if summary["endpoint_disabled"] else "ok")]
    return Page("推送状态", "push", subtitle="向考核核心系统推送的得分与告警", cards=cards,
                tables=[Table("dead", "死信（可重新推送）", MESSAGE_COLUMNS,
                              labelled(summary["dead_letters"])),
                        Table("recent", "最近消息", MESSAGE_COLUMNS, labelled(recent))],
                notes=["推送地址返回 410 后推送自动停用；在告警中将其标记为已解决即可恢复。"],
                extra={"push_filter": True, "replay": current_user().role == "org_admin"})


@bp.route("/push/replay", methods=["POST"])
@login_required(ORG)
def replay() -> ResponseReturnValue:
    """Requeue one dead letter, or all of them; audited."""
    webhook_id = request.form.get("webhook_id", "").strip()[:80]
    count = push.replay(db.session, ids=[webhook_id] if webhook_id else None, now=wiring.now())
    audit.record(db.session, current_user().username, "push.replay",
                 webhook_id or "dead_letters", wiring.now(), {"count": count},
                 request.remote_addr)
    db.session.commit()
    flash(f"已重新排队 {count} 条消息，将在一分钟内推送。", "ok")
    return redirect(url_for("console.push"))


register_page("/push", "push", build, ORG_READERS, template="console/push.html")
