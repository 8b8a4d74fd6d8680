"""Console sign-in: hashed passwords, lockout, hardened session cookies, roles and unit scope.

Five wrong passwords in a row lock an account for fifteen minutes; the answer never tells
whether the user exists or is locked. A session lasts at most twelve hours and ends after two
idle hours or when the password or the account changes.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import time
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from flask import (
    Flask,
    abort,
    current_app,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.typing import ResponseReturnValue
from sqlalchemy import select
from werkzeug.security import check_password_hash, generate_password_hash

from backend import wiring
from backend.extensions import db, limiter
from backend.models import ConsoleUser
from backend.models.clients import ROLES
from backend.services import audit
from backend.services.transactions import begin_write

from . import bp
from .queries.common import Scope
from .scope import user_scope

MAX_FAILURES = 5
LOCKOUT = timedelta(minutes=15)
IDLE_SECONDS = 2 * 3600
MAX_SECONDS = 12 * 3600
LOGIN_FAILED = "用户名或密码错误。连续输错 5 次，账户将锁定 15 分钟。"


def configure_session(app: Flask) -> None:
    """Harden the session cookie: Secure under https, HttpOnly, SameSite=Lax."""
    app.config["SESSION_COOKIE_SECURE"] = app.config["PUBLIC_BASE_URL"].startswith("https://")
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    app.config["SESSION_COOKIE_SAMESITE"] = "Lax"


@functools.cache
def dummy_hash() -> str:
    """Return a hash to check unknown users against, so timing reveals nothing."""
    return generate_password_hash("not-a-real-password")


def fingerprint(user: ConsoleUser) -> str:
    """Return a keyed digest of the password hash: a new password ends old sessions."""
    key = current_app.secret_key.encode() if isinstance(current_app.secret_key, str) else b""
    return hmac.new(key, user.password_hash.encode(), hashlib.sha256).hexdigest()[:24]


def authenticate(username: str, password: str, now: datetime) -> ConsoleUser | None:
    """Check a password, counting failures and locking after five; commit."""
    begin_write(db.session)
    user = db.session.scalar(select(ConsoleUser).where(ConsoleUser.username == username)
                             .with_for_update())
    if user is None or not user.active:
        check_password_hash(dummy_hash(), password)
        db.session.rollback()
        return None
    if user.locked_until is not None and user.locked_until > now:
        db.session.rollback()
        return None
    if not check_password_hash(user.password_hash, password):
        record_failure(user, now)
        db.session.commit()
        return None
    user.failed_logins, user.locked_until = 0, None
    audit.record(db.session, user.username, "login", f"user:{user.username}", now,
                 address=request.remote_addr)
    db.session.commit()
    return user


def record_failure(user: ConsoleUser, now: datetime) -> None:
    """Count a wrong password; the fifth in a row locks the account."""
    user.failed_logins = (user.failed_logins or 0) + 1
    if user.failed_logins >= MAX_FAILURES:
        user.failed_logins, user.locked_until = 0, now + LOCKOUT
        audit.record(db.session, user.username, "login.locked", f"user:{user.username}", now,
                     {"minutes": int(LOCKOUT.total_seconds() // 60)}, request.remote_addr)


def start_session(user: ConsoleUser) -> None:
    """Begin a fresh session for the user (a new cookie: no fixation)."""
    session.clear()
    stamp = int(time.time())
    session.update(uid=user.id, fp=fingerprint(user), at=stamp, seen=stamp)


def current_user() -> ConsoleUser | None:
    """Return the signed-in user of this request, or None."""
    if "console_user" not in g:
        g.console_user = load_user()
    return g.console_user


def load_user() -> ConsoleUser | None:
    """Return the session's user when the session is still valid."""
    uid, stamp = session.get("uid"), int(time.time())
    if uid is None:
        return None
    if stamp - session.get("at", 0) > MAX_SECONDS or stamp - session.get("seen", 0) > IDLE_SECONDS:
        session.clear()
        return None
    user = db.session.get(ConsoleUser, uid)
    if user is None or not user.active or session.get("fp") != fingerprint(user):
        session.clear()
        return None
    if stamp - session.get("seen", 0) > 60:  # refresh the idle clock once a minute
        session["seen"] = stamp
    return user


def scope() -> Scope:
    """Return the unit scope of the signed-in user (cached for the request)."""
    if "console_scope" not in g:
        g.console_scope = user_scope(db.session, current_user())
    return g.console_scope


def unit_scope() -> frozenset[int] | None:
    """Return the ids of the units the signed-in user may see (None: all units)."""
    return scope().units


def is_api() -> bool:
    """Tell whether the request is for the console's JSON API."""
    return request.path.startswith("/console/api/")


def unauthenticated() -> ResponseReturnValue:
    """Answer a request without a valid session."""
    if is_api():
        return jsonify({"code": 401, "message": "请先登录"}), 401
    return redirect(url_for("console.login", next=request.full_path.rstrip("?")))


def login_required(roles: Iterable[str] | None = None) -> Callable:
    """Require a signed-in user with one of the roles (all roles when None)."""
    allowed = frozenset(roles or ROLES)

    def decorator(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapped(*args, **kwargs):
            user = current_user()
            if user is None:
                return unauthenticated()
            if user.role not in allowed:
                abort(403)
            return view(*args, **kwargs)

        wrapped.console_roles = allowed
        return wrapped

    return decorator


def safe_next(target: str | None) -> str:
    """Return a console path to go to after sign-in, never another site."""
    parts = urlsplit(target or "")
    if parts.scheme or parts.netloc or not parts.path.startswith("/console/") \
            or target.startswith("//"):
        return url_for("console.overview")
    return target


def login_limit() -> str:
    """Return the per-address limit on sign-in attempts (RATELIMIT_PUBLIC)."""
    return current_app.config["RATELIMIT_PUBLIC"]


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(login_limit, methods=["POST"])
def login() -> ResponseReturnValue:
    """Show the sign-in form and sign in."""
    if request.method == "GET":
        if current_user() is not None:
            return redirect(safe_next(request.args.get("next")))
        return render_template("console/login.html", error=None)
    username = request.form.get("username", "").strip()[:64]
    user = authenticate(username, request.form.get("password", ""), wiring.now())
    if user is None:
        return render_template("console/login.html", error=LOGIN_FAILED,
                               username=username), 401
    start_session(user)
    return redirect(safe_next(request.args.get("next")))


@bp.route("/logout", methods=["POST"])
def logout() -> ResponseReturnValue:
    """Sign out."""
    session.clear()
    return redirect(url_for("console.login"))


login.console_roles = logout.console_roles = None  # public: no sign-in needed
