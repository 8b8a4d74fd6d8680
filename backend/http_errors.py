"""One JSON error shape for everything under /api; plain Chinese pages elsewhere.

Whatever escapes a view ends here. Domain errors map to their status; a service that cannot be
reached (the database, Redis) is a 503, a value the database cannot store a 422; the session is
rolled back so the next request starts clean. Only a genuine bug is still a 500.
"""

from __future__ import annotations

import contextlib
import logging
import math

import sqlalchemy.exc
from flask import Flask, Response, jsonify, render_template, request
from redis import exceptions as redis_errors
from werkzeug.exceptions import HTTPException, InternalServerError, ServiceUnavailable

from backend import errors
from backend.extensions import db
from backend.integrations import IntegrationError, WeChatInvalidCredential

log = logging.getLogger(__name__)

STATUS_MESSAGES = {
    400: "请求格式错误",
    401: "缺少或无效的访问凭证",
    403: "权限不足",
    404: "资源不存在",
    405: "不支持该请求方法",
    409: "请求与现有数据冲突",
    410: "资源已失效",
    413: "请求内容过大",
    415: "不支持的内容类型",
    422: "请求内容无效",
    429: "请求过于频繁，请稍后再试",
    500: "服务器内部错误",
    503: "服务暂不可用",
}

# WeChat (mini-program login, QR codes) out of reach or not set up: a 503 with its reason.
NOT_CONFIGURED = "微信小程序服务未配置，暂不可用"
UNREACHABLE = "暂时无法连接微信服务，请稍后再试"
MISCONFIGURED = "微信小程序服务配置有误，暂不可用"
INVALID_JSON = "请求体不是有效的 JSON"
UNSTORABLE = "请求内容超出可存储的范围"
RETRY_SECONDS = "30"

# Infrastructure failures and what they mean to the client.
UNAVAILABLE_ERRORS = (redis_errors.ConnectionError, redis_errors.TimeoutError,
                      sqlalchemy.exc.OperationalError, sqlalchemy.exc.InterfaceError,
                      sqlalchemy.exc.TimeoutError)
UNSTORABLE_ERRORS = (sqlalchemy.exc.DataError, OverflowError)

DOMAIN_STATUS = {
    errors.InvalidInput: 422,
    errors.TemplateError: 422,
    errors.ImportFileError: 422,
    errors.NotFound: 404,
    errors.Conflict: 409,
    errors.Gone: 410,
    errors.Unauthorized: 401,
    errors.Forbidden: 403,
    errors.TooLarge: 413,
    errors.Unavailable: 503,
}


def error_body(status: int, message: str | None = None, field_errors=None) -> dict:
    """Return the contract's error body."""
    body = {"code": status, "message": message or STATUS_MESSAGES.get(status, "错误")}
    if field_errors:
        body["errors"] = field_errors
    return body


def wants_json() -> bool:
    """Tell whether the failing request should get JSON rather than a page."""
    return (request.path.startswith(("/api", "/console/api/"))
            or request.accept_mimetypes.best == "application/json")


def flatten_webargs(messages: dict) -> dict:
    """Drop webargs' location level ("json", "query") so errors map field names to messages."""
    if len(messages) == 1:
        (inner,) = messages.values()
        if isinstance(inner, dict):
            return inner
    return messages


def respond(status: int, message: str | None, field_errors=None, headers=None) -> Response:
    """Build a JSON or HTML error response."""
    if wants_json():
        response = jsonify(error_body(status, message, field_errors))
    else:
        text = message or STATUS_MESSAGES.get(status, "错误")
        response = Response(render_template("error.html", status=status, message=text))
    response.status_code = status
    for name, value in headers or []:
        if name.lower() != "content-type":
            response.headers[name] = value
    return response


def handle_http_exception(exc: HTTPException) -> Response:
    """Render any HTTP exception, including webargs validation errors."""
    status = exc.code or 500
    data = getattr(exc, "data", None) or {}
    field_errors = data.get("errors") or flatten_webargs(data.get("messages") or {})
    message = data.get("message")
    if message is None and status == 400:
        # webargs reports a body it cannot decode as {"json": ["Invalid JSON body."]}: the
        # body as a whole is at fault, not a field. Werkzeug's own descriptions are English.
        message = INVALID_JSON if "json" in field_errors else STATUS_MESSAGES[400]
        field_errors = {k: v for k, v in field_errors.items() if k != "json"}
    headers = exc.get_headers() + list((data.get("headers") or {}).items())
    return respond(status, message, field_errors, headers)


def handle_domain_error(exc: errors.DomainError) -> Response:
    """Map a domain exception to its status."""
    status = next((s for cls, s in DOMAIN_STATUS.items() if isinstance(exc, cls)), 400)
    response = respond(status, exc.message, exc.errors)
    extra = getattr(exc, "body", None)
    if extra and response.is_json:
        response.set_data(jsonify({**response.get_json(), **extra}).get_data())
    return response


def handle_unexpected(exc: Exception) -> Response:
    """Answer 503 for a service out of reach, 422 for a value no column holds, else 500."""
    if isinstance(exc, HTTPException):
        return handle_http_exception(exc)
    with contextlib.suppress(sqlalchemy.exc.SQLAlchemyError):  # a dead connection stays dead
        db.session.rollback()
    if isinstance(exc, UNAVAILABLE_ERRORS):
        log.warning("service unavailable on %s %s: %s", request.method, request.path, exc)
        return respond(503, errors.Unavailable.default_message,
                       headers=[("Retry-After", RETRY_SECONDS)])
    if isinstance(exc, UNSTORABLE_ERRORS):
        log.warning("value refused by the database on %s %s: %s", request.method, request.path,
                    exc)
        return respond(422, UNSTORABLE)
    log.exception("unhandled error on %s %s", request.method, request.path)
    return handle_http_exception(InternalServerError())


def init_app(app: Flask) -> None:
    """Register the error handlers (after flask-smorest so these win)."""
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(errors.DomainError, handle_domain_error)
    app.register_error_handler(Exception, handle_unexpected)


def unavailable(message: str, exc: Exception | None = None) -> ServiceUnavailable:
    """Build a 503 carrying a Chinese message (and Retry-After when WeChat gave one)."""
    error = ServiceUnavailable()
    retry_after = getattr(exc, "retry_after", None)
    headers = {"Retry-After": str(math.ceil(retry_after))} if retry_after else {}
    error.data = {"message": message, "headers": headers}
    return error


def wechat_unavailable(exc: IntegrationError) -> ServiceUnavailable:
    """Log a failed WeChat call and build the 503 that answers it."""
    if isinstance(exc, WeChatInvalidCredential):
        log.error("wechat refused our app credentials: %s", exc)
        return unavailable(MISCONFIGURED, exc)
    log.warning("wechat call failed: %s", exc)
    return unavailable(UNREACHABLE, exc)
