"""Domain exceptions: services raise these; the HTTP layer maps them in one place."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class DomainError(Exception):
    """Base of every error a service reports to its caller."""

    default_message = "请求无法完成"

    def __init__(self, message: str | None = None, errors: Mapping[str, Any] | None = None):
        self.message = message or self.default_message
        self.errors = dict(errors or {})
        super().__init__(self.message)


class InvalidInput(DomainError):
    """Content is well-formed but not acceptable (maps to 422)."""

    default_message = "请求内容无效"


class NotFound(DomainError):
    """The thing asked for does not exist or must not be revealed (404)."""

    default_message = "资源不存在"


class Conflict(DomainError):
    """The request conflicts with the current state (409)."""

    default_message = "请求与现有数据冲突"

    def __init__(self, message: str | None = None, errors=None, body: Mapping | None = None):
        super().__init__(message, errors)
        self.body = dict(body or {})


class Gone(DomainError):
    """The thing existed but is no longer usable (410)."""

    default_message = "资源已失效"

    def __init__(self, message: str | None = None, errors=None, body: Mapping | None = None):
        super().__init__(message, errors)
        self.body = dict(body or {})


class Unauthorized(DomainError):
    """No credential, or a credential that does not verify (401)."""

    default_message = "缺少或无效的访问凭证"


class Forbidden(DomainError):
    """A valid credential without the needed permission (403)."""

    default_message = "权限不足"


class TooLarge(DomainError):
    """The request carries more than allowed (413)."""

    default_message = "请求内容过大"


class Unavailable(DomainError):
    """A service the request depends on cannot be reached now (503)."""

    default_message = "服务暂不可用，请稍后再试"


class TemplateError(DomainError):
    """A survey template or scheme file is invalid: names file, path and reason."""

    def __init__(self, source: str, path: str, reason: str):
        self.source, self.path, self.reason = source, path, reason
        super().__init__(f"{source}: {path or '(root)'}: {reason}")


class ImportFileError(DomainError):
    """A roster file cannot be read at all (wrong format, missing columns)."""

    default_message = "文件无法读取"
