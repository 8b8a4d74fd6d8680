"""`flask --app backend campaigns ...`: run a 民主测评 from the command line."""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from backend import wiring
from backend.cli.common import fail
from backend.cli.roster_help import campaign_roster_help
from backend.errors import DomainError, InvalidInput
from backend.extensions import db
from backend.services.campaigns.lifecycle import (
    STATUS_NAMES,
    CampaignContext,
    cancel_campaign,
    close_campaign,
    create_campaign,
    extend_campaign,
    find_campaign,
)
from backend.services.campaigns.progress import campaign_progress
from backend.services.campaigns.progress import non_responders as list_non_responders
from backend.services.campaigns.roster import check_rows, read_roster
from backend.services.campaigns.roster import import_roster as import_campaign_roster
from backend.services.campaigns.rules import CampaignInput, allowed_groups, ballot_template
from backend.services.campaigns.slips import campaign_slips
from backend.services.directory.roster_import import ImportReport
from backend.wiring import now, sealer, token_codec, vault
from workers.jobs.campaigns import queue_reminders

campaigns_cli = AppGroup("campaigns", help="民主测评")
FILE = click.Path(exists=True, dir_okay=False, path_type=Path)


def context():
    """Build the campaign context from the app's configuration."""
    config = current_app.config
    return CampaignContext(codec=token_codec(), vault=vault(),
                           catalogue=current_app.extensions["catalogue"],
                           base_url=config["PUBLIC_BASE_URL"], tz=wiring.timezone(),
                           now=now())


def parse_time(value: str) -> datetime:
    """Read an ISO 8601 time; without an offset it is local time (TIMEZONE)."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise click.BadParameter(f"时间格式应为 ISO 8601，如 2026-12-31T18:00：{value}") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=ZoneInfo(
        current_app.config["TIMEZONE"]))


def print_report(report: ImportReport, dry_run: bool) -> None:
    """Print each bad row, then the totals; exit 1 when errors kept rows out or a check failed."""
    for e in report.errors:
        click.echo(f"第 {e.row} 行，列 {e.column}：{e.reason}")
    state = "已写入" if report.applied else ("试运行，未写入" if dry_run else "有错误，未写入")
    click.echo(f"共 {report.total} 行：新增评价人 {report.created}，错误 {len(report.errors)}；"
               f"{state}")
    if report.errors and (dry_run or not report.applied):
        sys.exit(1)


def plan_roster(ctx, template: str, roster: Path) -> tuple[list, ImportReport]:
    """Check a roster against a ballot template; return valid assignments and the report."""
    found = ballot_template(db.session, ctx.catalogue, template)
    if found is None:
        raise InvalidInput(errors={"template": f"不是测评票模板：{template}"})
    rows = read_roster(roster.read_bytes(), roster.name, ctx.catalogue.vocabulary)
    groups = allowed_groups(found.definition["groups"], ctx.catalogue.vocabulary)
    planned, errors = check_rows(db.session, groups, rows)
    return [p.assignment for p in planned], ImportReport(total=len(rows), errors=errors)


@campaigns_cli.command("create", help=campaign_roster_help(
    "Create a campaign from a roster file (one ballot per rater)."))
@click.argument("code")
@click.option("--name", required=True, help="测评名称")
@click.option("--template", default="democratic_appraisal", show_default=True)
@click.option("--period", required=True, help="如 2026-Q4、2026-11、2026-H2、2026")
@click.option("--closes-at", "closes_at", required=True, help="截止时间，如 2026-12-31T18:00")
@click.option("--roster", type=FILE, required=True, help="CSV 或 XLSX 名单")
@click.option("--max-reminders", type=click.IntRange(0, 10), default=None)
@click.option("--skip-invalid", is_flag=True, help="跳过有错误的行，用其余行建立测评")
@click.option("--dry-run", is_flag=True, help="只检查名单并显示报告，不建立")
def create(code: str, name: str, template: str, period: str, closes_at: str, roster: Path,
           max_reminders: int | None, skip_invalid: bool, dry_run: bool) -> None:
    """Create a campaign from a roster file (one ballot per rater)."""
    ctx = context()
    if max_reminders is None:
        max_reminders = current_app.config.get("CAMPAIGN_MAX_REMINDERS", 2)
    try:
        assignments, report = plan_roster(ctx, template, roster)
        if dry_run or not assignments or (report.errors and not skip_invalid):
            db.session.rollback()
            print_report(report, dry_run)
            sys.exit(0 if dry_run and assignments else 1)
        campaign, links = create_campaign(db.session, ctx, CampaignInput(
            code, name, template, period, parse_time(closes_at), assignments, max_reminders))
    except DomainError as exc:
        fail(exc)
    report.created, report.applied = len(links), True
    print_report(report, dry_run)
    click.echo(f"已建立测评 {campaign.code}：{len(links)} 张测评票，截止 "
               f"{campaign.closes_at.astimezone(ctx.tz):%Y-%m-%d %H:%M}")


@campaigns_cli.command("import-roster", help=campaign_roster_help(
    "Add raters from a CSV or XLSX roster to an open campaign."))
@click.argument("code")
@click.argument("file", type=FILE)
@click.option("--skip-invalid", is_flag=True, help="跳过有错误的行，导入其余行")
@click.option("--dry-run", is_flag=True, help="只检查并显示报告，不写入")
def import_roster(code: str, file: Path, skip_invalid: bool, dry_run: bool) -> None:
    """Add raters from a CSV or XLSX roster to an open campaign."""
    try:
        result = import_campaign_roster(db.session, context(), code, file.read_bytes(), file.name,
                     skip_invalid=skip_invalid, dry_run=dry_run)
    except DomainError as exc:
        fail(exc)
    print_report(result.report, dry_run)


@campaigns_cli.command("slips")
@click.argument("code")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path))
def slips(code: str, out: Path) -> None:
    """Write the printable slips (PDF, eight per A4 page) of every open ballot."""
    ctx = context()
    try:
        pdf = campaign_slips(db.session, sealer(), find_campaign(db.session, code), ctx.codec,
                             ctx.base_url, ctx.tz, ctx.catalogue.vocabulary,
                             current_app.config.get("SLIP_FONT_PATH"))
    except DomainError as exc:
        fail(exc)
    out.write_bytes(pdf)
    click.echo(f"已写入 {out}（{len(pdf) // 1024} KB）")


@campaigns_cli.command("show")
@click.argument("code")
def show(code: str) -> None:
    """Show response figures per rater group and the number of non-responders."""
    ctx = context()
    try:
        campaign = find_campaign(db.session, code)
    except DomainError as exc:
        fail(exc)
    scheme = ctx.catalogue.schemes.get("default")
    progress = campaign_progress(db.session, campaign, ctx.tz,
                                 scheme.definition if scheme else None, ctx.catalogue.vocabulary)
    click.echo(f"{campaign.name}（{campaign.code}，{STATUS_NAMES[campaign.status]}）："
               f"已提交 {progress['responded']}/{progress['invited']}")
    for group, figures in progress["groups"].items():
        note = "（不足最小样本，只显示人数）" if figures["status"] == "insufficient" else ""
        click.echo(f"  {group}：{figures['responded']}/{figures['invited']}{note}")


@campaigns_cli.command("non-responders")
@click.argument("code")
def non_responders(code: str) -> None:
    """List raters who have not answered yet (code, name, group)."""
    try:
        campaign = find_campaign(db.session, code)
    except DomainError as exc:
        fail(exc)
    for item in list_non_responders(db.session, sealer(), campaign):
        click.echo(f"{item['rater_code']}\t{item['name']}\t{item['group']}")


@campaigns_cli.command("extend")
@click.argument("code")
@click.argument("closes_at")
def extend(code: str, closes_at: str) -> None:
    """Move a campaign's closing time later."""
    try:
        campaign = extend_campaign(db.session, code, parse_time(closes_at), now())
    except DomainError as exc:
        fail(exc)
    click.echo(f"已延期至 {campaign.closes_at.astimezone(context().tz):%Y-%m-%d %H:%M}")


@campaigns_cli.command("close")
@click.argument("code")
def close(code: str) -> None:
    """Close a campaign; its ballots are revoked."""
    try:
        _, revoked = close_campaign(db.session, sealer(), code, now())
    except DomainError as exc:
        fail(exc)
    click.echo(f"已关闭测评 {code}，测评票已全部作废（其中未使用 {revoked} 张）")


@campaigns_cli.command("cancel")
@click.argument("code")
def cancel(code: str) -> None:
    """Cancel a campaign nobody has answered yet."""
    try:
        _, revoked = cancel_campaign(db.session, sealer(), code, now())
    except DomainError as exc:
        fail(exc)
    click.echo(f"已取消测评 {code}，作废测评票 {revoked} 张")


@campaigns_cli.command("remind")
def remind() -> None:
    """Queue SMS reminders for non-responders now (the hourly job does the same)."""
    click.echo(f"已安排短信提醒 {queue_reminders(any_hour=True)} 条")


def init_app(app: Flask) -> None:
    """Register this module's command groups."""
    for group in (campaigns_cli,):
        app.cli.add_command(group)
