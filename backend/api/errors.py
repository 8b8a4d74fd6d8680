"""One JSON error shape for everything under /api; plain Chinese pages elsewhere."""

from __future__ import annotations

import logging

from flask import Flask, Response, jsonify, render_template, request
from werkzeug.exceptions import HTTPException, InternalServerError

from backend import errors

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

INVALID_JSON = "请求体不是有效的 JSON"

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
    return request.path.startswith("/api") or request.accept_mimetypes.best == "application/json"


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
    """Log the failure and answer 500 without a stack trace."""
    if isinstance(exc, HTTPException):
        return handle_http_exception(exc)
    log.exception("unhandled error on %s %s", request.method, request.path)
    return handle_http_exception(InternalServerError())


def init_app(app: Flask) -> None:
    """Register the error handlers (after flask-smorest so these win)."""
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(errors.DomainError, handle_domain_error)
    app.register_error_handler(Exception, handle_unexpected)
