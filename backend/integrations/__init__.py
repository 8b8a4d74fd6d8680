"""Thin clients of the outside services (WeChat, SMS gateway), with typed errors.

httpx logs every request URL at INFO, and WeChat puts `secret`, `js_code` and `access_token`
in query strings: call `mask_secrets_in_logs()` once at startup so they never reach logs.
"""

from __future__ import annotations

import logging
import re

from .cache import MemoryTokenCache, RedisTokenCache, TokenCache
from .errors import (
    IntegrationError,
    LockTimeout,
    SmsError,
    WeChatError,
    WeChatFieldInvalid,
    WeChatInvalidCode,
    WeChatInvalidCredential,
    WeChatInvalidPage,
    WeChatInvalidScene,
    WeChatNoCredit,
    WeChatRateLimited,
    WeChatUnavailable,
)
from .sms import SmsClient
from .wechat import MpSession, WeChatClient

__all__ = [
    "IntegrationError",
    "LockTimeout",
    "MemoryTokenCache",
    "MpSession",
    "RedisTokenCache",
    "SecretMaskingFilter",
    "SmsClient",
    "SmsError",
    "TokenCache",
    "WeChatClient",
    "WeChatError",
    "WeChatFieldInvalid",
    "WeChatInvalidCode",
    "WeChatInvalidCredential",
    "WeChatInvalidPage",
    "WeChatInvalidScene",
    "WeChatNoCredit",
    "WeChatRateLimited",
    "WeChatUnavailable",
    "mask_secrets_in_logs",
]

_SECRET_PARAMS = re.compile(r"\b(access_token|secret|js_code|session_key)=[^&\s\"']+")


class SecretMaskingFilter(logging.Filter):
    """Replace secret query parameters in a log record's message with ***."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record's message when it carries a secret; always keep the record."""
        message = record.getMessage()
        masked = _SECRET_PARAMS.sub(r"\1=***", message)
        if masked != message:
            record.msg, record.args = masked, None
        return True


def mask_secrets_in_logs(logger_names: tuple[str, ...] = ("httpx", "httpcore")) -> None:
    """Attach a SecretMaskingFilter to the loggers that print request URLs."""
    for name in logger_names:
        logger = logging.getLogger(name)
        if not any(isinstance(f, SecretMaskingFilter) for f in logger.filters):
            logger.addFilter(SecretMaskingFilter())
