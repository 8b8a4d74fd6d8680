"""A fake SMS gateway speaking the platform's plain protocol (see backend/integrations/sms.py).

`POST /send` `{"to", "content", "ref"}` -> 200 `{"message_id", "status": "accepted"}`;
the same ref with the same content -> the same message_id, sent once; the same ref with other
content -> 409; invalid phone, empty or overlong content, missing ref -> 400 `{"error"}`.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping
from typing import Any

from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from .server import FakeService, Fault, json_response

PHONE_RE = re.compile(r"(\+?86)?1[3-9]\d{9}")
MAX_CONTENT = 500
MAX_REF = 128


class FakeSmsGateway(FakeService):
    """Accepts text messages and records them in `messages`."""

    url_map = Map([Rule("/send", endpoint="send", methods=["POST"])])

    def __init__(self) -> None:
        super().__init__()
        self.messages: list[dict[str, str]] = []
        self._by_ref: dict[str, dict[str, str]] = {}
        self._ids = itertools.count(1)

    @property
    def send_url(self) -> str:
        """Return the URL to configure as SMS_GATEWAY_URL."""
        return self.base_url + "/send"

    def messages_to(self, phone: str) -> list[dict[str, str]]:
        """Return the messages sent to phone, oldest first."""
        with self.lock:
            return [m for m in self.messages if m["to"] == phone]

    def fail_next(self, endpoint_name: str = "send", count: int = 1,
                  http_status: int | None = None, delay: float | None = None,
                  headers: Mapping[str, str] | None = None,
                  retry_after: int | None = None) -> None:
        """Script the next count requests to answer http_status (after delay)."""
        headers = dict(headers or {})
        if retry_after is not None:
            headers["Retry-After"] = str(retry_after)
        self.faults.add(endpoint_name, Fault(None, http_status, delay, headers), count)

    def fault_response(self, fault: Fault, request: Request) -> Response:
        """Answer an injected status with the gateway's error body."""
        status = fault.http_status or 500
        return json_response({"error": f"injected {status}"}, status, fault.headers)

    def on_send(self, request: Request) -> Response:
        """Accept one message, once per ref."""
        body = request.get_json(force=True, silent=True)
        problem = _problem(body)
        if problem:
            return json_response({"error": problem}, 400)
        with self.lock:
            known = self._by_ref.get(body["ref"])
            if known is not None:
                if (known["to"], known["content"]) != (body["to"], body["content"]):
                    return json_response({"error": "ref already used for another message"}, 409)
                return json_response({"message_id": known["message_id"], "status": "accepted"})
            message = {"message_id": f"sms-{next(self._ids):06d}", "to": body["to"],
                       "content": body["content"], "ref": body["ref"]}
            self._by_ref[body["ref"]] = message
            self.messages.append(message)
        return json_response({"message_id": message["message_id"], "status": "accepted"})


def _problem(body: Any) -> str | None:
    if not isinstance(body, dict):
        return "body must be a JSON object"
    if not isinstance(body.get("to"), str) or not PHONE_RE.fullmatch(body["to"]):
        return "invalid phone number"
    content = body.get("content")
    if not isinstance(content, str) or not content.strip():
        return "content is empty"
    if len(content) > MAX_CONTENT:
        return f"content longer than {MAX_CONTENT} characters"
    ref = body.get("ref")
    if not isinstance(ref, str) or not 0 < len(ref) <= MAX_REF:
        return "ref is required (1..128 characters)"
    return None
