"""A local stand-in for the assessment core: verify each pushed webhook and say what came.

`flask --app backend demo core` serves `create_receiver(...)` so that a newcomer sees the
platform's pushes arrive. Each POST is verified as the real core must verify it (Standard
Webhooks: `webhook-id`, `webhook-timestamp`, `webhook-signature` over id.timestamp.body with
the shared `whsec_` secret, timestamps within five minutes); a verified one is answered 200
and described in one line, anything else 401 with the reason. A repeated `webhook-id` is a
redelivery of the same content: answered 200 and named as such, as a receiver should.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from standardwebhooks.webhooks import Webhook, WebhookVerificationError
from werkzeug.wrappers import Request, Response

# The demo's shared secret ("whsec_" + base64 of "suishiping-demo-core-secret!"): fixed, so
# that the platform's settings survive a restart of either side. Never use it elsewhere.
DEMO_SECRET = "whsec_c3Vpc2hpcGluZy1kZW1vLWNvcmUtc2VjcmV0IQ=="  # noqa: S105
HEADLINES = {"composite": "综合得分", "recipient_index": "随时评指数"}


def check_secret(secret: str) -> str | None:
    """Return why a secret cannot sign webhooks, or None when it can."""
    if not secret.startswith("whsec_"):
        return "密钥应以 whsec_ 开头"
    try:
        Webhook(secret)
    except Exception:  # the library raises several kinds for bad base64 or emptiness
        return "whsec_ 之后应是 base64 编码的密钥"
    return None


def headline(score: Mapping[str, Any]) -> str:
    """Describe a Score's headline figure (or its composite when it carries no headline)."""
    head = score.get("headline") or {}
    if head.get("kind") in HEADLINES and head.get("score_100") is not None:
        return f"{HEADLINES[head['kind']]} {head['score_100']}"
    composite = score.get("composite") or {}
    if composite.get("status") == "ok" and composite.get("score_100") is not None:
        return f"综合得分 {composite['score_100']}"
    recipient = (score.get("groups") or {}).get("recipient") or {}
    if recipient.get("status") == "ok":
        return (f"综合得分样本不足，服务对象截尾均值 {recipient.get('trimmed_mean')}"
                f"（{recipient.get('n')} 条）")
    return f"样本不足（服务对象评价 {recipient.get('n', 0)} 条）"


def describe(body: Mapping[str, Any]) -> str:
    """Return one line in Chinese about a verified webhook's content."""
    kind, data = body.get("type"), body.get("data") or {}
    if kind == "score.published":
        flags = "、".join(data.get("flags") or []) or "无"
        return (f"score.published 干部 {data.get('cadre_code')} 期间 {data.get('period')} "
                f"{headline(data)} 标记 {flags}")
    if kind == "alert.raised":
        return (f"alert.raised 干部 {data.get('cadre_code', '-')} 期间 {data.get('period')} "
                f"类型 {data.get('type')}")
    if kind == "checkpoint":
        return f"checkpoint 日期 {data.get('date')} 已发布期间 {len(data.get('periods') or [])} 个"
    return f"{kind} {json.dumps(data, ensure_ascii=False)[:120]}"


def answer(status: int, body: Mapping[str, Any]) -> Response:
    """Return a JSON response."""
    return Response(json.dumps(body, ensure_ascii=False), status,
                    content_type="application/json; charset=utf-8")


class Receiver:
    """The receiving end: verifies, de-duplicates by webhook-id, and reports each delivery."""

    def __init__(self, secret: str, echo: Callable[[str], None] = print) -> None:
        self.webhook = Webhook(secret)
        self.echo = echo
        self.seen: set[str] = set()
        self.lock = threading.Lock()

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        """Serve one request (WSGI)."""
        return self.handle(Request(environ))(environ, start_response)

    def handle(self, request: Request) -> Response:
        """Verify a POSTed webhook and report it; refuse anything unsigned or altered."""
        if request.method != "POST":
            return answer(405, {"message": "请用 POST 推送 webhook"})
        msg_id = request.headers.get("webhook-id", "-")
        try:
            body = self.webhook.verify(request.get_data(), dict(request.headers))
        except (WebhookVerificationError, ValueError) as exc:
            self.echo(f"拒绝 webhook-id {msg_id}：签名校验失败（{exc}），已返回 401")
            return answer(401, {"message": "签名校验失败", "reason": str(exc)})
        with self.lock:
            repeated = msg_id in self.seen
            self.seen.add(msg_id)
        note = "（重复投递，已忽略）" if repeated else ""
        self.echo(f"已验证 {describe(body)} webhook-id {msg_id}{note}")
        return answer(200, {"status": "duplicate" if repeated else "accepted"})


def create_receiver(secret: str = DEMO_SECRET,
                    echo: Callable[[str], None] = print) -> Receiver:
    """Return the receiver's WSGI application."""
    return Receiver(secret, echo)
