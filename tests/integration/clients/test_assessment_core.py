"""The fake assessment core: verifies Standard Webhooks signatures and scripts failures."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import httpx
import pytest
from standardwebhooks.webhooks import Webhook

BODY = json.dumps({"type": "score.published", "timestamp": "2026-12-01T00:00:00+08:00",
                   "data": {"cadre_code": "C001", "period": "2026-Q4"}}, ensure_ascii=False)


def signed(secret: str, msg_id: str = "msg_1", body: str = BODY) -> dict[str, str]:
    now = datetime.now(UTC)
    return {"webhook-id": msg_id, "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": Webhook(secret).sign(msg_id, now, body),
            "content-type": "application/json"}


def post(http: httpx.Client, core, headers: dict[str, str], body: str = BODY) -> httpx.Response:
    return http.post(core.webhook_url, content=body.encode(), headers=headers)


def test_correctly_signed_webhook_is_accepted_and_recorded(core, http):
    answer = post(http, core, signed(core.secret))
    assert answer.status_code == 200
    delivery = core.deliveries[-1]
    assert (delivery.id, delivery.type, delivery.path) == ("msg_1", "score.published",
                                                           "/webhooks")
    assert delivery.body["data"]["cadre_code"] == "C001"


def test_tampered_webhook_is_refused_with_401(core, http):
    tampered = BODY.replace("C001", "C002")
    answer = post(http, core, signed(core.secret), body=tampered)
    assert answer.status_code == 401
    assert core.deliveries == [] and core.rejected == 1


def test_webhook_signed_with_another_secret_is_refused(core, http):
    other = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    assert post(http, core, signed(other)).status_code == 401


def test_duplicate_deliveries_are_recorded_and_counted_once(core, http):
    for _ in range(2):
        post(http, core, signed(core.secret, "msg_1"))
    post(http, core, signed(core.secret, "msg_2"))
    assert len(core.deliveries) == 3 and core.distinct_ids() == ["msg_1", "msg_2"]
    assert core.deliveries[1].duplicate


def test_scripted_429_carries_retry_after_then_deliveries_resume(core, http):
    core.fail_next(count=1, http_status=429, retry_after=120)
    refused = post(http, core, signed(core.secret))
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "120"
    assert post(http, core, signed(core.secret)).status_code == 200
    assert core.attempts == 2 and len(core.deliveries) == 1


def test_core_that_is_down_answers_503_until_it_comes_back(core, http):
    core.go_down(retry_after=5)
    answer = post(http, core, signed(core.secret))
    assert answer.status_code == 503 and answer.headers["Retry-After"] == "5"
    core.come_back()
    assert post(http, core, signed(core.secret)).status_code == 200


def test_core_that_refuses_connections_comes_back_on_the_same_port(core, http):
    post(http, core, signed(core.secret, "msg_1"))  # leaves a keep-alive connection open
    url = core.webhook_url
    core.go_down(refuse=True)
    with pytest.raises(httpx.TransportError):
        post(http, core, signed(core.secret, "msg_2"))
    core.come_back()
    assert core.webhook_url == url
    assert post(http, core, signed(core.secret, "msg_2")).status_code == 200
    assert core.wait_for(distinct=2, timeout=1)
