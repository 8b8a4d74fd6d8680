"""Console sessions held on the server, so that ending one ends every copy of its cookie.

The cookie carries a random secret; the row's id is its SHA-256, so a copy of the database
signs nobody in. A session ends at sign-out, after 30 idle minutes, 12 hours after sign-in,
and, for every session of a user, when the password changes or the account is disabled.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import delete, or_, update
from sqlalchemy.orm import Session

from backend.models import ConsoleSession, ConsoleUser

IDLE = timedelta(minutes=30)
LIFETIME = timedelta(hours=12)
TOUCH_EVERY = timedelta(minutes=1)  # how often a request moves the idle clock (one write)
SECRET_BYTES = 32
SECRET_MAX = 64


def session_id(secret: str) -> str:
    """Return the stored id of a cookie's secret."""
    return hashlib.sha256(secret.encode()).hexdigest()


def open_session(session: Session, user: ConsoleUser, now: datetime) -> str:
    """Start a session for the user (the caller commits); return the cookie's secret."""
    secret = secrets.token_urlsafe(SECRET_BYTES)
    session.add(ConsoleSession(id=session_id(secret), user_id=user.id, created_at=now,
                               seen_at=now))
    return secret


def live_session(session: Session, secret: object, now: datetime) -> ConsoleSession | None:
    """Return the session a secret opens, if it has not ended, expired or idled out."""
    if not isinstance(secret, str) or not 0 < len(secret) <= SECRET_MAX:
        return None
    found = session.get(ConsoleSession, session_id(secret))
    if found is None or found.created_at + LIFETIME <= now or found.seen_at + IDLE <= now:
        return None
    return found


def needs_touch(found: ConsoleSession, now: datetime) -> bool:
    """Tell whether the idle clock should move (at most once a minute)."""
    return now - found.seen_at >= TOUCH_EVERY


def touch(session: Session, secret: str, now: datetime) -> None:
    """Move a session's idle clock to now (the caller commits)."""
    session.execute(update(ConsoleSession).where(ConsoleSession.id == session_id(secret))
                    .values(seen_at=now))


def end_session(session: Session, secret: object) -> None:
    """End one session (the caller commits)."""
    if isinstance(secret, str) and 0 < len(secret) <= SECRET_MAX:
        session.execute(delete(ConsoleSession).where(ConsoleSession.id == session_id(secret)))


def end_all(session: Session, user_id: int) -> int:
    """End every session of a user (the caller commits); return how many ended."""
    result = session.execute(delete(ConsoleSession).where(ConsoleSession.user_id == user_id))
    return result.rowcount or 0


def purge_ended(session: Session, now: datetime) -> int:
    """Delete sessions past their idle or absolute limit (the caller commits)."""
    result = session.execute(delete(ConsoleSession).where(or_(
        ConsoleSession.created_at <= now - LIFETIME, ConsoleSession.seen_at <= now - IDLE)))
    return result.rowcount or 0

