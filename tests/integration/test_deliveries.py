"""The delivery outbox: SMS and WeChat invitations sent once, retried, watched and purged."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from threading import Barrier
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from backend import wiring
from backend.config import DEFAULT_PUBLIC_BASE_URL
from backend.extensions import db
from backend.integrations import SmsClient
from backend.models import Alert, Delivery, MpSession, UseTag
from backend.services.alerts.records import resolve_alert
from backend.services.invitations.deliveries import (
    LINK,
    MessageSettings,
    compose_sms,
    relay_due,
    retry_delay,
    sms_segments,
)
from backend.services.invitations.delivery_checks import (
    PurgeReport,
    check_deadlines,
    purge_contacts,
)
from backend.services.privacy.personal_data import Vault
from tests.fakes import FakeSmsGateway, FakeWeChat
from tests.integration.deliveries_helpers import (
    OCCURRED,
    OPENID,
    PHONE,
    SUBSCRIBE_KEYS,
    TEMPLATE_ID,
    close_clients,
    make_cadre,
    make_delivery,
    without,
)
from workers.jobs import deliveries as jobs
from workers.jobs import resolve
from workers.queues import job_queue
from workers.schedule import PERIODIC_JOBS

NOW = OCCURRED + timedelta(minutes=1)
TZ = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def gateway():
    with FakeSmsGateway() as fake:
        yield fake


@pytest.fixture
def wechat():
    fake = FakeWeChat(appid="wx_test_app", secret="test-secret")
    fake.register_template(TEMPLATE_ID, SUBSCRIBE_KEYS)
    with fake:
        yield fake


@pytest.fixture
def wired(make_app, gateway, wechat):
    """An app whose wiring points at the fake SMS gateway and the fake WeChat."""
    extra = make_app(SMS_GATEWAY_URL=gateway.send_url, WECHAT_API_BASE=wechat.base_url,
                     WECHAT_APPID=wechat.appid, WECHAT_SECRET=wechat.secret,
                     WECHAT_SUBSCRIBE_TEMPLATE_ID=TEMPLATE_ID)
    yield extra
    close_clients(extra)


@pytest.fixture
def senders(wired):
    return jobs.build_senders(wired)


@pytest.fixture
def cadre(session):
    return make_cadre(session)


def relay(session, senders, at: datetime):
    return relay_due(session, senders, at)


def link_of(app, delivery: Delivery, base: str = "https://ssp.example.cn") -> str:
    return f"{base}/r/{wiring.token_codec(app).url_token(delivery.invitation.token)}"


def deliveries(session) -> list[Delivery]:
    return list(session.scalars(select(Delivery).order_by(Delivery.id)))


# -- SMS ---------------------------------------------------------------------------------


def test_sms_delivery_is_sent_once_with_the_short_link_and_chinese_text(
        app, session, cadre, senders, gateway):
    delivery = make_delivery(session, app, cadre)
    assert relay(session, senders, NOW).outcomes == {"sent": 1}
    assert relay(session, senders, NOW + timedelta(hours=1)).claimed == 0
    [message] = gateway.messages
    assert message["to"] == PHONE and message["ref"] == f"delivery-{delivery.id}"
    assert message["content"] == (
        "【随时评】感谢您办理公开审批，请对城关镇人民政府张三的服务进行评价"
        f"（7天内有效，仅可评价一次）：{link_of(app, delivery)}")
    assert (delivery.status, delivery.attempts, delivery.delivered_at) == ("sent", 1, NOW)
    assert delivery.provider_ref == message["message_id"]


def test_sms_text_fits_two_segments_with_the_demo_base_url(app, session, senders):
    demo = without(senders, settings=MessageSettings(DEFAULT_PUBLIC_BASE_URL))
    typical = make_delivery(session, app, make_cadre(session))
    text = compose_sms(typical.invitation, typical.event, demo, NOW)
    link = link_of(app, typical, DEFAULT_PUBLIC_BASE_URL)
    assert len(link) == 72  # one segment is 70
    assert link not in text and LINK in text  # the link is rendered at send time only
    text = text.replace(LINK, link)
    assert len(text) == 120 and sms_segments(text) == 2
    long_unit = make_cadre(session, "C002", "欧阳明月", "某某县市场监督管理局城关分局" * 3)
    long = make_delivery(session, app, long_unit)
    text = compose_sms(long.invitation, long.event, demo, NOW)
    text = text.replace(LINK, link_of(app, long, DEFAULT_PUBLIC_BASE_URL))
    assert sms_segments(text) == 2 and "请对欧阳明月的服务" in text


def test_gateway_failing_three_times_delays_but_does_not_lose_the_message(
        app, session, cadre, senders, gateway):
    delivery = make_delivery(session, app, cadre)
    gateway.fail_next(http_status=500)
    gateway.fail_next(http_status=503, retry_after=300)
    gateway.fail_next(http_status=500)
    steps = [(NOW, 30), (NOW + timedelta(seconds=30), 300), (NOW + timedelta(seconds=330), 600)]
    for attempt, (at, wait) in enumerate(steps, start=1):
        assert relay(session, senders, at).outcomes == {"retry": 1}
        assert delivery.attempts == attempt and delivery.status == "pending"
        assert delivery.next_attempt_at == at + timedelta(seconds=wait)
        assert relay(session, senders, at + timedelta(seconds=wait - 1)).claimed == 0
    assert "answered 500" in delivery.last_error
    assert relay(session, senders, NOW + timedelta(seconds=930)).outcomes == {"sent": 1}
    assert (delivery.status, delivery.attempts) == ("sent", 4)
    assert len(gateway.messages) == 1 and gateway.calls["send"] == 4


def test_gateway_timeout_is_retryable_and_the_resend_is_not_a_duplicate(
        app, session, cadre, senders, gateway):
    delivery = make_delivery(session, app, cadre)
    client = SmsClient(gateway.send_url, timeout=0.1)
    try:
        gateway.fail_next(delay=0.4)
        quick = without(senders, sms=client)
        assert relay(session, quick, NOW).outcomes == {"retry": 1}
        assert "timed out" in delivery.last_error
        time.sleep(0.5)  # the gateway accepted the late request after all
        assert relay(session, quick, NOW + timedelta(seconds=30)).outcomes == {"sent": 1}
    finally:
        client.close()
    assert len(gateway.messages) == 1 and gateway.calls["send"] == 2


def test_gateway_refusal_fails_at_once(app, session, cadre, senders, gateway):
    delivery = make_delivery(session, app, cadre)
    gateway.fail_next(http_status=400)
    assert relay(session, senders, NOW).outcomes == {"failed": 1}
    assert delivery.status == "failed" and "400" in delivery.last_error


def test_retries_stop_48_hours_after_the_deadline_and_the_row_is_kept(
        app, session, cadre, senders, gateway):
    delivery = make_delivery(session, app, cadre, deadline_hours=1)
    gateway.fail_next(http_status=503)
    assert relay(session, senders, OCCURRED + timedelta(hours=49)).outcomes == {"retry": 1}
    assert delivery.status == "failed" and "48 小时" in delivery.last_error


def test_retry_waits_grow_then_repeat_every_two_hours():
    waits = [retry_delay(n).total_seconds() for n in range(1, 8)]
    assert waits == [30, 120, 600, 1800, 3600, 7200, 7200]
    assert retry_delay(1, retry_after=90) == timedelta(seconds=90)


def test_without_sms_gateway_the_message_is_recorded_not_sent(
        app, session, cadre, senders, gateway):
    delivery = make_delivery(session, app, cadre)
    assert relay(session, without(senders, sms=None), NOW).outcomes == {"recorded": 1}
    assert (delivery.status, delivery.delivered_at, delivery.attempts) == ("recorded", NOW, 0)
    assert delivery.message.endswith(LINK) and "/r/" not in delivery.message
    assert gateway.calls["send"] == 0


def test_contact_no_key_opens_fails_with_a_clear_error(app, session, cadre, senders, gateway):
    delivery = make_delivery(session, app, cadre)
    delivery.contact_enc = Vault(["a-key-rotated-away-0123456789abcdef"]).encrypt(PHONE)
    session.commit()
    assert relay(session, senders, NOW).outcomes == {"failed": 1}
    assert "无法解密" in delivery.last_error and gateway.calls["send"] == 0


def test_a_message_goes_out_whether_or_not_its_link_was_used(app, session, cadre, senders,
                                                             gateway):
    delivery = make_delivery(session, app, cadre)
    session.add(UseTag(tag=wiring.sealer(app).tags("use", delivery.invitation.token)[0]))
    session.commit()
    assert relay(session, senders, NOW).outcomes == {"sent": 1}  # nothing on the row differs
    assert gateway.messages[0]["content"].endswith(link_of(app, delivery))


# -- WeChat ------------------------------------------------------------------------------


def test_wechat_with_credit_sends_a_subscribe_message_whose_page_carries_the_scene(
        app, session, cadre, senders, wechat):
    wechat.grant_credit(OPENID, TEMPLATE_ID)
    delivery = make_delivery(session, app, cadre, channel="wechat", contact=OPENID)
    assert relay(session, senders, NOW).outcomes == {"sent": 1}
    [sent] = wechat.sent
    scene = wiring.token_codec(app).scene(delivery.invitation.token)
    assert sent["touser"] == OPENID and sent["page"] == f"pages/rate/index?scene={scene}"
    assert sent["data"] == {"thing1": "公开审批", "name2": "张三", "thing3": "城关镇人民政府",
                            "time4": "2026年11月21日 09:30"}
    assert delivery.provider_ref == str(sent["msgid"])


def test_wechat_without_credit_falls_back_to_sms_when_a_phone_is_known(
        app, session, cadre, senders, wechat, gateway):
    wechat.grant_credit(OPENID, TEMPLATE_ID, 0)
    original = make_delivery(session, app, cadre, channel="wechat", contact=OPENID,
                             fallback_phone=PHONE)
    assert relay(session, senders, NOW).outcomes == {"fallback": 1, "sent": 1}
    first, fallback = deliveries(session)
    assert first.id == original.id and first.status == "failed" and "43101" in first.last_error
    assert (fallback.channel, fallback.status, fallback.due_by) == ("sms", "sent", first.due_by)
    assert (fallback.invitation_id, fallback.event_id) == (first.invitation_id, first.event_id)
    assert [m["ref"] for m in gateway.messages_to(PHONE)] == [f"delivery-{fallback.id}"]


def test_wechat_fallback_sends_no_second_sms_when_the_event_asked_for_sms_too(
        app, session, cadre, senders, wechat, gateway):
    wechat.grant_credit(OPENID, TEMPLATE_ID, 0)
    sms = make_delivery(session, app, cadre)
    vault = wiring.vault(app)
    session.add(Delivery(invitation_id=sms.invitation_id, event_id=sms.event_id,
                         channel="wechat", status="pending", attempts=0, due_by=sms.due_by,
                         next_attempt_at=sms.next_attempt_at, contact_enc=vault.encrypt(OPENID),
                         fallback_phone_enc=vault.encrypt(PHONE)))
    session.commit()
    assert relay(session, senders, NOW).outcomes == {"sent": 1, "fallback": 1}
    assert len(gateway.messages) == 1 and len(deliveries(session)) == 2
    assert "不再重复发送" in deliveries(session)[1].last_error


def test_wechat_without_credit_fails_visibly_when_no_phone_is_known(
        app, session, cadre, senders, wechat):
    wechat.grant_credit(OPENID, TEMPLATE_ID, 0)
    make_delivery(session, app, cadre, channel="wechat", contact=OPENID)
    assert relay(session, senders, NOW).outcomes == {"failed": 1}
    [only] = deliveries(session)
    assert only.status == "failed" and "无手机号" in only.last_error


def test_without_wechat_configured_the_invitation_goes_by_sms(
        app, session, cadre, senders, gateway):
    make_delivery(session, app, cadre, channel="wechat", contact=OPENID, fallback_phone=PHONE)
    outcomes = relay(session, without(senders, wechat=None), NOW).outcomes
    assert outcomes == {"fallback": 1, "sent": 1} and len(gateway.messages_to(PHONE)) == 1


def test_wechat_rate_limit_is_retried_later(app, session, cadre, senders, wechat):
    wechat.grant_credit(OPENID, TEMPLATE_ID)
    delivery = make_delivery(session, app, cadre, channel="wechat", contact=OPENID)
    wechat.fail_next("subscribe_send", errcode=45009)
    assert relay(session, senders, NOW).outcomes == {"retry": 1}
    assert delivery.next_attempt_at == NOW + timedelta(seconds=30)
    assert "45009" in delivery.last_error
    assert relay(session, senders, NOW + timedelta(seconds=30)).outcomes == {"sent": 1}
    assert len(wechat.sent) == 1


# -- Concurrency -------------------------------------------------------------------------


def test_two_relays_over_the_same_due_rows_never_send_a_row_twice(
        app, session, cadre, senders, gateway):
    for _ in range(5):
        make_delivery(session, app, cadre)
    assert relay(session, senders, NOW).claimed == 5
    assert relay(session, senders, NOW).claimed == 0
    assert gateway.calls["send"] == 5


def test_concurrent_relays_in_two_sessions_never_send_a_row_twice(
        app, session, cadre, senders, gateway):
    for _ in range(12):
        make_delivery(session, app, cadre)
    gateway.fail_next(count=12, delay=0.03)  # slow sends so that the relays overlap
    barrier = Barrier(2)

    def run():
        with app.app_context():
            barrier.wait()
            return relay_due(db.session, senders, NOW, batch_size=12)

    with ThreadPoolExecutor(2) as pool:
        reports = [f.result() for f in [pool.submit(run), pool.submit(run)]]
    assert sum(r.claimed for r in reports) == 12 and gateway.calls["send"] == 12
    assert {d.status for d in deliveries(session)} == {"sent"}


# -- Deadlines ---------------------------------------------------------------------------


def alerts(session) -> list[Alert]:
    return list(session.scalars(select(Alert).order_by(Alert.id)))


def test_delivery_undelivered_after_its_deadline_raises_one_open_alert_for_cadre_and_month(
        app, session, cadre):
    make_delivery(session, app, cadre)
    assert check_deadlines(session, OCCURRED + timedelta(hours=23), TZ) == 0
    assert check_deadlines(session, OCCURRED + timedelta(hours=25), TZ) == 1
    assert check_deadlines(session, OCCURRED + timedelta(hours=26), TZ) == 0
    [alert] = alerts(session)
    assert (alert.type, alert.cadre_id, alert.period, alert.state) == (
        "delivery_overdue", cadre.id, "2026-11", "open")
    assert alert.details == {"overdue": 1, "events": 1, "late": 0, "channels": {"sms": 1},
                             "oldest_due_by": "2026-11-22T09:30:00+08:00"}


def test_resolved_alert_stays_resolved_until_it_fires_again_then_reopens(app, session, cadre):
    make_delivery(session, app, cadre)
    later = OCCURRED + timedelta(days=2)
    check_deadlines(session, later, TZ)
    resolve_alert(session, "delivery_overdue", cadre.id, "2026-11", "admin", later)
    session.commit()
    assert check_deadlines(session, later + timedelta(minutes=10), TZ) == 0
    assert alerts(session)[0].state == "resolved"
    make_delivery(session, app, cadre, occurred_at=OCCURRED + timedelta(days=1))
    assert check_deadlines(session, later + timedelta(days=1), TZ) == 1
    [alert] = alerts(session)
    assert alert.state == "open" and alert.details["events"] == 2 and alert.resolved_by is None


def test_invitation_reached_in_time_by_its_fallback_raises_no_alert(
        app, session, cadre, senders, wechat):
    make_delivery(session, app, cadre, channel="wechat", contact=OPENID, fallback_phone=PHONE)
    relay(session, without(senders, wechat=None), NOW)
    assert check_deadlines(session, OCCURRED + timedelta(days=2), TZ) == 0


def test_failed_delivery_without_replacement_is_counted_once_overdue(
        app, session, cadre, senders, gateway):
    make_delivery(session, app, cadre)
    gateway.fail_next(http_status=400)
    relay(session, senders, NOW)
    assert check_deadlines(session, OCCURRED + timedelta(days=2), TZ) == 1
    assert alerts(session)[0].details["channels"] == {"sms": 1}


def test_alert_month_is_the_event_month_in_the_deployment_time_zone(app, session, cadre):
    make_delivery(session, app, cadre, occurred_at=datetime(2026, 11, 30, 17, tzinfo=UTC))
    check_deadlines(session, datetime(2026, 12, 3, tzinfo=UTC), TZ)
    assert alerts(session)[0].period == "2026-12"


# -- Purge -------------------------------------------------------------------------------


def test_purge_clears_contacts_of_ended_invitations_after_retention_and_keeps_recent_ones(
        app, session, cadre):
    now = OCCURRED + timedelta(days=60)
    ended_long_ago = make_delivery(session, app, cadre, fallback_phone=PHONE, message="链接")
    ended_recently = make_delivery(session, app, cadre, occurred_at=now - timedelta(days=10))
    still_open = make_delivery(session, app, cadre, occurred_at=now - timedelta(days=35))
    still_open.invitation.expires_at = now + timedelta(days=1)  # used or not: nobody asks
    for delivery in (ended_long_ago, still_open):
        delivery.invitation.phone_hash = "a" * 64  # kept for throttling while the link lives
    for name, age in (("a", timedelta(days=2)), ("b", timedelta(hours=1))):
        session.add(MpSession(id=name * 32, openid_hash="h", openid_enc="x",
                              session_key_enc="y", expires_at=now - age))
    session.commit()
    assert purge_contacts(session, now, 30) == PurgeReport(deliveries=1, mp_sessions=1)
    assert purge_contacts(session, now, 30) == PurgeReport()
    gone = (ended_long_ago.contact_enc, ended_long_ago.fallback_phone_enc, ended_long_ago.message)
    assert gone == (None, None, None) and ended_long_ago.purged_at == now
    assert still_open.contact_enc is not None and ended_recently.contact_enc is not None
    assert ended_long_ago.invitation.phone_hash is None
    assert still_open.invitation.phone_hash is not None
    assert session.scalar(select(func.count()).select_from(MpSession)) == 1


# -- Jobs --------------------------------------------------------------------------------


def test_relay_job_sends_through_the_wired_clients_in_embedded_mode(
        app, session, cadre, wired, gateway):
    delivery = make_delivery(session, app, cadre, occurred_at=wiring.now() - timedelta(minutes=1))
    with wired.app_context():
        job_queue(wired).enqueue(jobs.relay_deliveries, job_id=jobs.RELAY_JOB_ID)
        assert wired.extensions["jobs"].run_due() == 1
    session.refresh(delivery)
    assert delivery.status == "sent" and len(gateway.messages) == 1


def test_relay_job_hands_over_to_a_follow_up_when_more_remain(app, session, cadre, monkeypatch):
    monkeypatch.setattr(jobs, "BATCH_SIZE", 2)
    monkeypatch.setattr(jobs, "MAX_BATCHES", 1)
    for _ in range(5):
        make_delivery(session, app, cadre, occurred_at=wiring.now() - timedelta(minutes=1))
    job_queue(app).enqueue(jobs.relay_deliveries, job_id=jobs.RELAY_JOB_ID)
    assert app.extensions["jobs"].run_due() == 3
    assert {d.status for d in deliveries(session)} == {"recorded"}


def test_deadline_and_purge_jobs_run_in_embedded_mode(app, session, cadre):
    make_delivery(session, app, cadre, occurred_at=wiring.now() - timedelta(days=2))
    queue = job_queue(app)
    queue.enqueue(jobs.check_delivery_deadlines)
    queue.enqueue(jobs.purge_personal_data)
    assert queue.run_due() == 2 and queue.failures == []
    assert len(alerts(session)) == 1


def test_periodic_schedule_contains_the_three_delivery_jobs():
    by_name = {job.name: job for job in PERIODIC_JOBS}
    assert by_name["deliveries-relay"].interval == timedelta(minutes=1)
    assert by_name["delivery-deadlines"].interval == timedelta(minutes=10)
    assert by_name["personal-data-purge"].at.isoformat() == "03:30:00"
    for name in ("deliveries-relay", "delivery-deadlines", "personal-data-purge"):
        assert callable(resolve(by_name[name].func))
