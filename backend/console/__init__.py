"""The administrator console (管理后台): monitoring pages, alerts, exports, audit trail.

Pages read the rollup tables through backend/services/reports, never the rating or invitation
tables at large; every read of rating-level or personal data is written to the audit trail.
"""

from __future__ import annotations

from typing import Any

from flask import Response, current_app, g, jsonify, render_template, request, url_for
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from backend.console import auth, templating, views  # importing them registers their routes
from backend.console.blueprint import bp
from backend.console.filters import check_arguments as check
from backend.console.labels import ROLE_NAMES
from backend.errors import DomainError
from backend.http_errors import DOMAIN_STATUS, STATUS_MESSAGES, handle_http_exception

NAV = (
    ("console.overview", "监测总览"),
    ("console.units", "按单位"),
    ("console.officials", "按干部"),
    ("console.breakdown", "按事项与渠道"),
    ("console.funnel", "送达漏斗"),
    ("console.campaigns", "民主测评"),
    ("console.cases", "整改单"),
    ("console.appeals", "申诉复核"),
    ("console.review", "防刷复核"),
    ("console.alerts", "告警"),
    ("console.scores", "评分发布与推送"),
    ("console.directory", "单位与干部"),
    ("console.users", "后台用户"),
    ("console.clients", "接口客户端"),
    ("console.audit_trail", "查询留痕"),
    ("console.ledger", "评价账本"),
)
PAGE_TITLES = {403: "无权访问", 404: "资源不存在", 422: "内容无效", 409: "状态冲突",
               413: "文件过大", 429: "操作过于频繁"}


__all__ = ["bp", "templating", "views"]


@bp.record_once
def configure(state) -> None:
    """Harden the session cookie of the app the console is registered on."""
    auth.configure_session(state.app)


@bp.before_request
def check_arguments() -> None:
    """Refuse control characters and overlong values in any query or form argument."""
    check()


@bp.before_app_request
def forget_user() -> None:
    """Drop the cached user and scope: an outer app context (tests, CLI) spans requests."""
    for name in ("console_user", "console_scope", "console_exporting"):
        g.pop(name, None)


@bp.app_template_global()
def console_nav() -> list[dict[str, Any]]:
    """Return the navigation entries the signed-in user may open."""
    user = auth.current_user()
    if user is None:
        return []
    entries = []
    for endpoint, label in NAV:
        roles = getattr(current_app.view_functions.get(endpoint), "console_roles", ())
        if user.role in roles:
            entries.append({"endpoint": endpoint, "label": label, "url": url_for(endpoint),
                            "active": request.endpoint in (endpoint, endpoint + "_export")})
    return entries


@bp.context_processor
def inject_user() -> dict[str, Any]:
    """Make the signed-in user and role names available to templates."""
    return {"console_user": auth.current_user(), "role_names": ROLE_NAMES}


@bp.errorhandler(CSRFError)
def csrf_failed(exc: CSRFError) -> tuple[Response | str, int]:
    """Explain an expired or missing form token."""
    if auth.is_api():
        return jsonify({"code": 400, "message": "CSRF 令牌缺失或已过期"}), 400
    return render_template("console/message.html", title="页面已过期",
                           message="表单已过期或来源无法验证，请返回刷新页面后重试。"), 400


@bp.errorhandler(HTTPException)
def http_error(exc: HTTPException):
    """Answer JSON under /console/api; a signed-in user gets the console's own page."""
    status = exc.code or 500
    if auth.is_api():
        return jsonify({"code": status, "message": STATUS_MESSAGES.get(status, "错误")}), status
    message = (getattr(exc, "data", None) or {}).get("message")
    if auth.current_user() is None or status >= 500 or exc.get_headers()[1:]:
        return handle_http_exception(exc)
    return console_message(status, message or STATUS_MESSAGES.get(status, "错误"))


@bp.errorhandler(DomainError)
def domain_error(exc: DomainError):
    """Refuse a service's refusal with its Chinese message; nothing was changed."""
    status = next((s for cls, s in DOMAIN_STATUS.items() if isinstance(exc, cls)), 400)
    if auth.is_api():
        return jsonify({"code": status, "message": exc.message, "errors": exc.errors}), status
    details = "；".join(str(v) for v in exc.errors.values() if str(v) != exc.message)
    return console_message(status, exc.message + (f"（{details}）" if details else ""))


def console_message(status: int, message: str):
    """Render a refusal inside the console, with its navigation and 退出."""
    return render_template("console/message.html", title=PAGE_TITLES.get(status, "无法完成"),
                           message=message), status
