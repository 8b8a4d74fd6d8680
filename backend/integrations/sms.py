"""SMS gateway client: one POST per message, idempotent by the caller's ref.

Protocol: `POST <url>` `{"to": "13800138000", "content": "...", "ref": "<idempotency key>"}`
-> 200 `{"message_id": "...", "status": "accepted"}`; the same ref again returns the same
message_id without sending twice; 400 `{"error": ...}` for invalid input, 409 when a ref is
reused with different content, 429/503 with `Retry-After` when the gateway wants a pause.
"""

from __future__ import annotations

import logging

import httpx

from .errors import SmsError, retry_after_seconds

log = logging.getLogger(__name__)

RETRYABLE_STATUSES = frozenset({408, 425, 429})


class SmsClient:
    """Sends text messages through the SMS gateway."""

    def __init__(self, url: str, http: httpx.Client | None = None, timeout: float = 10.0):
        self._url = url
        self._owns_http = http is None
        self._http = http or httpx.Client()
        self._timeout = timeout

    def close(self) -> None:
        """Close the HTTP client if this object created it."""
        if self._owns_http:
            self._http.close()

    def send(self, phone: str, content: str, ref: str) -> str:
        """Send content to phone once per ref; return the gateway's message id."""
        payload = {"to": phone, "content": content, "ref": ref}
        try:
            resp = self._http.post(self._url, json=payload, timeout=self._timeout)
        except httpx.TimeoutException as exc:
            raise SmsError(f"SMS gateway timed out (ref {ref})", retryable=True) from exc
        except httpx.TransportError as exc:
            raise SmsError(f"SMS gateway unreachable: {type(exc).__name__}",
                           retryable=True) from exc
        _raise_for_status(resp)
        message_id = _body(resp).get("message_id")
        if not message_id:
            raise SmsError("SMS gateway answered without message_id", retryable=True,
                           status=resp.status_code)
        log.info("sms accepted (ref %s, message %s)", ref, message_id)
        return str(message_id)


def _body(resp: httpx.Response) -> dict:
    try:
        body = resp.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _raise_for_status(resp: httpx.Response) -> None:
    status = resp.status_code
    if status < 400:
        return
    reason = _body(resp).get("error") or resp.reason_phrase
    retryable = status >= 500 or status in RETRYABLE_STATUSES
    raise SmsError(f"SMS gateway answered {status}: {reason}", retryable=retryable,
                   retry_after=retry_after_seconds(resp.headers), status=status)
