"""Console sign-in: hashed passwords, throttled guessing, server-side sessions, roles, scope.

A wrong password, an unknown user and a throttled account get the same answer after the same
work (one password hash, one audit entry), so neither the text nor the timing tells which
usernames exist; see backend/services/accounts/login_throttle.py for who is slowed down and how. A
session lives in the database (backend/services/accounts/console_sessions.py): signing out, a new
password or a disabled account end it wherever its cookie was copied; it also ends after 30
idle minutes and 12 hours after sign-in. A browser that signed a user in keeps a device cookie
naming that user, which lets the user in while strangers hammer the account.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import hmac
import logging
import secrets
import time
from collections.abc import Callable, Iterable
from datetime import datetime
from urllib.parse import urlsplit

from flask import (
    Flask,
    Response,
    abort,
    current_app,
    g,
    jsonify,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.typing import ResponseReturnValue
from itsdangerous import BadSignature, URLSafeTimedSerializer
from werkzeug.exceptions import TooManyRequests
from werkzeug.security import generate_password_hash

from backend import wiring
from backend.console.blueprint import bp
from backend.extensions import limiter
from backend.services.accounts import ConsoleUser, audit, sign_in
from backend.services.accounts.administration import ROLES
from backend.services.accounts.login_throttle import Attempt, LoginThrottle
from backend.services.reports.common import Scope
from backend.services.reports.scope import user_scope

log = logging.getLogger(__name__)
LOGIN_FAILED = "用户名或密码错误。连续输错 5 次后，需等待 15 分钟才能在此处再次登录该账户。"
TOO_MANY = "登录失败次数过多，请稍后再试。"
USERNAME_MAX = 64
DEVICE_COOKIE = "ssp_console_device"
DEVICE_SALT = "console-device"
DEVICE_DAYS = 180
DEVICE_USERS_MAX = 10


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


def throttle() -> LoginThrottle:
    """Return the sign-in throttle on the rate-limit storage (Redis, or memory)."""
    return LoginThrottle(limiter.limiter, time.time())


def device_serializer() -> URLSafeTimedSerializer:
    """Return the signer of device cookies (newest key signs, every key verifies)."""
    return URLSafeTimedSerializer(list(reversed(current_app.config["SECRET_KEYS"])),
                                  salt=DEVICE_SALT)


def device_cookie() -> dict:
    """Return this browser's device record {"d": id, "u": [usernames]}, or a new one."""
    raw = request.cookies.get(DEVICE_COOKIE, "")
    with contextlib.suppress(BadSignature, TypeError, ValueError):
        record = device_serializer().loads(raw, max_age=DEVICE_DAYS * 86400)
        if isinstance(record, dict) and isinstance(record.get("u"), list):
            return record
    return {"d": secrets.token_urlsafe(12), "u": []}


def attempt_of(username: str) -> Attempt:
    """Describe this request's attempt on a username (a known device only for its users)."""
    record = device_cookie()
    known = record["d"] if username in record["u"] else None
    return Attempt(username, request.remote_addr or "unknown", known)


def closed_to(attempt: Attempt) -> bool:
    """Tell whether the throttle has closed the account to this attempt."""
    try:
        return throttle().closed(attempt)
    except Exception:  # the storage is out of reach: sign-in still needs the password
        log.warning("sign-in throttle unreachable", exc_info=True)
        return False


def check(attempt: Attempt, password: str) -> tuple[ConsoleUser | None, str]:
    """Check a password with one hash whatever the case; return the user and the outcome."""
    return sign_in.check_password(wiring.session(), attempt.username, password,
                                  lambda: closed_to(attempt), dummy_hash())


def record_failure(attempt: Attempt, reason: str, now: datetime) -> None:
    """Count the failure and write it to the audit trail (the same work for every reason)."""
    locked = False
    with contextlib.suppress(Exception):  # storage trouble must not turn 401 into 500
        locked = throttle().failed(attempt)
    name = attempt.username or "（空）"
    audit.record_now(wiring.session(), name, "login.locked" if locked else "login.failed",
                     f"user:{name}", now, {"reason": reason}, attempt.address)


def authenticate(username: str, password: str, now: datetime) -> ConsoleUser | None:
    """Check a sign-in; count and audit a failure; open nothing yet. Commits."""
    attempt = attempt_of(username)
    user, outcome = check(attempt, password)
    if user is None:
        record_failure(attempt, outcome, now)
        return None
    with contextlib.suppress(Exception):
        throttle().succeeded(attempt)
    audit.record(wiring.session(), user.username, "login", f"user:{user.username}", now,
                 address=request.remote_addr)
    return user


def start_session(user: ConsoleUser, now: datetime) -> str:
    """Open a server-side session and a fresh cookie (no fixation); commit."""
    secret = sign_in.start(wiring.session(), user, now)
    session.clear()
    session.update(sid=secret, fp=fingerprint(user))
    return secret


def remember_device(response: Response, username: str) -> Response:
    """Name the user in this browser's device cookie (it may then outlast a throttle)."""
    record = device_cookie()
    users = [name for name in record["u"] if name != username][-(DEVICE_USERS_MAX - 1):]
    record["u"] = [*users, username]
    response.set_cookie(DEVICE_COOKIE, device_serializer().dumps(record),
                        max_age=DEVICE_DAYS * 86400, path="/console/", httponly=True,
                        secure=current_app.config["SESSION_COOKIE_SECURE"], samesite="Lax")
    return response


def current_user() -> ConsoleUser | None:
    """Return the signed-in user of this request, or None."""
    if "console_user" not in g:
        g.console_user = load_user()
    return g.console_user


def load_user() -> ConsoleUser | None:
    """Return the user of the session's live server-side session, moving its idle clock."""
    secret, now = session.get("sid"), wiring.now()
    if secret is None:
        return None
    user = sign_in.session_user(wiring.session(), secret, now)
    if user is None or session.get("fp") != fingerprint(user):
        session.clear()
        return None
    return user


def scope() -> Scope:
    """Return the unit scope of the signed-in user (cached for the request)."""
    if "console_scope" not in g:
        g.console_scope = user_scope(wiring.session(), current_user())
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


# Where a role starts: auditors read the audit trail, the discipline side its reports.
HOMES = {"auditor": "console.audit_trail", "discipline": "console.cases"}


def home_url(role: str | None = None) -> str:
    """Return the page a role lands on: auditors the audit trail, 纪检 its cases."""
    user = current_user()
    return url_for(HOMES.get(role or (user.role if user else ""), "console.overview"))


def safe_next(target: str | None, role: str | None = None) -> str:
    """Return a console path to go to after sign-in, never another site nor a page the role
    may not open (the role's own page instead)."""
    parts = urlsplit(target or "")
    if parts.scheme or parts.netloc or not parts.path.startswith("/console/") \
            or target.startswith("//") or not opens(parts.path, role):
        return home_url(role)
    return target


def opens(path: str, role: str | None) -> bool:
    """Tell whether the role may open the console page at a path (unknown paths: yes)."""
    user = current_user()
    role = role or (user.role if user else None)
    try:
        endpoint, _ = current_app.url_map.bind("localhost").match(path, method="GET")
    except Exception:  # not found or not a GET page: the page itself answers
        return True
    roles = getattr(current_app.view_functions.get(endpoint), "console_roles", None)
    return roles is None or role in roles


@bp.route("/home")
@login_required()
def home() -> ResponseReturnValue:
    """Send the signed-in user to the page their role starts on."""
    return redirect(home_url())


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
    username = request.form.get("username", "").strip()[:USERNAME_MAX]
    refuse_busy_address()
    now = wiring.now()
    user = authenticate(username, request.form.get("password", ""), now)
    if user is None:
        return render_template("console/login.html", error=LOGIN_FAILED,
                               username=username), 401
    start_session(user, now)
    return remember_device(make_response(redirect(safe_next(request.args.get("next"),
                                                            user.role))), user.username)


def refuse_busy_address() -> None:
    """Answer 429 to an address past its failed sign-ins, whatever name it tries."""
    try:
        wait = throttle().address_wait(request.remote_addr or "unknown")
    except Exception:
        log.warning("sign-in throttle unreachable", exc_info=True)
        return
    if wait is not None:
        error = TooManyRequests()
        error.data = {"message": TOO_MANY, "headers": {"Retry-After": str(wait)}}
        raise error


@bp.route("/logout", methods=["POST"])
def logout() -> ResponseReturnValue:
    """Sign out: end the server-side session, so no copy of the cookie works any more."""
    sign_in.sign_out(wiring.session(), session.get("sid"))
    session.clear()
    return redirect(url_for("console.login"))


login.console_roles = logout.console_roles = None  # public: no sign-in needed
