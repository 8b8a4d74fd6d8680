"""The demo's commands: `flask --app backend demo seed|serve|core`.

`seed` builds (once) and tops up the demo county and prints how to get in; `serve` runs the
app with its background jobs as `make demo` does; `core` stands in for the assessment core.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import socket
import sys
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import click
from flask import Flask, current_app
from flask.cli import AppGroup
from sqlalchemy import event
from werkzeug.serving import make_server, run_simple

from backend import wiring
from backend.errors import DomainError
from backend.extensions import db
from backend.integrations.demo_core import DEMO_SECRET, check_secret, create_receiver
from backend.services.demo.county import DemoContext
from backend.services.demo.seed import seed_county
from backend.services.reports.rollups import MAX_DAYS, refresh
from backend.services.templates.catalogue import register_all
from backend.storage import storage_of
from backend.storage.engine import SQLITE
from backend.wiring import case_rules, fraud_settings, now, sealer, token_codec, vault
from workers.cron import start_background

if TYPE_CHECKING:
    from backend.services.demo.county import DemoContext
    from backend.services.demo.seed import CountyReport

demo_cli = AppGroup("demo", help="演示数据与演示评估核心")


def demo_context() -> DemoContext:
    """Build the demo's context from the app's configuration, at the current time."""

    config = current_app.config
    return DemoContext(codec=token_codec(), vault=vault(), sealer=sealer(),
                       catalogue=current_app.extensions["catalogue"],
                       base_url=config["PUBLIC_BASE_URL"], tz=wiring.timezone(),
                       now=now(), retention_days=config["PERSONAL_DATA_RETENTION_DAYS"],
                       fraud=fraud_settings(), case_rules=case_rules())


@contextlib.contextmanager
def bulk_load() -> Iterator[None]:
    """Let SQLite skip the fsync of each commit while the seed runs (WAL stays consistent).

    The seed commits some ten thousand small transactions, and on a busy disk their fsyncs
    are most of its time. An interrupted seed is refused and redone from an empty database,
    so their durability buys nothing; the serving process keeps SQLite's defaults.
    """
    engine = db.engine
    if storage_of(engine).kind != SQLITE:
        yield
        return

    def relax(dbapi_connection, _record) -> None:
        dbapi_connection.execute("PRAGMA synchronous = NORMAL")

    db.session.remove()
    engine.dispose()  # the connections opened from here on are relaxed
    event.listen(engine, "connect", relax)
    try:
        yield
    finally:
        db.session.remove()
        event.remove(engine, "connect", relax)
        engine.dispose()


def catch_up_rollups(ctx: DemoContext) -> None:
    """Bring the console's rollups up to date at once (the minute job does a month per run)."""

    while True:
        report = refresh(db.session, ctx.now, ctx.tz)
        if report.skipped or report.days < MAX_DAYS:
            return


def echo_summary(report: CountyReport, seconds: float, tz: ZoneInfo) -> None:
    """Print what the county holds."""
    c, d = report.counts, report.details
    if report.built:
        click.echo(f"演示县已生成（用时 {seconds:.1f} 秒）：自 {d.get('start')} 起约六个月的历史。")
    else:
        click.echo(f"演示县已存在（生成于 {report.seeded_at.astimezone(tz):%Y-%m-%d %H:%M}），"
                   "未重复生成。")
    click.echo(f"  {d.get('officials', '?')} 名干部，{c['units']} 个单位；"
               f"服务事件 {c['events']} 条，评价 {c['ratings']} 条；"
               f"已发布评分期间 {c['periods']} 个；"
               f"待处理告警 {c['alerts']} 条；待复核的异常评价 {c['reviews']} 项；"
               f"民主测评票 {c['ballots']} 张，已提交 {c['answered']} 张。")


def echo_logins(report: CountyReport, base_url: str) -> None:
    """Print the console logins of every role."""
    click.echo(f"\n管理控制台：{base_url}/console")
    for login in report.logins:
        unit = f"，管理单位 {login.unit}" if login.unit else ""
        click.echo(f"  {login.role_name}（{login.role}{unit}）：用户名 {login.username}  "
                   f"密码 {login.password}")


def echo_links(report: CountyReport) -> None:
    """Print the open rating links and the ballot link."""
    click.echo("\n可直接打开的评价链接（未使用、未过期，每个只能提交一次）：")
    for link in report.links:
        click.echo(f"  {link.title} · {link.official} · {link.note}\n    {link.url}")
    if report.ballot is None:
        click.echo("\n民主测评已结束，没有未提交的测评票。")
    else:
        b = report.ballot
        click.echo(f"\n民主测评票（{b.title}，{b.official} · {b.note}，尚未提交）：\n    {b.url}")
    click.echo("\n评价分批入账：为保护评价人，提交的评价先密封保存，再打乱顺序分批入账。"
               "正式部署每批至少 RATING_BATCH_MIN（默认 20）条、最迟当天结束时入账；"
               "本演示每分钟入账一次，不论多少条，所以评价约一分钟后出现在控制台。")
    click.echo("\n链接用完后再次运行 demo seed 会补发新的链接。"
               "查看推送：另开终端运行 flask --app backend demo core")


@demo_cli.command("seed")
@click.option("--cadres", default=40, show_default=True, type=click.IntRange(12, 500),
              help="演示干部人数（仅首次生成时有效）")
def seed_demo(cadres: int) -> None:
    """Seed the demo county (idempotent) and print logins and open rating links."""

    started, ctx = time.perf_counter(), demo_context()
    try:
        with bulk_load():
            register_all(db.session, current_app.extensions["catalogue"])
            report = seed_county(db.session, ctx, cadres)
            catch_up_rollups(ctx)
    except DomainError as exc:
        click.echo(f"错误：{exc.message}", err=True)
        sys.exit(1)
    echo_summary(report, time.perf_counter() - started, ctx.tz)
    echo_logins(report, current_app.config["PUBLIC_BASE_URL"])
    echo_links(report)


@demo_cli.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="监听地址")
@click.option("--port", default=5000, show_default=True, type=click.IntRange(1, 65535),
              help="监听端口")
def serve_demo(host: str, port: int) -> None:
    """Serve the app with its background jobs running from the start (embedded mode)."""


    app = current_app._get_current_object()
    if not app.config.get("PUBLIC_BASE_URL_GIVEN"):  # links follow the address actually served
        app.config["PUBLIC_BASE_URL"] = f"http://{host}:{port}"
    start_background(app)
    mode = ("生产模式（任务由 RQ worker 执行）" if app.config["REDIS_URL"]
            else "嵌入模式（后台任务已在本进程启动）")
    click.echo(f"随时评 {mode}：{app.config['PUBLIC_BASE_URL']}"
               "（接口文档 /api/docs，控制台 /console）")
    run_simple(host, port, app, threaded=True)


@demo_cli.command("core")
@click.option("--port", default=5055, show_default=True, type=click.IntRange(1, 65535))
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--secret", default=None, help="whsec_ 开头的签名密钥（默认为演示密钥）")
def run_core(port: int, host: str, secret: str | None) -> None:
    """Run a local assessment core that verifies and prints the pushed webhooks."""


    secret = secret or DEMO_SECRET
    if problem := check_secret(secret):
        raise click.BadParameter(problem, param_hint="--secret")
    if problem := address_problem(host, port):  # werkzeug would say it in English, then exit
        click.echo(f"错误：无法在 {host}:{port} 监听（{problem}），请用 --port 换一个端口",
                   err=True)
        sys.exit(1)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # our lines, not access logs
    server = make_server(host, port, create_receiver(secret, click.echo), threaded=True)
    echo_core_settings(f"http://{host}:{port}/webhooks", secret)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        click.echo("演示评估核心已停止。")
    finally:
        server.server_close()


def address_problem(host: str, port: int) -> str | None:
    """Return why the core could not listen on host:port (taken, not ours), or None."""
    try:
        with socket.create_server((host, port)):
            return None
    except OSError as exc:
        return "端口已被占用" if exc.errno == errno.EADDRINUSE else (exc.strerror or str(exc))


def echo_core_settings(url: str, secret: str) -> None:
    """Tell the user where the core listens and what to give the platform."""
    click.echo(f"演示评估核心正在监听 {url}（按 Ctrl+C 停止）。")
    click.echo("请在运行随时评的终端设置以下环境变量后重新启动（例如 make demo）：")
    click.echo(f"  export ASSESSMENT_CORE_URL={url}")
    click.echo(f"  export ASSESSMENT_CORE_SECRET={secret}")
    click.echo("随时评每分钟发送一次待推送的消息（发布评分后一分钟内到达）；"
               "收到的每条推送会显示在下面。")


def init_app(app: Flask) -> None:
    """Register this module's command groups."""
    for group in (demo_cli,):
        app.cli.add_command(group)
