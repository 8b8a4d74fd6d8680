"""Typed errors of the outside services; `retryable` tells a job whether to try again."""

from __future__ import annotations

import email.utils
import time
from collections.abc import Callable, Mapping


class IntegrationError(Exception):
    """Base of every error an integration client raises."""

    retryable: bool = False

    def __init__(self, message: str, *, retryable: bool | None = None,
                 retry_after: float | None = None):
        super().__init__(message)
        self.message = message
        if retryable is not None:
            self.retryable = retryable
        self.retry_after = retry_after


class LockTimeout(IntegrationError):
    """The token cache lock could not be taken in time."""

    retryable = True


class WeChatError(IntegrationError):
    """WeChat answered with a non-zero errcode (or could not be reached: errcode -1)."""

    def __init__(self, errcode: int, errmsg: str, *, retryable: bool | None = None,
                 retry_after: float | None = None):
        super().__init__(f"{errcode}: {errmsg}", retryable=retryable, retry_after=retry_after)
        self.errcode = errcode
        self.errmsg = errmsg


class WeChatUnavailable(WeChatError):
    """WeChat is busy (-1), answered 5xx, timed out or could not be reached."""

    retryable = True


class WeChatRateLimited(WeChatError):
    """A frequency or quota limit was hit (45009, 45011); try again later."""

    retryable = True


class WeChatInvalidCredential(WeChatError):
    """The access token, appid or secret was refused (40001, 42001, 40013, 40125...)."""


class WeChatInvalidCode(WeChatError):
    """The wx.login code is unknown, expired or already used (40029, 40163)."""


class WeChatInvalidPage(WeChatError):
    """The mini-program page does not exist or is malformed (41030)."""


class WeChatInvalidScene(WeChatError):
    """The scene is too long (40169) or holds characters WeChat refuses (40129)."""


class WeChatNoCredit(WeChatError):
    """The user holds no subscription credit for this template (43101)."""


class WeChatFieldInvalid(WeChatError):
    """A subscribe-message field value breaks its type's rules (47003)."""


class SmsError(IntegrationError):
    """The SMS gateway refused or failed a message."""

    def __init__(self, message: str, retryable: bool, retry_after: float | None = None,
                 status: int | None = None):
        super().__init__(message, retryable=retryable, retry_after=retry_after)
        self.status = status


WECHAT_ERRORS: Mapping[int, type[WeChatError]] = {
    -1: WeChatUnavailable,
    40001: WeChatInvalidCredential,
    40013: WeChatInvalidCredential,
    40125: WeChatInvalidCredential,
    41001: WeChatInvalidCredential,
    42001: WeChatInvalidCredential,
    40029: WeChatInvalidCode,
    40163: WeChatInvalidCode,
    41030: WeChatInvalidPage,
    40129: WeChatInvalidScene,
    40169: WeChatInvalidScene,
    43101: WeChatNoCredit,
    47003: WeChatFieldInvalid,
    45009: WeChatRateLimited,
    45011: WeChatRateLimited,
}


def wechat_error(errcode: int, errmsg: str) -> WeChatError:
    """Build the typed error for a WeChat errcode."""
    return WECHAT_ERRORS.get(errcode, WeChatError)(errcode, errmsg)


def retry_after_seconds(headers: Mapping[str, str],
                        clock: Callable[[], float] = time.time) -> float | None:
    """Read a Retry-After header (seconds or HTTP date) as seconds from now."""
    value = headers.get("retry-after") or headers.get("Retry-After")
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - clock())
