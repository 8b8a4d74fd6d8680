"""Managing console users and API clients from the console, each change audited.

Keys and passwords are returned once to the caller and never stored in clear. No one can
disable or demote their own account, so the last administrator cannot lock everyone out by
accident. A refused change (InvalidInput, NotFound) leaves nothing behind.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from backend.errors import InvalidInput, NotFound
from backend.models import ApiClient, ConsoleUser, Unit
from backend.models.clients import ROLES, SCOPES
from backend.services.accounts import api_clients, audit, console_sessions, console_users
from backend.services.accounts.audit import Actor
from backend.storage.transactions import row_or_missing

USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{1,63}$")
CLIENT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
SCOPED = ("unit_admin", "viewer")  # roles a unit may narrow
__all__ = ["ROLES", "SCOPES", "add_client", "add_user", "change_role", "list_clients",
           "list_users", "reset_password", "revoke_client", "set_user_active"]


@dataclass(frozen=True)
class UserRow:
    """A console user as the users page lists one."""
    id: int
    username: str
    role: str
    unit_code: str | None
    unit_name: str | None
    active: bool
    created_at: datetime


@dataclass(frozen=True)
class ClientRow:
    """An API client as the clients page lists one (never its key)."""
    id: int
    name: str
    key_id: str
    scopes: tuple[str, ...]
    sources: tuple[str, ...]
    active: bool
    created_at: datetime
    last_used_at: datetime | None


def list_users(session: Session) -> list[UserRow]:
    """Return every console user, by name."""
    users = session.scalars(select(ConsoleUser).options(joinedload(ConsoleUser.unit))
                            .order_by(ConsoleUser.username))
    return [UserRow(u.id, u.username, u.role, u.unit.code if u.unit else None,
                    u.unit.name if u.unit else None, u.active, u.created_at) for u in users]


def list_clients(session: Session) -> list[ClientRow]:
    """Return every API client, newest first."""
    clients = session.scalars(select(ApiClient).order_by(ApiClient.id.desc()))
    return [ClientRow(c.id, c.name, c.key_id, tuple(sorted(c.scope_set)),
                      tuple(sorted(c.source_set)), c.active, c.created_at, c.last_used_at)
            for c in clients]


def audited(session: Session, actor: Actor, action: str, target: str, details: dict) -> None:
    """Audit a change and commit it."""
    audit.record(session, actor.name, action, target, actor.now, details, actor.address)
    session.commit()


def checked_role(role: str, unit_code: str) -> None:
    """Refuse an unknown role, or a unit admin without a unit."""
    if role not in ROLES:
        raise InvalidInput("未知角色", {"role": "请选择列表中的角色"})
    if role == "unit_admin" and not unit_code:
        raise InvalidInput("单位管理员必须指定所属单位", {"unit": "单位管理员必须指定所属单位"})
    if unit_code and role not in SCOPED:
        raise InvalidInput("该角色不按单位限定", {"unit": "只有单位管理员和只读用户可以限定单位"})


def add_user(session: Session, username: str, role: str, unit_code: str, password: str,
             actor: Actor) -> str:
    """Create a console user; audited; return the password (generated when blank)."""
    if not USERNAME.match(username):
        raise InvalidInput("用户名无效", {"username": "2 至 64 个字母、数字、点、横线或下划线"})
    checked_role(role, unit_code)
    if session.scalar(select(ConsoleUser.id).where(ConsoleUser.username == username)):
        raise InvalidInput("用户名已存在", {"username": "用户名已存在"})
    unit = unit_of(session, unit_code)
    try:
        _user, secret = console_users.create_user(session, username, role, unit.code if unit
                                                 else None, password or None, commit=False)
    except InvalidInput as exc:
        session.rollback()
        raise InvalidInput(exc.message, {"password": exc.message}
                           if "密码" in exc.message else exc.errors) from exc
    audited(session, actor, "user.create", f"user:{username}",
            {"role": role, "unit": unit.code if unit else None})
    return secret


def unit_of(session: Session, code: str) -> Unit | None:
    """Return the unit of a code (None for blank); InvalidInput when unknown."""
    if not code:
        return None
    unit = session.scalar(select(Unit).where(Unit.code == code))
    if unit is None:
        raise InvalidInput("单位不存在", {"unit": f"单位不存在：{code[:64]}"})
    return unit


def user_row(session: Session, user_id: int) -> ConsoleUser:
    """Return a console user by id; NotFound otherwise."""
    return row_or_missing(session, ConsoleUser, user_id, "用户不存在")


def not_self(user: ConsoleUser, actor: Actor, what: str) -> None:
    """Refuse a change of one's own account that could lock one out."""
    if user.username == actor.name:
        raise InvalidInput(f"不能{what}自己的账户", {"user": f"不能{what}自己的账户"})


def change_role(session: Session, user_id: int, role: str, unit_code: str,
                actor: Actor) -> None:
    """Give a user another role or unit scope; ends their sessions; audited."""
    user = user_row(session, user_id)
    not_self(user, actor, "修改")
    checked_role(role, unit_code)
    unit = unit_of(session, unit_code)
    before = {"role": user.role, "unit": user.unit.code if user.unit else None}
    user.role, user.unit = role, unit
    ended = console_sessions.end_all(session, user.id)
    audited(session, actor, "user.role", f"user:{user.username}",
            {"before": before, "role": role, "unit": unit.code if unit else None,
             "sessions": ended})


def reset_password(session: Session, user_id: int, actor: Actor) -> tuple[str, str]:
    """Give a user a new generated password, ending their sessions; return (name, password)."""
    user = user_row(session, user_id)
    secret = console_users.set_password(session, user.username, None, actor.name, actor.now)
    return user.username, secret


def set_user_active(session: Session, user_id: int, active: bool, actor: Actor) -> bool:
    """Enable or disable a user (ending their sessions); False when nothing changed."""
    user = user_row(session, user_id)
    if not active:
        not_self(user, actor, "停用")
    if user.active == active:
        return False
    console_users.set_active(session, user.username, active, actor.name, actor.now)
    return True


def split_list(text: str) -> list[str]:
    """Split a list typed with commas, Chinese commas, spaces or new lines."""
    return [part for part in re.split(r"[\s,，、;；]+", text or "") if part]


def add_client(session: Session, name: str, scopes: list[str], sources_text: str,
               actor: Actor) -> tuple[ClientRow, str]:
    """Create an API client; audited; return it and its key, shown this once."""
    if not CLIENT_NAME.match(name):
        raise InvalidInput("客户端名称无效", {"name": "1 至 64 个字母、数字、点、横线或下划线"})
    chosen = sorted(set(scopes))
    if not chosen or any(s not in SCOPES for s in chosen):
        raise InvalidInput("请至少选择一项有效的权限范围", {"scopes": "请选择列表中的权限范围"})
    if session.scalar(select(ApiClient.id).where(ApiClient.name == name)):
        raise InvalidInput("客户端名称已存在", {"name": "客户端名称已存在"})
    try:
        client, key = api_clients.create_client(session, name, chosen, split_list(sources_text),
                                                commit=False)
    except InvalidInput as exc:
        session.rollback()
        raise InvalidInput(exc.message, {"sources": exc.message}) from exc
    audited(session, actor, "client.create", f"client:{name}",
            {"scopes": chosen, "sources": sorted(client.source_set), "key_id": client.key_id})
    return ClientRow(
        client.id, client.name, client.key_id, tuple(chosen), tuple(sorted(client.source_set)),
        True, client.created_at or actor.now, None), key


def revoke_client(session: Session, client_id: int, actor: Actor) -> bool:
    """Revoke a client's key for good; audited; False when it already was."""
    client = session.get(ApiClient, client_id)
    if client is None:
        raise NotFound("客户端不存在")
    if not client.active:
        return False
    client.active = False
    audited(session, actor, "client.revoke", f"client:{client.name}", {"key_id": client.key_id})
    return True
