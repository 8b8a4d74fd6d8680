"""Pushing scores and alerts to the assessment core: outbox, signing, retries, reconciliation."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest
from sqlalchemy import select

from backend import wiring
from backend.api import push as push_api
from backend.cli.push import push_cli
from backend.integrations.assessment_core import WebhookSender
from backend.models import Alert, ScoreSnapshot, SurveyTemplate, WebhookMessage
from backend.services.alerts.records import resolve_alert
from backend.services.outbox import push
from backend.services.templates.catalogue import register_all
from tests.fakes import FakeAssessmentCore
from tests.integration.deliveries_helpers import make_cadre
from workers.jobs import push as jobs
from workers.queues import job_queue
from workers.schedule import PERIODIC_JOBS

T0 = datetime(2026, 11, 21, 1, 30, tzinfo=UTC)
SETTINGS = push.PushSettings()


@pytest.fixture
def core():
    with FakeAssessmentCore() as fake:
        yield fake


@pytest.fixture
def sender(core):
    with WebhookSender(core.webhook_url, [core.secret], timeout=2.0) as made:
        yield made


@pytest.fixture
def wired(make_app, core):
    """An app pointed at the fake core, with the push API and commands registered."""
    extra = make_app(ASSESSMENT_CORE_URL=core.webhook_url, ASSESSMENT_CORE_SECRET=core.secret)
    if "push" not in extra.blueprints:  # until backend/__init__.py registers it
        extra.register_blueprint(push_api.blp)
    if "push" not in extra.cli.commands:
        extra.cli.add_command(push_cli)
    return extra


def queue(session, n: int = 3, period: str = "2026-11", at: datetime = T0) -> list[str]:
    """Queue n score messages and commit; return their webhook ids."""
    ids = [push.queue_message(session, "score.published", {"cadre_code": f"C{i:03d}"},
                              f"sha256:{i:064x}:{period}", period, at).webhook_id
           for i in range(n)]
    session.commit()
    return ids


def messages(session) -> list[WebhookMessage]:
    session.expire_all()
    return list(session.scalars(select(WebhookMessage).order_by(WebhookMessage.id)))


# -- Outbox ------------------------------------------------------------------------------


def test_same_content_is_queued_once_under_the_same_webhook_id(app, session):
    first = push.queue_message(session, "score.published", {"a": 1}, "sha256:aa:h1", "2026-11", T0)
    again = push.queue_message(session, "score.published", {"a": 1}, "sha256:aa:h1", "2026-11",
                               T0 + timedelta(hours=1))
    session.commit()
    assert again is first and len(messages(session)) == 1
    assert first.webhook_id.startswith("msg_") and len(first.webhook_id) == 36
    assert first.payload == {"type": "score.published", "timestamp": T0.isoformat(),
                             "data": {"a": 1}}


def test_many_messages_are_queued_at_once_and_known_content_is_skipped(app, session):
    known = push.queue_message(session, "alert.raised", {"n": 0}, "k0", "2026-11", T0)
    batch = [("alert.raised", {"n": n}, f"k{n}", "2026-11") for n in (0, 1, 2, 2)]
    assert push.queue_messages(session, batch, T0 + timedelta(hours=1)) == 3
    session.commit()
    rows = messages(session)
    assert len(rows) == 3 and rows[0].webhook_id == known.webhook_id
    assert rows[0].payload["timestamp"] == T0.isoformat()  # the first queueing stands
    assert rows[2].payload == {"type": "alert.raised", "data": {"n": 2},
                               "timestamp": (T0 + timedelta(hours=1)).isoformat()}


def test_changed_digest_gives_a_new_webhook_id(app, session):
    first = push.queue_message(session, "score.published", {}, "sha256:aa:h1", "2026-11", T0)
    changed = push.queue_message(session, "score.published", {}, "sha256:bb:h1", "2026-11", T0)
    alert = push.queue_message(session, "alert.raised", {}, "sha256:aa:h1", "2026-11", T0)
    assert len({first.webhook_id, changed.webhook_id, alert.webhook_id}) == 3


# -- Relay -------------------------------------------------------------------------------


def test_relay_delivers_a_batch_signed_so_the_core_verifies_it(app, session, core, sender):
    ids = queue(session, 120)
    report = push.relay_due(session, sender, T0)
    assert report.claimed == 120 and report.outcomes == {"delivered": 120}
    assert sorted(core.distinct_ids()) == sorted(ids) and len(core.deliveries) == 120
    assert core.rejected == 0  # sent four at a time: arrival order may differ
    first = next(d for d in core.deliveries if d.id == ids[0])
    assert first.body["data"] == {"cadre_code": "C000"} and first.type == "score.published"
    assert {(m.status, m.attempts, m.last_status) for m in messages(session)} == {
        ("delivered", 1, 200)}
    assert push.relay_due(session, sender, T0 + timedelta(days=1)).claimed == 0


def test_core_failing_then_recovering_delivers_each_id_exactly_once(app, session, core,
                                                                      sender):
    ids = queue(session, 3)
    core.fail_next(3, 500)
    assert push.relay_due(session, sender, T0).outcomes == {"retry": 3}
    assert {m.next_attempt_at for m in messages(session)} == {T0 + timedelta(seconds=5)}
    assert push.relay_due(session, sender, T0 + timedelta(seconds=4)).claimed == 0
    assert push.relay_due(session, sender, T0 + timedelta(seconds=5)).outcomes == {
        "delivered": 3}
    assert sorted(core.distinct_ids()) == sorted(ids) and len(core.deliveries) == 3
    assert {(m.attempts, m.last_status) for m in messages(session)} == {(2, 200)}
    assert "500" in messages(session)[0].last_error


@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_on_429_and_503_is_honoured(app, session, core, sender, status):
    queue(session, 1)
    core.fail_next(1, status, retry_after=120)
    push.relay_due(session, sender, T0)
    [message] = messages(session)
    assert message.next_attempt_at >= T0 + timedelta(seconds=120)
    assert (message.status, message.last_status) == ("pending", status)
    assert push.relay_due(session, sender, T0 + timedelta(seconds=119)).claimed == 0


def test_410_disables_pushing_until_the_alert_is_resolved(app, session, core):
    ids = queue(session, 3)
    core.fail_next(1, 410)
    with WebhookSender(core.webhook_url, [core.secret], concurrency=1) as one_by_one:
        report = push.relay_due(session, one_by_one, T0)
        assert report.disabled and report.outcomes == {"gone": 1, "skipped": 2}
        alert = session.scalar(select(Alert).filter_by(type=push.ENDPOINT_GONE))
        assert alert.state == "open" and push.status_summary(session)["endpoint_disabled"]
        later = push.relay_due(session, one_by_one, T0 + timedelta(hours=1))
        assert later.disabled and later.claimed == 0 and core.attempts == 1
        resolve_alert(session, push.ENDPOINT_GONE, None, alert.period, "admin", T0)
        session.commit()
        assert push.relay_due(session, one_by_one, T0 + timedelta(seconds=1)).outcomes == {
            "delivered": 3}  # the rows skipped after the 410 were released, not left leased
    assert sorted(core.distinct_ids()) == sorted(ids) and len(core.deliveries) == 3


def test_after_the_last_retry_a_message_is_dead_visible_and_replayable(app, session, core,
                                                                        sender):
    short = push.PushSettings(retry_schedule=(0, 1, 1))
    [msg_id] = queue(session, 1)
    core.fail_next(3, 500)
    for second in range(3):
        push.relay_due(session, sender, T0 + timedelta(seconds=second), settings=short)
    [message] = messages(session)
    assert (message.status, message.attempts) == ("dead", 3)
    summary = push.status_summary(session)
    assert summary["counts"] == {"pending": 0, "delivered": 0, "dead": 1}
    assert [d["webhook_id"] for d in summary["dead_letters"]] == [msg_id]
    assert session.scalar(select(Alert).filter_by(type=push.DEAD_LETTERS)).details["dead"] == 1
    assert push.relay_due(session, sender, T0 + timedelta(days=9), settings=short).claimed == 0
    assert push.replay(session, period="2026-11", now=T0 + timedelta(days=9)) == 1
    push.relay_due(session, sender, T0 + timedelta(days=9), settings=short)
    assert messages(session)[0].status == "delivered" and core.distinct_ids() == [msg_id]


def test_a_timeout_is_retried(app, session, core, sender):
    [msg_id] = queue(session, 1)
    core.fail_next(1, http_status=None, delay=1.0)
    with WebhookSender(core.webhook_url, [core.secret], timeout=0.2) as impatient:
        assert push.relay_due(session, impatient, T0).outcomes == {"retry": 1}
    assert "超时" in messages(session)[0].last_error
    push.relay_due(session, sender, T0 + timedelta(seconds=5))
    assert messages(session)[0].status == "delivered" and msg_id in core.distinct_ids()


def test_two_rotated_secrets_both_verify_at_the_receiver(app, session):
    with FakeAssessmentCore() as old, FakeAssessmentCore() as new:
        ids = queue(session, 1)
        for core in (old, new):
            with WebhookSender(core.webhook_url, [new.secret, old.secret]) as rotating:
                push.replay(session, ids=ids, now=T0)
                push.relay_due(session, rotating, T0)
            assert core.distinct_ids() == ids and core.rejected == 0
            assert len(core.deliveries[0].headers["Webhook-Signature"].split(" ")) == 2


class KeepAliveCore(BaseHTTPRequestHandler):
    """An HTTP/1.1 receiver that keeps connections open, or drops each one unannounced."""

    protocol_version = "HTTP/1.1"
    drop = False
    connections: ClassVar[list] = []

    def setup(self) -> None:
        super().setup()
        type(self).connections.append(self.client_address)

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(204)
        self.send_header("Content-Length", "0")
        self.end_headers()
        if self.drop:  # as if an idle timeout closed it: the client learns on its next send
            self.close_connection = True

    def log_message(self, *args) -> None:
        """Stay quiet."""


@pytest.mark.parametrize("drop", [False, True])
def test_connections_are_kept_alive_and_reopened_when_the_core_drops_them(drop):
    handler = type("Core", (KeepAliveCore,), {"drop": drop, "connections": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    try:
        with WebhookSender(url, [FakeAssessmentCore().secret], concurrency=1) as sender:
            results = sender.send_many([(f"msg_{n}", {"n": n}) for n in range(3)])
    finally:
        server.shutdown()
        server.server_close()
    assert [r.status for r in results] == [204, 204, 204]
    assert len(handler.connections) == (3 if drop else 1)


def test_settings_read_the_retry_schedule_from_the_environment(app):
    settings = jobs.push_settings(app, {"PUSH_RETRY_SCHEDULE": "0,1,1,2", "PUSH_TIMEOUT": "3"})
    assert settings.retry_schedule == (0, 1, 1, 2) and settings.timeout == 3.0
    assert settings.delay_after(1) == 1 and settings.delay_after(4) is None
    assert jobs.push_settings(app, {}).retry_schedule == push.RETRY_SCHEDULE


# -- Reconciliation ----------------------------------------------------------------------


def add_snapshot(session, cadre, scheme, period, digest, superseded=False) -> None:
    session.add(ScoreSnapshot(cadre_id=cadre.id, period=period, scheme_id=scheme.id,
                              digest=digest, document_hash=digest[-8:] + period,
                              document={"digest": digest}, computed_at=T0,
                              superseded_at=T0 if superseded else None))
    session.commit()


def test_checkpoint_summarises_each_period_once_per_content(app, session):
    register_all(session, app.extensions["catalogue"])
    scheme = session.scalar(select(SurveyTemplate).filter_by(kind="scheme"))
    one, two = make_cadre(session, "C001"), make_cadre(session, "C002")
    add_snapshot(session, one, scheme, "2026-11", "sha256:" + "1" * 64)
    add_snapshot(session, two, scheme, "2026-11", "sha256:" + "2" * 64)
    add_snapshot(session, one, scheme, "2026-Q4", "sha256:" + "3" * 64)
    add_snapshot(session, two, scheme, "2026-Q4", "sha256:" + "4" * 64, superseded=True)
    first = push.checkpoint(session, T0, SETTINGS.timezone)
    periods = first.payload["data"]["periods"]
    assert [(p["period"], p["count"]) for p in periods] == [("2026-11", 2), ("2026-Q4", 1)]
    assert first.type == "checkpoint" and first.payload["data"]["date"] == "2026-11-21"
    assert push.checkpoint(session, T0 + timedelta(days=1), SETTINGS.timezone) is first
    add_snapshot(session, two, scheme, "2026-Q4", "sha256:" + "5" * 64)
    assert push.checkpoint(session, T0, SETTINGS.timezone).webhook_id != first.webhook_id


# -- Jobs, CLI, API, metrics -------------------------------------------------------------


def test_relay_jobs_deliver_the_outbox_in_embedded_mode(app, session, core, wired):
    ids = queue(session, 5, at=wiring.now())
    with wired.app_context():
        assert jobs.start_relay(wired) == ["push-relay-0", "push-relay-1"]
        assert job_queue(wired).run_due() == 2
    assert sorted(core.distinct_ids()) == sorted(ids)


def test_the_publishers_single_relay_job_follows_up_and_fans_out(app, session, core, wired,
                                                                   monkeypatch):
    monkeypatch.setattr(jobs, "BATCH_SIZE", 2)
    monkeypatch.setattr(jobs, "MAX_BATCHES", 1)
    ids = queue(session, 7, at=wiring.now())
    with wired.app_context():
        job_queue(wired).enqueue(jobs.relay_webhooks, job_id=jobs.RELAY_JOB_ID)
        assert job_queue(wired).run_due() >= 3  # follow-ups and the other lane took part
    assert sorted(core.distinct_ids()) == sorted(ids)
    assert {m.status for m in messages(session)} == {"delivered"}


def test_a_failing_core_schedules_a_wake_up_instead_of_spinning(app, session, core, wired):
    queue(session, 2, at=wiring.now())
    core.go_down()
    with wired.app_context():
        jobs.start_relay(wired)
        assert job_queue(wired).run_due() == 2
        assert job_queue(wired).pending() >= 1  # push-relay-at-<epoch>, 5 s later
        assert job_queue(wired).run_due() == 0  # and nothing runs meanwhile
    assert {m.attempts for m in messages(session)} == {1}


def test_periodic_schedule_sweeps_every_minute_and_checkpoints_daily():
    by_name = {job.name: job for job in PERIODIC_JOBS}
    assert by_name["push-relay"].interval == timedelta(minutes=1)
    assert by_name["push-checkpoint"].at.isoformat() == "00:30:00"


def test_cli_status_and_replay_report_in_chinese(app, session, wired):
    [msg_id] = queue(session, 1)
    session.execute(WebhookMessage.__table__.update().values(
        status="dead", attempts=10, last_status=500, last_error="评估核心返回 500"))
    session.commit()
    runner = wired.test_cli_runner()
    status = runner.invoke(args=["push", "status"])
    assert status.exit_code == 0, status.output
    assert "死信 1" in status.output and msg_id in status.output
    replayed = runner.invoke(args=["push", "replay", "--period", "2026-11"])
    assert replayed.exit_code == 0 and "已重新排队 1 条消息（期间 2026-11）" in replayed.output
    assert messages(session)[0].status == "pending"


def test_outbox_api_lists_logs_and_replays_with_the_publish_scope(app, session, wired,
                                                                  make_key):
    ids = queue(session, 2)
    client, headers = wired.test_client(), make_key("scores:publish")
    assert client.get("/api/v1/push/outbox", headers=make_key("scores:read")).status_code == 403
    body = client.get("/api/v1/push/outbox?status=pending&limit=1", headers=headers).get_json()
    assert body["summary"]["counts"]["pending"] == 2 and len(body["items"]) == 1
    assert body["items"][0]["webhook_id"] == ids[1] and body["items"][0]["attempts"] == 0
    done = client.post("/api/v1/push/replay", json={"ids": ids}, headers=headers)
    assert done.status_code == 200 and done.get_json() == {"replayed": 0}
    bad = client.post("/api/v1/push/replay", json={"period": "2026-13"}, headers=headers)
    assert bad.status_code == 422 and "period" in bad.get_json()["errors"]


def test_metrics_show_outbox_depth_and_failures(app, session, wired):
    queue(session, 2)
    text = wired.test_client().get("/metrics").get_data(as_text=True)
    assert 'ssp_push_outbox_messages{status="pending"} 2.0' in text
    assert "ssp_push_retrying_messages 0.0" in text and "ssp_push_endpoint_disabled 0.0" in text
