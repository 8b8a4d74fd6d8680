"""Commands for the rating ledger and the review of fraud signals."""

from __future__ import annotations

import json
import sys
from zoneinfo import ZoneInfo

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from backend import wiring
from backend.cli.common import fail
from backend.errors import DomainError
from backend.extensions import db
from backend.services.fraud import decide as decide_item
from backend.services.fraud import detect as detect_fraud
from backend.services.fraud import list_items as list_review_items
from backend.services.fraud import stale_periods
from backend.services.fraud.findings import KIND_LABELS
from backend.services.ledger.chain import checkpoint_days
from backend.services.ledger.chain import verify as verify_ledger
from backend.wiring import fraud_settings, now, sealer
from workers.jobs.scores import publish_scores
from workers.queues import job_queue

ledger_cli = AppGroup("ledger", help="评价账本：检查点、校验")
review_cli = AppGroup("review", help="防刷复核：列出、排除或放行可疑评价")


def timezone() -> ZoneInfo:
    """Return the deployment's time zone."""
    return wiring.timezone()


@ledger_cli.command("verify")
def verify() -> None:
    """Check every rating's MAC, the chain, the checkpoints and every count table.

    Exit 0 when intact; otherwise exit 1 naming the first entry or count that does not verify.
    """

    result = verify_ledger(db.session, sealer(), current_app.config["LEDGER_VERIFY_WORKERS"])
    if not result.ok:
        click.echo(result.message(), err=True)
        sys.exit(1)
    click.echo(result.message())


@ledger_cli.command("checkpoint")
def checkpoint() -> None:
    """Checkpoint every day that is over."""
    made = checkpoint_days(db.session, now(), timezone())
    for cp in made:
        click.echo(f"{cp.day.isoformat()}：{cp.count} 条，根 {cp.root}")
    click.echo(f"新建检查点 {len(made)} 个")


@review_cli.command("list")
@click.option("--state", default="open", type=click.Choice(["open", "cleared", "excluded",
                                                             "all"]))
@click.option("--kind", default=None, help="burst、address、openid、fast、campaign_run、"
                                           "source_share、link_use、top_per_link、score_shape、"
                                           "unstamped、network、device")
@click.option("--limit", default=100, type=int)
def list_items(state: str, kind: str | None, limit: int) -> None:
    """List review items with their evidence."""
    found = list_review_items(db.session, None if state == "all" else state, kind, limit)
    for item in found:
        evidence = json.dumps(item.evidence, ensure_ascii=False, sort_keys=True)
        label = KIND_LABELS.get(item.kind, item.kind)
        click.echo(f"#{item.id} [{item.state}] {item.kind}（{label}） {item.subject} "
                   f"{item.window}：{len(item.rating_ids or [])} 条评价 {evidence}")
    click.echo(f"共 {len(found)} 条")


@review_cli.command("detect")
def detect() -> None:
    """Run the fraud detectors now."""
    report = detect_fraud(db.session, now(), timezone(), fraud_settings())
    click.echo(f"新增复核条目 {report.created} 条，更新 {report.refreshed} 条")


def decide(item_id: int, action: str, reason: str, actor: str) -> None:
    """Decide an item and report the outcome."""
    try:
        decision = decide_item(db.session, sealer(), item_id, action, reason, actor, now())
    except DomainError as exc:
        fail(exc)
    if action == "clear":
        click.echo(f"复核条目 #{item_id} 已放行")
        return
    click.echo(f"复核条目 #{item_id} 已排除 {decision.excluded} 条评价"
               f"（跳过 {decision.skipped} 条）")
    republish(stale_periods(db.session, decision.months))


def republish(periods: list[str]) -> None:
    """Queue the publication of periods whose published scores counted excluded ratings."""
    for period in periods:
        job_queue().enqueue(publish_scores, period, queue="low",
                            job_id=f"scores-publish-{period}")
    if periods:
        click.echo(f"已安排重新发布：{'、'.join(periods)}（评分与预警随之更新）")


@review_cli.command("exclude")
@click.argument("item_id", type=int)
@click.option("--reason", required=True, help="排除原因（记入留痕）")
@click.option("--by", "actor", required=True, help="操作人")
def exclude(item_id: int, reason: str, actor: str) -> None:
    """Exclude every rating of a review item, with a reason."""
    decide(item_id, "exclude", reason, actor)


@review_cli.command("clear")
@click.argument("item_id", type=int)
@click.option("--reason", required=True, help="放行原因（记入留痕）")
@click.option("--by", "actor", required=True, help="操作人")
def clear(item_id: int, reason: str, actor: str) -> None:
    """Clear a review item: its ratings stay valid."""
    decide(item_id, "clear", reason, actor)


def init_app(app: Flask) -> None:
    """Register this module's command groups."""
    for group in (ledger_cli, review_cli):
        app.cli.add_command(group)
