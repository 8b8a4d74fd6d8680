"""A fake assessment core receiving Standard Webhooks (score.published, alert.raised, ...).

Every verified delivery is recorded, duplicates included (`distinct_ids()` drops them); a bad
or missing signature answers 401. Faults are scripted with `fail_next`; `go_down()` answers
503 to everything, `go_down(refuse=True)` closes the port until `come_back()`.
"""

from __future__ import annotations

import base64
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from standardwebhooks.webhooks import Webhook, WebhookVerificationError
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from .server import FakeService, Fault, json_response


def new_secret() -> str:
    """Return a fresh whsec_ secret."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


def sign_headers(secret: str, msg_id: str, body: str,
                 timestamp: datetime | None = None) -> dict[str, str]:
    """Return the Standard Webhooks headers for body, as a sender would set them."""
    when = timestamp or datetime.now(UTC)
    return {"webhook-id": msg_id, "webhook-timestamp": str(int(when.timestamp())),
            "webhook-signature": Webhook(secret).sign(msg_id, when.astimezone(UTC), body)}


@dataclass
class Delivery:
    """One verified webhook as received."""

    id: str
    type: str | None
    body: Any
    headers: dict[str, str]
    path: str
    received_at: float = field(default_factory=time.time)
    duplicate: bool = False


class FakeAssessmentCore(FakeService):
    """Verifies and records webhooks posted to any path."""

    url_map = Map([
        Rule("/", endpoint="receive", methods=["POST"], defaults={"path": ""}),
        Rule("/<path:path>", endpoint="receive", methods=["POST"]),
    ])

    def __init__(self, secret: str | None = None):
        super().__init__()
        self.secret = secret or new_secret()
        self.deliveries: list[Delivery] = []
        self.rejected = 0
        self._webhook = Webhook(self.secret)
        self._down_retry_after: int | None = None
        self._down = False
        self._arrived = threading.Condition(self.lock)

    @property
    def webhook_url(self) -> str:
        """Return the URL to configure as ASSESSMENT_CORE_URL."""
        return self.base_url + "/webhooks"

    @property
    def attempts(self) -> int:
        """Return how many requests arrived, faulted and refused ones included."""
        return self.calls["receive"]

    def distinct_ids(self) -> list[str]:
        """Return the webhook ids received, each once, in order of first arrival."""
        with self.lock:
            return list(dict.fromkeys(d.id for d in self.deliveries))

    def of_type(self, event_type: str) -> list[Delivery]:
        """Return the deliveries whose body type is event_type."""
        with self.lock:
            return [d for d in self.deliveries if d.type == event_type]

    def wait_for(self, distinct: int, timeout: float = 5.0) -> bool:
        """Wait until distinct different ids arrived; tell whether they did."""
        with self._arrived:
            return self._arrived.wait_for(lambda: len(self.distinct_ids()) >= distinct, timeout)

    def fail_next(self, count: int = 1, http_status: int | None = 500,
                  retry_after: int | None = None, delay: float | None = None) -> None:
        """Script the next count requests to answer http_status (500, 429, 503, 410...)."""
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
        self.faults.add("receive", Fault(None, http_status, delay, headers), count)

    def go_down(self, refuse: bool = False, retry_after: int | None = None) -> None:
        """Answer 503 to everything, or with refuse=True stop listening altogether."""
        with self.lock:
            self._down, self._down_retry_after = True, retry_after
        if refuse:
            self.stop()

    def come_back(self) -> None:
        """Accept deliveries again (listening on the same port)."""
        with self.lock:
            self._down = False
        self.start()

    def fault_response(self, fault: Fault, request: Request) -> Response:
        """Answer an injected status."""
        status = fault.http_status or 500
        return json_response({"error": f"injected {status}"}, status, fault.headers)

    def on_receive(self, request: Request, path: str) -> Response:
        """Verify the signature and record the delivery."""
        with self.lock:
            if self._down:
                return self._unavailable()
        raw = request.get_data()
        try:
            body = self._webhook.verify(raw, dict(request.headers))
        except (WebhookVerificationError, ValueError) as exc:
            with self.lock:
                self.rejected += 1
            return json_response({"error": f"bad signature: {exc}"}, 401)
        return self._record(request, path, body)

    def _unavailable(self) -> Response:
        headers = {}
        if self._down_retry_after is not None:
            headers["Retry-After"] = str(self._down_retry_after)
        return json_response({"error": "down for maintenance"}, 503, headers)

    def _record(self, request: Request, path: str, body: Any) -> Response:
        msg_id = request.headers["webhook-id"]
        with self._arrived:
            duplicate = msg_id in {d.id for d in self.deliveries}
            event_type = body.get("type") if isinstance(body, dict) else None
            self.deliveries.append(Delivery(msg_id, event_type, body, dict(request.headers),
                                            "/" + path, duplicate=duplicate))
            self._arrived.notify_all()
        return json_response({"status": "duplicate" if duplicate else "accepted"})
