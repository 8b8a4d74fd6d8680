"""Administration commands: API clients, console users, the directory, templates, invitations."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from backend import wiring
from backend.cli.common import fail
from backend.cli.roster_help import directory_import_help
from backend.errors import DomainError
from backend.extensions import db
from backend.services.accounts import api_clients, audit
from backend.services.accounts.console_users import (
    create_user,
    find_user,
    set_active,
    set_password,
)
from backend.services.cases.notices import set_contact
from backend.services.directory.roster_import import import_roster
from backend.services.invitations.lookup import revoke
from backend.services.templates.catalogue import load_catalogue, register_all
from backend.wiring import now, sealer, token_codec

api_client_cli = AppGroup("api-client", help="机器客户端密钥")
admin_cli = AppGroup("admin", help="控制台用户")
directory_cli = AppGroup("directory", help="单位与干部名录")
templates_cli = AppGroup("templates", help="问卷模板与计分方案")
invitations_cli = AppGroup("invitations", help="评价邀请")


@api_client_cli.command("create")
@click.argument("name")
@click.option("--scopes", required=True, help="逗号分隔，如 events:write,directory:write")
@click.option("--source", "sources", multiple=True,
              help="该客户端报送事件时可用的 source，可重复；默认为 NAME")
def create_api_client(name: str, scopes: str, sources: tuple[str, ...]) -> None:
    """Create an API client; the new secret key is the last line of output.

    The client may post events only under its sources (--source, repeatable; default NAME).
    """

    try:
        client, key = api_clients.create_client(db.session, name,
                                                api_clients.parse_scopes(scopes), sources)
    except DomainError as exc:
        fail(exc)
    click.echo(f"已创建客户端 {client.name}，权限：{client.scopes}，"
               f"事件来源：{'、'.join(sorted(client.source_set))}")
    click.echo("密钥只显示这一次，请妥善保存：")
    click.echo(key)


@admin_cli.command("create")
@click.argument("username")
@click.option("--role", required=True, type=click.Choice(["org_admin", "unit_admin", "auditor",
                                                          "viewer"]))
@click.option("--unit", "unit_code", default=None, help="unit_admin 管理的单位编码")
@click.option("--password", default=None, help="不提供则随机生成并显示")
def create_admin(username: str, role: str, unit_code: str | None, password: str | None) -> None:
    """Create a console user; the password is the last line of output."""

    try:
        user, secret = create_user(db.session, username, role, unit_code, password)
    except DomainError as exc:
        fail(exc)
    click.echo(f"已创建控制台用户 {user.username}（{user.role}）")
    click.echo(secret)


@admin_cli.command("set-contact")
@click.argument("username")
@click.option("--phone", default=None, help="短信通知的手机号；空字符串清除")
@click.option("--openid", default=None, help="微信订阅消息的小程序 openid；空字符串清除")
def set_admin_contact(username: str, phone: str | None, openid: str | None) -> None:
    """Set where a console user's case notices are also sent (SMS, WeChat); audited."""

    try:
        user = find_user(db.session, username)
        set_contact(user, wiring.vault(), phone, openid)
    except DomainError as exc:
        fail(exc)
    audit.record(db.session, "cli", "account.notice_contact", f"user:{user.id}", wiring.now(),
                 {"phone": bool(user.phone_enc), "openid": bool(user.openid_enc)})
    db.session.commit()
    click.echo(f"已更新 {username} 的整改通知方式：手机{'已登记' if user.phone_enc else '未登记'}，"
               f"微信{'已登记' if user.openid_enc else '未登记'}")


@admin_cli.command("set-password")
@click.argument("username")
@click.option("--password", default=None, help="不提供则随机生成并显示")
def set_admin_password(username: str, password: str | None) -> None:
    """Give a console user a new password and end all their sessions."""

    try:
        secret = set_password(db.session, username, password, "cli", wiring.now())
    except DomainError as exc:
        fail(exc)
    click.echo(f"已为 {username} 设置新密码，其所有登录会话已结束")
    click.echo(secret)


@admin_cli.command("disable")
@click.argument("username")
def disable_admin(username: str) -> None:
    """Disable a console user and end all their sessions."""

    try:
        ended = set_active(db.session, username, False, "cli", wiring.now())
    except DomainError as exc:
        fail(exc)
    click.echo(f"已停用 {username}，结束了 {ended} 个登录会话")


@admin_cli.command("enable")
@click.argument("username")
def enable_admin(username: str) -> None:
    """Enable a console user again."""

    try:
        set_active(db.session, username, True, "cli", wiring.now())
    except DomainError as exc:
        fail(exc)
    click.echo(f"已启用 {username}")


@directory_cli.command("import", help=directory_import_help())
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--kind", type=click.Choice(["units", "cadres"]), default=None,
              help="不指定则按表头识别")
@click.option("--skip-invalid", is_flag=True, help="跳过有错误的行，导入其余行")
@click.option("--dry-run", is_flag=True, help="只检查并显示报告，不写入")
def import_directory(file: Path, kind: str | None, skip_invalid: bool, dry_run: bool) -> None:
    """Import a CSV or XLSX roster of units or cadres."""

    try:
        report = import_roster(db.session, file, wiring.vocabulary(), kind, skip_invalid,
                               dry_run)
    except DomainError as exc:
        fail(exc)
    for e in report.errors:
        where = f"{e.sheet} " if e.sheet and file.suffix.lower() == ".xlsx" else ""
        click.echo(f"{where}第 {e.row} 行，列 {e.column}：{e.reason}")
    state = "已写入" if report.applied else ("试运行，未写入" if dry_run else "有错误，未写入")
    click.echo(f"共 {report.total} 行：新建 {report.created}，更新 {report.updated}，"
               f"错误 {len(report.errors)}；{state}")
    if report.errors and (dry_run or not report.applied):
        sys.exit(1)  # a dry run is a check: any bad row fails it


@templates_cli.command("check")
@click.option("--dir", "folder", default=None, help="模板目录，默认 SURVEY_TEMPLATES_DIR")
def check_templates(folder: str | None) -> None:
    """Validate every template and scheme file; exit 1 naming file, path and reason."""

    try:
        catalogue = load_catalogue(folder or current_app.config["SURVEY_TEMPLATES_DIR"])
    except DomainError as exc:
        click.echo(f"模板无效：{exc.message}", err=True)
        sys.exit(1)
    for f in [*catalogue.templates.values(), *catalogue.schemes.values()]:
        click.echo(f"正确 {f.source}（{f.kind} {f.key}，{f.digest[:19]}）")


@templates_cli.command("sync")
def sync_templates() -> None:
    """Register the current templates and schemes, creating new versions for changes."""

    for row in register_all(db.session, current_app.extensions["catalogue"]):
        click.echo(f"{row.kind} {row.key} 版本 {row.version}")


@invitations_cli.command("revoke")
@click.argument("token")
def revoke_invitation(token: str) -> None:
    """Revoke an invitation by its link token or mini-program scene."""

    try:
        invitation = revoke(db.session, token_codec(), sealer(), token, now())
    except DomainError as exc:
        fail(exc)
    click.echo(f"已撤销邀请 #{invitation.id}（{invitation.revoked_at.isoformat()}）")


def init_app(app: Flask) -> None:
    """Register this module's command groups."""
    for group in (api_client_cli, admin_cli, directory_cli, templates_cli, invitations_cli):
        app.cli.add_command(group)
