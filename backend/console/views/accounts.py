"""后台用户 and 接口客户端: console users (role, unit scope, password, disable) and API clients.

Only the organisation department's administrators open these pages. Changes go through
backend/services/accounts/administration.py, which audits them. A new password or a new key is
shown once, on the answer to the form that made it (never stored in clear, never in a cookie,
not cached); a refused form answers 422 in Chinese and changes nothing.
"""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from backend import wiring
from backend.services.accounts import administration
from backend.services.accounts.administration import ROLES, SCOPES
from backend.services.accounts.audit import Actor
from backend.services.directory import management

from ..access import ORG
from ..auth import current_user, login_required
from ..blueprint import bp
from ..labels import ROLE_NAMES
from .common import now

SCOPE_NAMES = {"events:write": "报送服务事件", "directory:write": "维护单位与干部",
               "campaigns:write": "创建民主测评", "scores:read": "读取评分",
               "scores:publish": "发布评分", "cases:read": "读取整改单"}
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def actor() -> Actor:
    """Return who acts, when and from where."""
    return Actor(current_user().username, now(), request.remote_addr)


def field(name: str, limit: int = 100) -> str:
    """Return a form field, stripped and cut to a length no column exceeds."""
    return request.form.get(name, "").strip()[:limit]


def users_page(secret: tuple[str, str] | None = None, status: int = 200) -> ResponseReturnValue:
    """Render the users page, with a one-time password when one was just made."""
    return render_template("console/users.html", users=administration.list_users(wiring.session()),
                           units=management.unit_tree(wiring.session()), roles=ROLES,
                           role_names=ROLE_NAMES, secret=secret,
                           me=current_user().username), status, NO_STORE


@bp.route("/users")
@login_required(ORG)
def users() -> ResponseReturnValue:
    """List console users with the forms that manage them."""
    return users_page()


@bp.route("/users", methods=["POST"])
@login_required(ORG)
def create_user() -> ResponseReturnValue:
    """Create a console user; show the password once."""
    username = field("username", 64)
    secret = administration.add_user(wiring.session(), username, field("role", 20),
                                     field("unit", 64), request.form.get("password", "")[:200],
                                     actor())
    return users_page((username, secret), 201)


@bp.route("/users/<int:user_id>/password", methods=["POST"])
@login_required(ORG)
def reset_password(user_id: int) -> ResponseReturnValue:
    """Give a user a new generated password (their sessions end); show it once."""
    return users_page(administration.reset_password(wiring.session(), user_id, actor()))


@bp.route("/users/<int:user_id>/role", methods=["POST"])
@login_required(ORG)
def change_role(user_id: int) -> ResponseReturnValue:
    """Change a user's role and unit scope (their sessions end)."""
    administration.change_role(wiring.session(), user_id, field("role", 20), field("unit", 64),
                               actor())
    flash("已修改角色与单位范围，该用户需重新登录", "ok")
    return redirect(url_for("console.users"), 303)


@bp.route("/users/<int:user_id>/<any(disable, enable):action>", methods=["POST"])
@login_required(ORG)
def user_state(user_id: int, action: str) -> ResponseReturnValue:
    """Disable (ending every session) or enable a user."""
    done = administration.set_user_active(wiring.session(), user_id, action == "enable", actor())
    flash(("已启用" if action == "enable" else "已停用，其登录会话已全部结束") if done
          else "状态未变化", "ok" if done else "warn")
    return redirect(url_for("console.users"), 303)


def clients_page(created=None, key: str | None = None, status: int = 200) -> ResponseReturnValue:
    """Render the clients page, with a new key shown once."""
    return render_template("console/clients.html", clients=administration.list_clients(
        wiring.session()), scopes=SCOPES, scope_names=SCOPE_NAMES, created=created,
        key=key), status, NO_STORE


@bp.route("/clients")
@login_required(ORG)
def clients() -> ResponseReturnValue:
    """List API clients with the forms that manage them."""
    return clients_page()


@bp.route("/clients", methods=["POST"])
@login_required(ORG)
def create_client() -> ResponseReturnValue:
    """Create an API client with its scopes and sources; show its key once."""
    scopes = [s[:40] for s in request.form.getlist("scopes")][:len(SCOPES) + 1]
    created, key = administration.add_client(wiring.session(), field("name", 64), scopes,
                                             request.form.get("sources", "")[:1000], actor())
    return clients_page(created, key, 201)


@bp.route("/clients/<int:client_id>/revoke", methods=["POST"])
@login_required(ORG)
def revoke_client(client_id: int) -> ResponseReturnValue:
    """Revoke a client's key: its calls are refused from now on."""
    done = administration.revoke_client(wiring.session(), client_id, actor())
    flash("已吊销，该密钥立即失效" if done else "该客户端已吊销", "ok" if done else "warn")
    return redirect(url_for("console.clients"), 303)
