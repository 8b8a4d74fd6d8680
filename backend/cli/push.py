"""`flask --app backend push status|replay`: the assessment-core outbox for operators."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from backend.extensions import db
from backend.services.outbox.push import replay, status_summary
from backend.wiring import now
from workers.jobs.push import start_relay

push_cli = AppGroup("push", help="向评估核心推送（发件箱）")
STATUS_NAMES = {"pending": "待发送", "delivered": "已送达", "dead": "死信"}


def when(moment: datetime | None) -> str:
    """Render a time for operators, or "-"."""
    return moment.isoformat(timespec="seconds") if moment else "-"


def log_line(item: dict[str, Any]) -> str:
    """Render one message's delivery log on one line."""
    return (f"{item['webhook_id']}  {item['type']}  期间 {item['period'] or '-'}  "
            f"尝试 {item['attempts']} 次  最后状态 {item['last_status'] or '-'}  "
            f"错误 {item['last_error'] or '-'}")


@push_cli.command("status", help="显示发件箱：各状态数量、积压、接收端状态与死信")
@click.option("--limit", default=20, show_default=True, help="列出的死信条数")
def push_status(limit: int) -> None:
    """Show the outbox: counts by status, backlog, endpoint state and dead letters."""

    summary = status_summary(db.session, dead_letters=limit)
    counts = "，".join(f"{STATUS_NAMES[s]} {n}" for s, n in summary["counts"].items())
    click.echo(f"发件箱：{counts}")
    click.echo(f"最早的待发送消息：{when(summary['oldest_pending_at'])}；"
               f"下次尝试：{when(summary['next_attempt_at'])}；"
               f"重试中：{summary['retrying']}")
    if summary["endpoint_disabled"]:
        click.echo("推送已停用：评估核心返回 410。处理后关闭 push_endpoint_gone 告警即可恢复。")
    elif not current_app.config.get("ASSESSMENT_CORE_URL"):
        click.echo("未配置 ASSESSMENT_CORE_URL：消息保留在发件箱中，配置后自动发送。")
    else:
        click.echo("推送状态：正常")
    if summary["dead_letters"]:
        click.echo("死信（可用 push replay 重新推送）：")
        for item in summary["dead_letters"]:
            click.echo("  " + log_line(item))


@push_cli.command("replay", help="重新推送：某期间或指定 id 的消息；都不指定则重推全部死信")
@click.option("--period", default=None, help="期间，如 2026-11、2026-Q4：重新推送该期间的全部消息")
@click.option("--id", "ids", multiple=True, help="webhook-id，可重复")
def push_replay(period: str | None, ids: tuple[str, ...]) -> None:
    """Queue messages again: a period's, given ids, or (with neither) every dead letter."""

    count = replay(db.session, period, list(ids) or None, now=now())
    scope = f"期间 {period}" if period else ("指定的消息" if ids else "全部死信")
    click.echo(f"已重新排队 {count} 条消息（{scope}）")
    if count:
        start_relay()


def init_app(app: Flask) -> None:
    """Register this module's command groups."""
    for group in (push_cli,):
        app.cli.add_command(group)
