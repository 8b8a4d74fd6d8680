"""WeChat mini-program server API: login, access token, mini-program codes, subscribe messages."""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

import httpx

from .cache import TokenCache
from .errors import (
    WeChatError,
    WeChatFieldInvalid,
    WeChatInvalidCode,
    WeChatInvalidCredential,
    WeChatInvalidPage,
    WeChatInvalidScene,
    WeChatRateLimited,
    WeChatUnavailable,
    retry_after_seconds,
    wechat_error,
)

log = logging.getLogger(__name__)

T = TypeVar("T")

API_BASE = "https://api.weixin.qq.com"
TOKEN_ERRCODES = frozenset({40001, 42001})
RENEW_MARGIN = 300  # WeChat hands out a new stable token in the last 5 minutes of the old one
SCENE_MAX = 32
SCENE_RE = re.compile(r"[0-9A-Za-z!#$&'()*+,/:;=?@\-._~]+")
STATES = ("formal", "trial", "developer")
ENV_VERSIONS = ("release", "trial", "develop")


@dataclass(frozen=True)
class MpSession:
    """What jscode2session returns; session_key is kept out of repr so it never reaches logs."""

    openid: str
    session_key: str = field(repr=False)
    unionid: str | None = None


def validate_scene(scene: str) -> None:
    """Raise WeChatInvalidScene unless WeChat would accept scene."""
    if not scene or len(scene) > SCENE_MAX:
        raise WeChatInvalidScene(40169, f"scene must be 1..{SCENE_MAX} characters")
    if not SCENE_RE.fullmatch(scene):
        raise WeChatInvalidScene(40129, "scene holds characters outside WeChat's allowed set")


# Subscribe-message fields: the rules WeChat applies by key prefix (thing1, time2, ...).
_CJK = r"[\u4e00-\u9fff]"
_CLOCK = r"\d{1,2}:\d{2}(:\d{2})?"
_DAY = r"\d{4}年\d{1,2}月\d{1,2}日"


def _span(one: str) -> re.Pattern[str]:
    return re.compile(rf"{one}(\s*~\s*{one})?")


FIELD_PATTERNS: Mapping[str, tuple[int, re.Pattern[str]]] = {
    "number": (32, re.compile(r"\d+(\.\d+)?")),
    "letter": (32, re.compile(r"[A-Za-z]+")),
    "symbol": (5, re.compile(r"[^\w\s]+")),
    "character_string": (32, re.compile(r"[\x21-\x7e]+")),
    "phone_number": (17, re.compile(r"[0-9+\-() ]+")),
    "car_number": (8, re.compile(rf"{_CJK}?[A-Za-z0-9]+{_CJK}?")),
    "amount": (20, re.compile(r"[¥$￥]?\d{1,12}(\.\d{1,2})?元?")),
    "time": (40, _span(rf"({_DAY} )?{_CLOCK}")),
    "date": (40, _span(rf"{_DAY}( {_CLOCK})?")),
    "phrase": (5, re.compile(rf"{_CJK}+")),
}


def format_date_time(moment: datetime) -> str:
    """Format moment the way `date` and `time` fields want it: 2026年11月21日 09:30."""
    return f"{moment.year}年{moment.month}月{moment.day}日 {moment:%H:%M}"


def fit_field(key: str, value: str) -> str:
    """Return value made valid for field key (truncating where WeChat allows), or raise."""
    kind = key.rstrip("0123456789")
    value = str(value).strip()
    if not value:
        raise WeChatFieldInvalid(47003, f"argument invalid! data.{key}.value is empty")
    if kind == "thing":
        return value if len(value) <= 20 else value[:19] + "…"
    if kind == "name":
        return value[: 20 if value.isascii() else 10]
    if kind == "phrase":
        value = value[:5]
    rule = FIELD_PATTERNS.get(kind)
    if rule and (len(value) > rule[0] or not rule[1].fullmatch(value)):
        raise WeChatFieldInvalid(47003, f"argument invalid! data.{key}.value invalid for {kind}")
    return value


def fit_subscribe_data(data: Mapping[str, str]) -> dict[str, dict[str, str]]:
    """Build the {"key": {"value": ...}} mapping with every value fitted to its rules."""
    return {key: {"value": fit_field(key, value)} for key, value in data.items()}


class WeChatClient:
    """Calls the WeChat server API, sharing one access token through the cache."""

    def __init__(self, base_url: str, appid: str, secret: str, cache: TokenCache,
                 http: httpx.Client | None = None, timeout: float = 10.0,
                 clock: Callable[[], float] = time.time):
        self._base_url = (base_url or API_BASE).rstrip("/")
        self._appid = appid
        self._secret = secret
        self._cache = cache
        self._owns_http = http is None
        self._http = http or httpx.Client()
        self._timeout = timeout
        self._clock = clock
        self._token_key = f"wechat:access_token:{appid}"

    def close(self) -> None:
        """Close the HTTP client if this object created it."""
        if self._owns_http:
            self._http.close()

    def access_token(self) -> str:
        """Return a valid access token; one caller fetches it while the others wait."""
        token = self._cached_token()
        if token is not None:
            return token
        with self._cache.lock(self._token_key, timeout=self._lock_timeout):
            return self._cached_token() or self._fetch_token(force_refresh=False)

    def code2session(self, code: str) -> MpSession:
        """Exchange a wx.login code for the user's openid and session key."""
        if not code:
            raise WeChatInvalidCode(40029, "invalid code: empty")
        params = {"appid": self._appid, "secret": self._secret, "js_code": code,
                  "grant_type": "authorization_code"}
        body = _json_body(self._send("GET", "/sns/jscode2session", params=params))
        return MpSession(body["openid"], body["session_key"], body.get("unionid"))

    def get_unlimited(self, scene: str, page: str, env_version: str = "release",
                      width: int = 430, check_path: bool = False) -> bytes:
        """Return the image bytes of a mini-program code opening page with scene.

        Every call costs quota and time: callers cache the image (it never changes for the
        same arguments).
        """
        validate_scene(scene)
        if page.startswith("/"):
            raise WeChatInvalidPage(41030, "invalid page: must not start with '/'")
        if env_version not in ENV_VERSIONS:
            raise ValueError(f"env_version must be one of {ENV_VERSIONS}")
        payload = {"scene": scene, "page": page, "check_path": check_path,
                   "env_version": env_version, "width": width}
        return self._with_token(
            lambda token: _image(self._post("/wxa/getwxacodeunlimit", token, payload)))

    def send_subscribe(self, touser: str, template_id: str, data: Mapping[str, str],
                       page: str | None = None, state: str = "formal",
                       lang: str = "zh_CN") -> int:
        """Send a subscribe message, fitting field values to WeChat's rules; return msgid."""
        if state not in STATES:
            raise ValueError(f"state must be one of {STATES}")
        payload: dict[str, Any] = {"touser": touser, "template_id": template_id,
                                   "miniprogram_state": state, "lang": lang,
                                   "data": fit_subscribe_data(data)}
        if page:
            payload["page"] = page
        body = self._with_token(lambda token: _json_body(
            self._post("/cgi-bin/message/subscribe/send", token, payload)))
        return body["msgid"]

    @property
    def _lock_timeout(self) -> float:
        return 2 * self._timeout + 1

    def _cached_token(self) -> str | None:
        raw = self._cache.get(self._token_key)
        if raw is None:
            return None
        try:
            item = json.loads(raw)
        except ValueError:
            return None
        return item["access_token"] if item.get("renew_at", 0) > self._clock() else None

    def _fetch_token(self, force_refresh: bool) -> str:
        payload = {"grant_type": "client_credential", "appid": self._appid,
                   "secret": self._secret, "force_refresh": force_refresh}
        body = _json_body(self._send("POST", "/cgi-bin/stable_token", json=payload))
        token, expires_in = body["access_token"], int(body["expires_in"])
        ttl = max(expires_in - RENEW_MARGIN, expires_in // 2)
        item = {"access_token": token, "renew_at": self._clock() + ttl}
        self._cache.set(self._token_key, json.dumps(item), ttl)
        log.info("wechat access token fetched (force_refresh=%s, expires_in=%s)",
                 force_refresh, expires_in)
        return token

    def _refresh_token(self, stale: str) -> str:
        with self._cache.lock(self._token_key, timeout=self._lock_timeout):
            current = self._cached_token()
            if current is not None and current != stale:
                return current  # another process refreshed it already
            return self._fetch_token(force_refresh=True)

    def _with_token(self, call: Callable[[str], T]) -> T:
        token = self.access_token()
        try:
            return call(token)
        except WeChatInvalidCredential as exc:
            if exc.errcode not in TOKEN_ERRCODES:
                raise
            log.warning("wechat refused the access token (%s); refreshing once", exc.errcode)
            return call(self._refresh_token(stale=token))

    def _post(self, path: str, token: str, payload: Mapping[str, Any]) -> httpx.Response:
        return self._send("POST", path, params={"access_token": token}, json=payload)

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            resp = self._http.request(method, self._base_url + path, timeout=self._timeout,
                                      **kwargs)
        except httpx.TimeoutException as exc:
            raise WeChatUnavailable(-1, f"timeout calling {path}") from exc
        except httpx.TransportError as exc:
            raise WeChatUnavailable(-1, f"{type(exc).__name__} calling {path}") from exc
        _raise_for_status(resp, path)
        return resp


def _raise_for_status(resp: httpx.Response, path: str) -> None:
    status = resp.status_code
    if status < 400:
        return
    retry_after = retry_after_seconds(resp.headers)
    message = f"HTTP {status} from {path}"
    if status == 429:
        raise WeChatRateLimited(-1, message, retry_after=retry_after)
    if status >= 500 or status == 408:
        raise WeChatUnavailable(-1, message, retry_after=retry_after)
    raise WeChatError(-1, message)


def _json_body(resp: httpx.Response) -> dict[str, Any]:
    try:
        body = resp.json()
    except ValueError as exc:
        raise WeChatUnavailable(-1, "response is not JSON") from exc
    if not isinstance(body, dict):
        raise WeChatUnavailable(-1, "response is not a JSON object")
    if body.get("errcode"):
        raise wechat_error(int(body["errcode"]), str(body.get("errmsg", "")))
    return body


def _image(resp: httpx.Response) -> bytes:
    content_type = resp.headers.get("content-type", "")
    if "json" in content_type or resp.content[:1] == b"{":
        _json_body(resp)
        raise WeChatError(-1, "expected an image, got JSON without errcode")
    if not content_type.startswith("image/"):
        raise WeChatUnavailable(-1, f"expected an image, got {content_type or 'no type'}")
    return resp.content
