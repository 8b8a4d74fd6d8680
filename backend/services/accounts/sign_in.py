"""Console sign-in's use of the database: checking a password, opening, following and ending
server-side sessions. The console keeps the cookies and the throttle (web concerns) and calls
these; each function that writes commits its own transaction.

A wrong password, an unknown user and a throttled account cost the same: one password hash.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash

from backend.models import ConsoleUser
from backend.services.accounts import console_sessions
from backend.storage.transactions import begin_write


def check_password(session: Session, username: str, password: str, closed: Callable[[], bool],
                   dummy_hash: str) -> tuple[ConsoleUser | None, str]:
    """Check a password with one hash whatever the case; return the user and the outcome.

    `closed` tells whether the throttle has closed the account to this attempt. The write
    transaction begun here is the one the caller's audit entry joins.
    """
    begin_write(session)
    user = session.scalar(select(ConsoleUser).where(ConsoleUser.username == username))
    is_closed = closed()
    matches = check_password_hash(user.password_hash if user else dummy_hash, password)
    if user is None:
        return None, "unknown_user"
    if is_closed:
        return None, "throttled"
    if not user.active:
        return None, "inactive"
    return (user, "ok") if matches else (None, "wrong_password")


def start(session: Session, user: ConsoleUser, now: datetime) -> str:
    """Open a server-side session (purging ended ones); commit; return the cookie's secret."""
    console_sessions.purge_ended(session, now)
    secret = console_sessions.open_session(session, user, now)
    session.commit()
    return secret


def session_user(session: Session, secret: object, now: datetime) -> ConsoleUser | None:
    """Return the user of a live session, moving its idle clock (at most once a minute)."""
    found = console_sessions.live_session(session, secret, now)
    user = session.get(ConsoleUser, found.user_id) if found else None
    if user is not None and user.active and console_sessions.needs_touch(found, now):
        begin_write(session)
        console_sessions.touch(session, secret, now)
        session.commit()
        user = session.get(ConsoleUser, found.user_id)
    return user if user is not None and user.active else None


def sign_out(session: Session, secret: object) -> None:
    """End one session wherever its cookie was copied; commit."""
    begin_write(session)
    console_sessions.end_session(session, secret)
    session.commit()
