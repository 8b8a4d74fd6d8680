"""Commands for scores, rating review and the audit trail."""

from __future__ import annotations

import sys

import click
from flask import Flask
from flask.cli import AppGroup

from backend.cli.common import fail
from backend.errors import DomainError
from backend.extensions import db
from backend.scoring import PeriodError
from backend.services.accounts.audit import verify as verify_chain
from backend.services.fraud import change_status
from backend.services.ratings.release import release
from backend.wiring import now, release_context, sealer
from workers.jobs.scores import run_publication

scores_cli = AppGroup("scores", help="评分发布")
ratings_cli = AppGroup("ratings", help="评价：分批入账、排除或恢复（不删除）")
audit_cli = AppGroup("audit", help="查询留痕")


@scores_cli.command("publish")
@click.argument("period")
def publish(period: str) -> None:
    """Recompute every official's score for PERIOD (2026-11, 2026-Q4, 2026-H2, 2026).

    A period that has not begun yet is refused (exit 1).
    """

    try:
        report = run_publication(period, progress=lambda n: click.echo(f"已计算 {n} 名干部…"))
    except PeriodError as exc:
        click.echo(f"错误：{exc}", err=True)
        sys.exit(1)
    except DomainError as exc:
        click.echo(f"错误：{exc.message}", err=True)
        sys.exit(1)
    teams = f"及 {report.teams} 个领导班子" if report.teams else ""
    click.echo(f"{period}（方案 {report.scheme}）：共 {report.officials} 名干部{teams}，"
               f"变化 {report.changed} 个，新预警 {report.alerts_raised} 条，"
               f"自动解除 {report.alerts_resolved} 条")


def change(rating_id: int, excluded: bool, reason: str, actor: str) -> None:
    """Exclude or include a rating and report the outcome."""

    try:
        rating = change_status(db.session, sealer(), rating_id, excluded, reason, actor, now())
    except DomainError as exc:
        fail(exc)
    state = "已排除" if excluded else "已恢复"
    click.echo(f"评价 #{rating.id} {state}（{rating.month}）；重新发布该期间后评分随之更新")


@ratings_cli.command("exclude")
@click.argument("rating_id", type=int)
@click.option("--reason", required=True, help="排除原因（记入留痕）")
@click.option("--by", "actor", required=True, help="操作人")
def exclude(rating_id: int, reason: str, actor: str) -> None:
    """Exclude a rating from scoring, with a reason."""
    change(rating_id, True, reason, actor)


@ratings_cli.command("include")
@click.argument("rating_id", type=int)
@click.option("--reason", required=True, help="恢复原因（记入留痕）")
@click.option("--by", "actor", required=True, help="操作人")
def include(rating_id: int, reason: str, actor: str) -> None:
    """Count an excluded rating again, with a reason."""
    change(rating_id, False, reason, actor)


@ratings_cli.command("release")
def release_now() -> None:
    """Release every pending rating now, whatever the batch size (operators, tests)."""

    report = release(db.session, release_context(), force=True)
    click.echo(f"已入账 {report.ratings} 条评价（{report.submissions} 次提交，"
               f"{report.batches} 批），首次打开 {report.openings} 次")
    if report.unreadable:
        click.echo(f"有 {report.unreadable} 条待入账数据无法用 RATING_SEAL_KEYS 解开，仍保留待处理",
                   err=True)


@audit_cli.command("verify")
def verify() -> None:
    """Recompute the audit trail's hash chain; exit 1 naming the first bad entry."""

    bad = verify_chain(db.session)
    if bad is not None:
        click.echo(f"留痕链校验失败：第一个不一致的条目是 #{bad}", err=True)
        sys.exit(1)
    click.echo("留痕链完整")


def init_app(app: Flask) -> None:
    """Register this module's command groups."""
    for group in (scores_cli, ratings_cli, audit_cli):
        app.cli.add_command(group)
