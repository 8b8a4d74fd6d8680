"""Assessment core client: Standard Webhooks signed POSTs over keep-alive connections.

`webhook-signature` carries one `v1,<base64>` per configured secret, space-separated, so during
a rotation the core verifies with either its old or its new secret. The signing timestamp is
the wall-clock time of the send (receivers refuse timestamps more than 5 minutes off).

Each sending thread keeps one persistent `http.client` connection (reopened when the core
closes it). The standard library is used rather than httpx because the relay is CPU-bound on
the client side: per POST it costs about half of what an httpx.Client does (measured with the
benchmark in tests/perf/bench_push.py), which is the difference between meeting and missing
the relay's target on a small machine.
"""

from __future__ import annotations

import http.client as http_client
import json
import re
import ssl
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from standardwebhooks.webhooks import Webhook

from .errors import retry_after_seconds

GONE = 410
RETRY_AFTER_STATUSES = frozenset({429, 503})
MAX_RESPONSE_TEXT = 200
Connection = http_client.HTTPConnection


@dataclass(frozen=True)
class SendResult:
    """What one POST came back with: status (None = no answer), Retry-After, error text."""

    status: int | None = None
    retry_after: float | None = None
    error: str | None = None
    sent: bool = True

    @property
    def ok(self) -> bool:
        """Tell whether the core accepted the message (any 2xx)."""
        return self.status is not None and 200 <= self.status < 300


SKIPPED = SendResult(error="未发送：接收端已停用", sent=False)


def parse_secrets(raw: str | Sequence[str] | None) -> list[str]:
    """Split ASSESSMENT_CORE_SECRET (one or two whsec_ secrets, comma or space separated)."""
    if not raw:
        return []
    parts = re.split(r"[\s,]+", raw) if isinstance(raw, str) else raw
    return [p.strip() for p in parts if p and p.strip()]


def encode_body(payload: Mapping[str, Any]) -> str:
    """Serialise a payload as compact UTF-8 JSON, the exact text that is signed and sent."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"))


def connection_factory(url: str, timeout: float) -> Callable[[], Connection]:
    """Return a function opening HTTP or HTTPS (certificate-checked) connections to url."""
    parts = urlsplit(url)
    if parts.scheme == "https":
        context = ssl.create_default_context()
        return lambda: http_client.HTTPSConnection(parts.hostname, parts.port,
                                                   timeout=timeout, context=context)
    return lambda: http_client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)


class WebhookSender:
    """Signs and POSTs webhooks to the assessment core, several at a time."""

    def __init__(self, url: str, secrets: Sequence[str],
                 http: Callable[[], Connection] | None = None, timeout: float = 15.0,
                 concurrency: int = 4,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        if not secrets:
            raise ValueError("至少需要一个 whsec_ 签名密钥")
        parts = urlsplit(url)
        self.url, self.timeout, self.clock = url, timeout, clock
        self._path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self._signers = [Webhook(s) for s in secrets]
        self._connect = http or connection_factory(url, timeout)
        self._local = threading.local()
        self._opened: list[Connection] = []
        self._lock = threading.Lock()
        self._concurrency = max(1, concurrency)
        self._pool: ThreadPoolExecutor | None = None

    def close(self) -> None:
        """Stop the sending threads and close every connection."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        with self._lock:
            for conn in self._opened:
                conn.close()
            self._opened.clear()

    def __enter__(self) -> WebhookSender:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def headers(self, msg_id: str, body: str) -> dict[str, str]:
        """Return the Standard Webhooks headers for body, signed now with every secret."""
        when = self.clock().astimezone(UTC)  # sign() drops the offset: hand it UTC
        signature = " ".join(s.sign(msg_id, when, body) for s in self._signers)
        return {"webhook-id": msg_id, "webhook-timestamp": str(int(when.timestamp())),
                "webhook-signature": signature, "content-type": "application/json",
                "user-agent": "suishiping-webhooks/1"}

    def send(self, msg_id: str, payload: Mapping[str, Any]) -> SendResult:
        """POST one message; network errors and timeouts come back as results, not raised."""
        body = encode_body(payload)
        conn, reused = self._connection()
        try:
            return self._post(conn, msg_id, body)
        except (http_client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
            if not reused:
                return SendResult(error="评估核心断开了连接")
        except TimeoutError:
            return SendResult(error=f"评估核心 {self.timeout:g} 秒内未响应（超时）")
        except (OSError, http_client.HTTPException) as exc:
            return SendResult(error=f"无法连接评估核心：{type(exc).__name__}")
        return self._retry_fresh(msg_id, body)

    def _retry_fresh(self, msg_id: str, body: str) -> SendResult:
        """Try once more on a new connection: the core closed an idle one under us."""
        self._local.used = False
        try:
            return self._post(self._connection()[0], msg_id, body)
        except TimeoutError:
            return SendResult(error=f"评估核心 {self.timeout:g} 秒内未响应（超时）")
        except (OSError, http_client.HTTPException) as exc:
            return SendResult(error=f"无法连接评估核心：{type(exc).__name__}")

    def _connection(self) -> tuple[Connection, bool]:
        """Return this thread's connection and whether it served a request before."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = self._connect()
            with self._lock:
                self._opened.append(conn)
        return conn, getattr(self._local, "used", False)

    def _post(self, conn: Connection, msg_id: str, body: str) -> SendResult:
        """Send on conn and read the whole answer (so the connection can be reused)."""
        try:
            conn.request("POST", self._path, body=body.encode("utf-8"),
                         headers=self.headers(msg_id, body))
            resp = conn.getresponse()
            content = resp.read()
        except BaseException:
            conn.close()  # the next request opens a new connection
            raise
        self._local.used = not resp.will_close
        if resp.will_close:
            conn.close()
        return result_of(resp.status, resp.headers, content)

    def send_many(self, messages: Sequence[tuple[str, Mapping[str, Any]]]) -> list[SendResult]:
        """Send messages concurrently; after a 410 the rest are skipped (SKIPPED)."""
        gone = threading.Event()

        def one(message: tuple[str, Mapping[str, Any]]) -> SendResult:
            if gone.is_set():
                return SKIPPED
            result = self.send(*message)
            if result.status == GONE:
                gone.set()
            return result

        if self._concurrency == 1 or len(messages) <= 1:
            return [one(m) for m in messages]
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self._concurrency, thread_name_prefix="webhooks")
        return list(self._pool.map(one, messages))


def result_of(status: int, headers: Mapping[str, str], content: bytes) -> SendResult:
    """Classify an answer: 2xx delivered; Retry-After kept on 429 and 503."""
    if 200 <= status < 300:
        return SendResult(status)
    retry_after = retry_after_seconds(headers) if status in RETRY_AFTER_STATUSES else None
    text = content[:MAX_RESPONSE_TEXT].decode("utf-8", "replace").strip() or "-"
    return SendResult(status, retry_after, f"评估核心返回 {status}：{text}")
