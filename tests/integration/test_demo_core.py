"""The demo's assessment core (`flask --app backend demo core`): verifies and prints pushes."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import select

from backend.integrations.assessment_core import WebhookSender, encode_body
from backend.integrations.demo_core import DEMO_SECRET, check_secret, create_receiver, describe
from backend.models import WebhookMessage
from backend.services.demo.seed import seed
from tests.fakes.assessment_core import new_secret
from tests.fakes.server import FakeServer
from workers.jobs.scores import run_publication
from workers.queues import job_queue

SCORE = {"type": "score.published", "timestamp": "2026-12-01T01:30:00+08:00",
         "data": {"cadre_code": "C001", "period": "2026-11", "flags": ["low_sample"],
                  "composite": {"status": "insufficient"},
                  "headline": {"kind": "recipient_index", "score_100": 86.5},
                  "groups": {"recipient": {"status": "ok", "n": 12}}}}


@pytest.fixture
def core() -> Iterator[tuple[str, list[str]]]:
    """Serve the demo core on a free local port; return its URL and the lines it printed."""
    printed: list[str] = []
    server = FakeServer(create_receiver(DEMO_SECRET, printed.append))
    url = server.start() + "/webhooks"
    yield url, printed
    server.stop()


def test_scores_published_and_pushed_by_the_relay_verify_and_are_printed(app, session, core,
                                                                          make_app):
    url, printed = core
    seed(session)
    wired = make_app(ASSESSMENT_CORE_URL=url, ASSESSMENT_CORE_SECRET=DEMO_SECRET)
    with wired.app_context():
        report = run_publication("2026-11")  # queues the pushes and wakes the relay job
        job_queue(wired).run_due()
    session.expire_all()
    rows = session.scalars(select(WebhookMessage)).all()
    assert report.changed == 40 and len(rows) == 80  # 40 scores, 40 low-sample alerts
    assert {row.status for row in rows} == {"delivered"}
    verified = [line for line in printed if line.startswith("已验证")]
    assert len(verified) == 80
    first = next(row for row in rows if row.type == "score.published"
                 and row.payload["data"]["cadre_code"] == "C001")
    line = next(line for line in verified if first.webhook_id in line)
    assert "score.published 干部 C001 期间 2026-11" in line and "样本不足" in line


def test_each_line_names_type_official_period_headline_and_webhook_id(core):
    url, printed = core
    with WebhookSender(url, [DEMO_SECRET], concurrency=1) as sender:
        assert sender.send("msg_demo1", SCORE).status == 200
        assert sender.send("msg_demo1", SCORE).status == 200
    assert printed[0] == ("已验证 score.published 干部 C001 期间 2026-11 随时评指数 86.5 "
                          "标记 low_sample webhook-id msg_demo1")
    assert printed[1].endswith("（重复投递，已忽略）")


def test_a_tampered_body_is_refused_with_401_and_said_so(core):
    url, printed = core
    sender = WebhookSender(url, [DEMO_SECRET])
    body = encode_body(SCORE)
    headers = sender.headers("msg_tampered", body)
    forged = body.replace("86.5", "99.5")
    response = httpx.post(url, content=forged.encode(), headers=headers)
    assert response.status_code == 401
    assert printed == [line for line in printed if line.startswith("拒绝 webhook-id msg_tampered")]
    assert len(printed) == 1 and "签名校验失败" in printed[0]


def test_a_push_signed_with_another_secret_or_unsigned_is_refused(core):
    url, printed = core
    with WebhookSender(url, [new_secret()], concurrency=1) as stranger:
        assert stranger.send("msg_stranger", SCORE).status == 401
    assert httpx.post(url, json=SCORE).status_code == 401
    assert len(printed) == 2 and all(line.startswith("拒绝") for line in printed)


def test_a_secret_that_cannot_sign_is_named():
    assert check_secret(DEMO_SECRET) is None
    assert check_secret("secret") == "密钥应以 whsec_ 开头"
    assert check_secret("whsec_%%%") == "whsec_ 之后应是 base64 编码的密钥"


@pytest.mark.parametrize(("data", "shown"), [
    ({"headline": {"kind": "composite", "score_100": 84.25}}, "综合得分 84.25"),
    ({"composite": {"status": "ok", "score_100": 80.5}}, "综合得分 80.5"),
    ({"composite": {"status": "insufficient"},
      "groups": {"recipient": {"status": "ok", "n": 14, "trimmed_mean": 8.6}}},
     "综合得分样本不足，服务对象截尾均值 8.6（14 条）"),
    ({"groups": {"recipient": {"status": "insufficient", "n": 3}}},
     "样本不足（服务对象评价 3 条）"),
])
def test_a_score_is_shown_by_its_headline_else_its_composite_else_its_recipients(data, shown):
    line = describe({"type": "score.published",
                     "data": {"cadre_code": "C002", "period": "2026-Q4", **data}})
    assert line == f"score.published 干部 C002 期间 2026-Q4 {shown} 标记 无"
