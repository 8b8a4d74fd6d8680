"""A fake of the WeChat server API, faithful to its documented behaviour, errors included.

JSON errors come back as HTTP 200 with {"errcode", "errmsg"}; errmsg carries a " rid: ..."
suffix like the real service, so clients must match on errcode only. Mini-program codes are
JPEG images served as `image/jpeg`, as WeChat does.
"""

from __future__ import annotations

import hashlib
import io
import re
import secrets
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from PIL import Image, ImageDraw
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from .server import FakeService, Fault, json_response

ERRMSGS = {
    -1: "system error",
    40001: "invalid credential, access_token is invalid or not latest",
    40002: "invalid grant_type",
    40003: "invalid openid",
    40013: "invalid appid",
    40029: "invalid code",
    40037: "invalid template_id",
    40097: "invalid args",
    40125: "invalid appsecret",
    40129: "invalid scene",
    40163: "code been used",
    40169: "invalid length for scene, or the data is not json string",
    41001: "access_token missing",
    41008: "missing code",
    41030: "invalid page",
    42001: "access_token expired",
    43101: "user refuse to accept the msg",
    45009: "reach max api daily quota limit",
    45011: "api minute-quota reach limit  mustslower  retry next minute",
    47001: "data format error",
    47003: "argument invalid!",
}
TOKEN_LIFETIME = 7200
RENEW_WINDOW = 300  # normal mode hands out a new token in the old one's last 5 minutes
FORCE_INTERVAL = 30
FORCE_PER_DAY = 20
CODE_LIFETIME = 300
SCENE_RE = re.compile(r"[0-9A-Za-z!#$&'()*+,/:;=?@\-._~]{1,32}")
ENV_VERSIONS = ("release", "trial", "develop")
STATES = ("developer", "trial", "formal")

_CJK = r"[\u4e00-\u9fff]"
_CLOCK = r"\d{1,2}:\d{2}(:\d{2})?"
_DAY = r"\d{4}年\d{1,2}月\d{1,2}日"
FIELD_RULES: dict[str, tuple[int, str]] = {
    "thing": (20, r".+"),
    "number": (32, r"\d+(\.\d+)?"),
    "letter": (32, r"[A-Za-z]+"),
    "symbol": (5, r"[^\w\s]+"),
    "character_string": (32, r"[\x21-\x7e]+"),
    "phone_number": (17, r"[0-9+\-() ]+"),
    "car_number": (8, rf"{_CJK}?[A-Za-z0-9]+{_CJK}?"),
    "name": (20, rf"{_CJK}{{1,10}}|[A-Za-z .·\-]{{1,20}}"),
    "phrase": (5, rf"{_CJK}+"),
    "amount": (20, r"[¥$￥]?\d{1,12}(\.\d{1,2})?元?"),
    "time": (40, rf"(({_DAY} )?{_CLOCK})(\s*~\s*({_DAY} )?{_CLOCK})?"),
    "date": (40, rf"({_DAY}( {_CLOCK})?)(\s*~\s*{_DAY}( {_CLOCK})?)?"),
}


class WxError(Exception):
    """An errcode the fake answers with."""

    def __init__(self, errcode: int, detail: str = ""):
        super().__init__(errcode)
        self.errcode = errcode
        self.errmsg = f"{ERRMSGS.get(errcode, 'error')}{detail}"


@dataclass
class _Token:
    value: str
    expires_at: float
    revoked: bool = False


@dataclass
class _LoginCode:
    openid: str
    unionid: str | None
    issued_at: float
    used: bool = False


def field_error(key: str, value: Any) -> str | None:
    """Return why WeChat would refuse value for data key, or None when it is fine."""
    if not isinstance(value, str) or not value:
        return f" data.{key}.value is empty"
    rule = FIELD_RULES.get(key.rstrip("0123456789"))
    if rule is None:
        return None
    limit, pattern = rule
    if len(value) > limit:
        return f" data.{key}.value exceeds limit {limit}"
    if not re.fullmatch(pattern, value):
        return f" data.{key}.value invalid"
    return None


def code_image(scene: str, width: int) -> bytes:
    """Draw a JPEG standing in for a mini-program code: a pattern from scene, and scene."""
    size = max(280, min(1280, int(width)))
    image = Image.new("RGB", (size, size), "white")
    draw = ImageDraw.Draw(image)
    bits = int.from_bytes(hashlib.sha256(scene.encode()).digest(), "big")
    cell = size // 20
    for i in range(256):
        if bits >> i & 1:
            x, y = (2 + i % 16) * cell, (2 + i // 16) * cell
            draw.rectangle((x, y, x + cell - 1, y + cell - 1), fill="black")
    draw.text((2 * cell, 18 * cell + 2), scene, fill="black")
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85)
    return out.getvalue()


class FakeWeChat(FakeService):
    """Login codes, stable tokens, mini-program codes and subscribe messages of one app."""

    url_map = Map([
        Rule("/sns/jscode2session", endpoint="jscode2session", methods=["GET"]),
        Rule("/cgi-bin/stable_token", endpoint="stable_token", methods=["POST"]),
        Rule("/wxa/getwxacodeunlimit", endpoint="getwxacodeunlimit", methods=["POST"]),
        Rule("/cgi-bin/message/subscribe/send", endpoint="subscribe_send", methods=["POST"]),
    ])

    def __init__(self, appid: str = "wx0123456789abcdef", secret: str = "s" * 32,
                 known_pages: Iterable[str] = ("pages/index/index", "pages/rate/index"),
                 clock: Callable[[], float] = time.time):
        super().__init__()
        self.appid, self.secret, self.clock = appid, secret, clock
        self.known_pages = set(known_pages)
        self.sent: list[dict[str, Any]] = []
        self.codes: list[dict[str, Any]] = []
        self.templates: dict[str, set[str]] = {}
        self._logins: dict[str, _LoginCode] = {}
        self._tokens: dict[str, _Token] = {}
        self._current: _Token | None = None
        self._forced_at: list[float] = []
        self._credits: Counter[tuple[str, str]] = Counter()
        self._users: set[str] = set()

    # -- helpers for tests -------------------------------------------------------------
    @property
    def token_calls(self) -> int:
        """Return how many times /cgi-bin/stable_token was called."""
        return self.calls["stable_token"]

    def issue_login_code(self, openid: str, unionid: str | None = None) -> str:
        """Return a fresh wx.login code for openid (single use, valid five minutes)."""
        code = secrets.token_urlsafe(24)
        with self.lock:
            self._users.add(openid)
            self._logins[code] = _LoginCode(openid, unionid, self.clock())
        return code

    def grant_credit(self, openid: str, template_id: str, n: int = 1) -> None:
        """Record that openid accepted n subscribe messages of template_id."""
        with self.lock:
            self._users.add(openid)
            self._credits[(openid, template_id)] += n

    def credits(self, openid: str, template_id: str) -> int:
        """Return the subscription credits openid has left for template_id."""
        with self.lock:
            return self._credits[(openid, template_id)]

    def register_template(self, template_id: str, keys: Iterable[str]) -> None:
        """Declare a template; once any is declared, unknown template ids are refused."""
        with self.lock:
            self.templates[template_id] = set(keys)

    def expire_access_tokens(self) -> None:
        """Make every issued token expired (API calls then answer 42001)."""
        with self.lock:
            for token in self._tokens.values():
                token.expires_at = min(token.expires_at, self.clock())

    def revoke_access_tokens(self) -> None:
        """Make every issued token invalid (API calls then answer 40001)."""
        with self.lock:
            for token in self._tokens.values():
                token.revoked = True

    def fail_next(self, endpoint_name: str, count: int = 1, errcode: int | None = None,
                  http_status: int | None = None, delay: float | None = None,
                  headers: dict[str, str] | None = None) -> None:
        """Script the next count calls of endpoint_name ("*" for any) to misbehave."""
        self.faults.add(endpoint_name, Fault(errcode, http_status, delay, headers or {}), count)

    # -- plumbing ----------------------------------------------------------------------
    def dispatch(self, endpoint: str, request: Request, args: dict[str, Any]) -> Response:
        """Turn WxError into WeChat's JSON error body."""
        try:
            return super().dispatch(endpoint, request, args)
        except WxError as exc:
            return self.error(exc.errcode, exc.errmsg)

    def fault_response(self, fault: Fault, request: Request) -> Response:
        """Answer an injected errcode as WeChat does, or a bare HTTP error page."""
        if fault.errcode is not None:
            return self.error(fault.errcode, ERRMSGS.get(fault.errcode, "error"),
                              fault.http_status or 200, fault.headers)
        status = fault.http_status or 500
        return Response(f"<html><body>{status}</body></html>", status=status,
                        headers=dict(fault.headers), content_type="text/html")

    @staticmethod
    def error(errcode: int, errmsg: str, status: int = 200,
              headers: dict[str, str] | None = None) -> Response:
        """Build WeChat's error body: {"errcode", "errmsg": "... rid: ..."}."""
        rid = "-".join(secrets.token_hex(4) for _ in range(3))
        response = json_response({"errcode": errcode, "errmsg": f"{errmsg} rid: {rid}"},
                                 status, headers)
        response.content_type = "application/json; encoding=utf-8"
        return response

    def _json_body(self, request: Request, errcode: int = 47001) -> dict[str, Any]:
        body = request.get_json(force=True, silent=True)
        if not isinstance(body, dict):
            raise WxError(errcode)
        return body

    def _check_app(self, appid: str | None, secret: str | None) -> None:
        if appid != self.appid:
            raise WxError(40013)
        if secret != self.secret:
            raise WxError(40125)

    def _check_token(self, request: Request) -> None:
        value = request.args.get("access_token")
        if not value:
            raise WxError(41001)
        with self.lock:
            token = self._tokens.get(value)
            if token is None or token.revoked:
                raise WxError(40001)
            if token.expires_at <= self.clock():
                raise WxError(42001)

    # -- endpoints ---------------------------------------------------------------------
    def on_jscode2session(self, request: Request) -> Response:
        """Exchange a login code for openid and session_key."""
        args = request.args
        self._check_app(args.get("appid"), args.get("secret"))
        if args.get("grant_type") != "authorization_code":
            raise WxError(40002)
        if not args.get("js_code"):
            raise WxError(41008)
        login = self._use_login_code(args["js_code"])
        body = {"openid": login.openid, "session_key": secrets.token_urlsafe(18)}
        if login.unionid:
            body["unionid"] = login.unionid
        return json_response(body)

    def _use_login_code(self, code: str) -> _LoginCode:
        with self.lock:
            login = self._logins.get(code)
            if login is None or self.clock() - login.issued_at > CODE_LIFETIME:
                raise WxError(40029)
            if login.used:
                raise WxError(40163)
            login.used = True
            return login

    def on_stable_token(self, request: Request) -> Response:
        """Hand out the app's stable access token (a new one on force_refresh)."""
        body = self._json_body(request)
        if body.get("grant_type") != "client_credential":
            raise WxError(40002)
        self._check_app(body.get("appid"), body.get("secret"))
        with self.lock:
            token = self._forced() if body.get("force_refresh") is True else self._normal()
            expires_in = int(token.expires_at - self.clock())
        return json_response({"access_token": token.value, "expires_in": expires_in})

    def _normal(self) -> _Token:
        current, now = self._current, self.clock()
        if current is None or current.revoked or current.expires_at - now <= RENEW_WINDOW:
            return self._new_token()
        return current

    def _forced(self) -> _Token:
        now, current = self.clock(), self._current
        if self._forced_at and now - self._forced_at[-1] < FORCE_INTERVAL and current:
            return current  # WeChat ignores force refreshes less than 30 s apart
        self._forced_at = [t for t in self._forced_at if now - t < 86400] + [now]
        if len(self._forced_at) > FORCE_PER_DAY:
            raise WxError(45009)
        if current is not None:
            current.revoked = True
        return self._new_token()

    def _new_token(self) -> _Token:
        token = _Token(secrets.token_urlsafe(48), self.clock() + TOKEN_LIFETIME)
        self._tokens[token.value] = token
        self._current = token
        return token

    def on_getwxacodeunlimit(self, request: Request) -> Response:
        """Draw the mini-program code for a scene and page."""
        self._check_token(request)
        body = self._json_body(request, errcode=40169)
        scene = body.get("scene")
        if not isinstance(scene, str) or not 0 < len(scene) <= 32:
            raise WxError(40169)
        if not SCENE_RE.fullmatch(scene):
            raise WxError(40129)
        self._check_page(str(body.get("page") or ""), body.get("check_path", True) is not False)
        if body.get("env_version", "release") not in ENV_VERSIONS:
            raise WxError(40097)
        image = code_image(scene, body.get("width") or 430)
        with self.lock:
            self.codes.append({k: body.get(k) for k in
                               ("scene", "page", "check_path", "env_version", "width")})
        return Response(image, content_type="image/jpeg")

    def _check_page(self, page: str, check_path: bool) -> None:
        if page.startswith("/") or (check_path and page and page not in self.known_pages):
            raise WxError(41030)

    def on_subscribe_send(self, request: Request) -> Response:
        """Deliver a subscribe message when the user holds a credit for the template."""
        self._check_token(request)
        body = self._json_body(request)
        touser, template_id = body.get("touser"), body.get("template_id")
        self._check_recipient(touser, template_id)
        if body.get("miniprogram_state", "formal") not in STATES:
            raise WxError(40097)
        data = self._check_data(template_id, body.get("data"))
        with self.lock:
            if self._credits[(touser, template_id)] <= 0:
                raise WxError(43101)
            self._credits[(touser, template_id)] -= 1
            msgid = 3000000000 + len(self.sent) + 1
            self.sent.append({"msgid": msgid, "touser": touser, "template_id": template_id,
                              "page": body.get("page"), "lang": body.get("lang", "zh_CN"),
                              "state": body.get("miniprogram_state", "formal"), "data": data})
        return json_response({"errcode": 0, "errmsg": "ok", "msgid": msgid})

    def _check_recipient(self, touser: Any, template_id: Any) -> None:
        with self.lock:
            if touser not in self._users:
                raise WxError(40003)
            if self.templates and template_id not in self.templates:
                raise WxError(40037)

    def _check_data(self, template_id: str, data: Any) -> dict[str, str]:
        if not isinstance(data, dict):
            raise WxError(47003, " data is not an object")
        values = {k: v.get("value") if isinstance(v, dict) else None for k, v in data.items()}
        for key in sorted(self.templates.get(template_id, set()) | set(values)):
            problem = field_error(key, values.get(key))
            if problem:
                raise WxError(47003, problem)
        return values
