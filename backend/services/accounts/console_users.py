"""Console users: roles, unit scope and password hashes; changes that end their sessions."""

from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.security import generate_password_hash

from backend.errors import InvalidInput, NotFound
from backend.models import ConsoleUser, Unit
from backend.models.clients import ROLES
from backend.services.accounts import audit, console_sessions

MIN_PASSWORD_LENGTH = 10


def create_user(session: Session, username: str, role: str, unit_code: str | None = None,
                password: str | None = None, commit: bool = True) -> tuple[ConsoleUser, str]:
    """Create a console user; return it with the password (generated when not given)."""
    if role not in ROLES:
        raise InvalidInput(f"未知角色：{role}；可选：{', '.join(ROLES)}", {"role": "unknown role"})
    if session.scalar(select(ConsoleUser).where(ConsoleUser.username == username)):
        raise InvalidInput(f"用户名已存在：{username}", {"username": "already exists"})
    unit = None
    if role == "unit_admin" and not unit_code:
        raise InvalidInput("unit_admin 必须指定 --unit", {"unit": "required for unit_admin"})
    if unit_code:
        unit = session.scalar(select(Unit).where(Unit.code == unit_code))
        if unit is None:
            raise InvalidInput(f"单位不存在：{unit_code}", {"unit": "unknown unit"})
    password = checked_password(password)
    user = ConsoleUser(username=username, role=role, unit=unit,
                       password_hash=generate_password_hash(password))
    session.add(user)
    if commit:
        session.commit()
    else:
        session.flush()
    return user, password


def checked_password(password: str | None) -> str:
    """Return the password given (long enough) or a generated one."""
    password = password or secrets.token_urlsafe(12)
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(f"密码至少 {MIN_PASSWORD_LENGTH} 个字符", {"password": "too short"})
    return password


def find_user(session: Session, username: str) -> ConsoleUser:
    """Return a console user by name; NotFound otherwise."""
    user = session.scalar(select(ConsoleUser).where(ConsoleUser.username == username))
    if user is None:
        raise NotFound(f"控制台用户不存在：{username}")
    return user


def set_password(session: Session, username: str, password: str | None, actor: str,
                 now: datetime) -> str:
    """Give a user a new password and end all their sessions; audited; commit."""
    user = find_user(session, username)
    password = checked_password(password)
    user.password_hash = generate_password_hash(password)
    ended = console_sessions.end_all(session, user.id)
    audit.record(session, actor, "user.password", f"user:{username}", now, {"sessions": ended})
    session.commit()
    return password


def set_active(session: Session, username: str, active: bool, actor: str,
               now: datetime) -> int:
    """Enable or disable a user; disabling ends all their sessions; audited; commit."""
    user = find_user(session, username)
    user.active = active
    ended = 0 if active else console_sessions.end_all(session, user.id)
    audit.record(session, actor, "user.enable" if active else "user.disable",
                 f"user:{username}", now, {"sessions": ended})
    session.commit()
    return ended
