"""Mini-program sessions on requests: `Authorization: Bearer <session_token>`.

The session token is the MpSession id signed with itsdangerous (salt "mp-session", keys from
SECRET_KEYS), so a forged token is refused before any database lookup.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from flask import current_app, g
from itsdangerous import BadSignature, Signer

from backend import wiring
from backend.api.auth import bearer_token
from backend.errors import Unauthorized
from backend.extensions import db
from backend.models import MpSession
from backend.services.invitations import mp

SALT = "mp-session"
MP_SECURITY = [{"mpSession": []}]
OPTIONAL_MP_SECURITY = [{}, {"mpSession": []}]  # public endpoints that read a session if sent
SESSION_ID_MAX = 32


def session_signer() -> Signer:
    """Return the signer of session tokens: signs with the newest key, accepts every key."""
    # SECRET_KEYS is newest first; itsdangerous signs with the last key of its list.
    return Signer(list(reversed(current_app.config["SECRET_KEYS"])), salt=SALT)


def sign_session_id(session_id: str) -> str:
    """Return the session token handed to the mini-program for a session id."""
    return session_signer().sign(session_id).decode()


def session_id_of(session_token: str) -> str | None:
    """Return the session id a token carries, or None when its signature does not verify."""
    if len(session_token) > 2 * SESSION_ID_MAX + 40:
        return None
    try:
        return session_signer().unsign(session_token).decode()
    except (BadSignature, UnicodeDecodeError):
        return None


def current_mp_session(required: bool = False) -> MpSession | None:
    """Return the request's mini-program session; None when absent and not required.

    A bearer token that is present but forged or expired is refused (401) either way.
    """
    if "mp_session" in g:
        return g.mp_session
    token = bearer_token()
    if token is None:
        if required:
            raise Unauthorized("请先登录小程序：缺少 Authorization: Bearer 会话令牌")
        return None
    session_id = session_id_of(token)
    if session_id is None:
        raise Unauthorized("小程序会话令牌无效，请重新登录")
    mp_session = mp.resolve_session(db.session, session_id, wiring.now())
    if mp_session is None:
        raise Unauthorized("小程序会话已过期，请重新登录")
    g.mp_session = mp_session
    return mp_session


def require_mp_session(view: Callable) -> Callable:
    """Decorate a view so it needs a valid mini-program session (checked before the body)."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        current_mp_session(required=True)
        return view(*args, **kwargs)

    return wrapper
