"""Console users: roles, unit scope and password hashes."""

from __future__ import annotations

import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.security import generate_password_hash

from backend.errors import InvalidInput
from backend.models import ConsoleUser, Unit
from backend.models.clients import ROLES

MIN_PASSWORD_LENGTH = 10


def create_user(session: Session, username: str, role: str, unit_code: str | None = None,
                password: str | None = None) -> tuple[ConsoleUser, str]:
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
    password = password or secrets.token_urlsafe(12)
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(f"密码至少 {MIN_PASSWORD_LENGTH} 个字符", {"password": "too short"})
    user = ConsoleUser(username=username, role=role, unit=unit,
                       password_hash=generate_password_hash(password))
    session.add(user)
    session.commit()
    return user, password
