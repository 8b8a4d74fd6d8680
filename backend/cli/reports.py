"""Commands for results: issue an official's own report link, print feedback reports."""

from __future__ import annotations

from pathlib import Path

import click
from flask import Flask
from flask.cli import AppGroup

from backend import wiring
from backend.cli.common import fail
from backend.errors import DomainError
from backend.extensions import db
from backend.services.accounts import audit
from backend.services.reports.own_links import DEFAULT_DAYS, MAX_DAYS
from backend.services.reports.printing import official_pdf
from backend.services.reports.results import find_official, report_period
from workers.jobs.reports import report_font

reports_cli = AppGroup("reports", help="成绩清单与本人查看链接")
ACTOR = "cli"


@reports_cli.command("own-link")
@click.argument("code")
@click.option("--period", required=True, help="期间，如 2026-Q4")
@click.option("--days", default=DEFAULT_DAYS, show_default=True,
              type=click.IntRange(1, MAX_DAYS), help="有效天数")
def own_link(code: str, period: str, days: int) -> None:
    """Print a signed link that shows official CODE their own aggregated report for PERIOD."""
    try:
        cadre = find_official(db.session, code=code)
        report_period(period, wiring.report_settings())
        link = wiring.own_link_codec().issue(cadre.code, period, wiring.now(), days)
    except DomainError as exc:
        fail(exc)
    audit.record(db.session, ACTOR, "report.own_link", f"cadre:{cadre.code}", wiring.now(),
                 {"period": period, "days": days})
    db.session.commit()
    expires = link.expires_at.astimezone(wiring.timezone()).strftime("%Y-%m-%d")
    click.echo(f"{cadre.name} {period} 本人查看链接（{expires} 前有效）：")
    click.echo(f"{wiring.public_base_url()}/o/{link.token}")


@reports_cli.command("pdf")
@click.argument("code")
@click.option("--period", required=True, help="期间，如 2026-Q4")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--comments/--no-comments", default=False, help="附达到最低样本数的评价意见")
def pdf(code: str, period: str, out: Path, comments: bool) -> None:
    """Write official CODE's 成绩清单与问题清单 for PERIOD as a PDF."""
    try:
        cadre = find_official(db.session, code=code)
        data = official_pdf(db.session, cadre, period, wiring.report_settings(), report_font(),
                            comments)
    except DomainError as exc:
        fail(exc)
    audit.record(db.session, ACTOR, "export.report_pdf", f"cadre:{cadre.code}", wiring.now(),
                 {"period": period, "comments": comments})
    db.session.commit()
    out.write_bytes(data)
    click.echo(f"已写入 {out}（{len(data) // 1024} KB）")


def init_app(app: Flask) -> None:
    """Register the reports commands."""
    app.cli.add_command(reports_cli)
