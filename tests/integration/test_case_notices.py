"""Notices to assignees: cases opened, returned, overdue or reopened reach the users who handle
them, in the console and by SMS or WeChat through the delivery outbox (retried, fallen back),
with nothing of the rater — on SQLite and PostgreSQL, against the fake gateway and WeChat."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from werkzeug.security import generate_password_hash

from backend import wiring
from backend.errors import InvalidInput
from backend.models import Cadre, Case, CaseNotice, ConsoleUser, Delivery, Unit
from backend.services import cases
from backend.services.cases import notices, watch
from backend.services.invitations.deliveries import relay_due
from tests.fakes import FakeSmsGateway, FakeWeChat
from tests.integration.deliveries_helpers import close_clients
from tests.support.ledger import DAY1, TZ, submit_ratings
from tests.support.ledger import release_at as release
from workers.jobs import deliveries as jobs

CASE_TEMPLATE = "tpl-case-notice"
CASE_KEYS = ("thing1", "thing2", "time3", "thing4")
TOWN_PHONE, ORG_PHONE, OPENID = "13900139001", "13900139002", "o_town_admin_0001"
COMMENT = "窗口人员态度恶劣，让我跑了三趟"


@pytest.fixture
def gateway():
    with FakeSmsGateway() as fake:
        yield fake


@pytest.fixture
def wechat():
    fake = FakeWeChat(appid="wx_test_app", secret="test-secret")
    fake.register_template(CASE_TEMPLATE, CASE_KEYS)
    with fake:
        yield fake


@pytest.fixture
def senders(make_app, gateway, wechat):
    extra = make_app(SMS_GATEWAY_URL=gateway.send_url, WECHAT_API_BASE=wechat.base_url,
                     WECHAT_APPID=wechat.appid, WECHAT_SECRET=wechat.secret,
                     WECHAT_CASE_TEMPLATE_ID=CASE_TEMPLATE)
    yield jobs.build_senders(extra)
    close_clients(extra)


def add_user(session, name: str, role: str, unit_id: int | None = None,
             phone: str | None = None, openid: str | None = None) -> ConsoleUser:
    user = ConsoleUser(username=name, role=role, unit_id=unit_id,
                       password_hash=generate_password_hash("x" * 12))
    notices.set_contact(user, wiring.vault(), phone, openid)
    session.add(user)
    session.flush()
    return user


def c001_unit(session) -> int:
    return session.scalar(select(Cadre.unit_id).where(Cadre.code == "C001"))


def open_bad_cases(session, count: int = 1) -> list[Case]:
    """Release `count` bad ratings (with a comment) of C001; return their cases."""
    submit_ratings(session, count, DAY1, score=2)
    release(session, DAY1)
    session.commit()
    return list(session.scalars(select(Case).order_by(Case.id)))


def users_world(session, town_openid: str | None = None):
    """Create the town's admin (with a phone), another unit's admin, an org admin, 纪检."""
    submit_ratings(session, 1, DAY1 - timedelta(days=1), score=9)  # the directory, no case
    release(session, DAY1 - timedelta(days=1))
    unit_id = c001_unit(session)
    other = Unit(code="OTHER", name="青山乡人民政府", category="township")
    session.add(other)
    session.flush()
    town = add_user(session, "town", "unit_admin", unit_id, TOWN_PHONE, town_openid)
    village = add_user(session, "village", "unit_admin", other.id, "13900139003")
    org = add_user(session, "org", "org_admin", None, ORG_PHONE)
    jijian = add_user(session, "jijian", "discipline", None, "13900139004")
    session.commit()
    return town, village, org, jijian


def notices_of(session, user: ConsoleUser) -> list[CaseNotice]:
    return list(session.scalars(select(CaseNotice).where(CaseNotice.user_id == user.id)
                                .order_by(CaseNotice.id)))


def test_a_release_batch_notifies_the_units_admin_once_by_sms_with_nothing_of_the_rater(
        session, senders, gateway):
    town, village, org, jijian = users_world(session)
    opened = open_bad_cases(session, 3)
    assert len(opened) == 3
    (notice,) = notices_of(session, town)
    assert notice.kind == "opened" and notice.count == 3 and notice.case_id is None
    assert notice.text.startswith("3 件整改单") and "待受理" in notice.text
    assert notices_of(session, village) == notices_of(session, org) == []
    assert notices_of(session, jijian) == []
    assert notices.unread_count(session, town.id) == 1
    report = relay_due(session, senders, DAY1 + timedelta(minutes=1))
    assert report.outcomes == {"sent": 1}
    (message,) = gateway.messages
    assert message["to"] == TOWN_PHONE and message["content"].startswith("【随时评】3 件整改单")
    # Nothing of the rater: no comment, no receipt, no score, no contact of theirs.
    assert COMMENT not in message["content"] and "分" not in message["content"].split("。")[0]
    delivery = session.scalars(select(Delivery).where(Delivery.notice_id == notice.id)).one()
    assert delivery.invitation_id is None and delivery.status == "sent"


def test_a_wechat_notice_goes_as_a_subscribe_message_and_falls_back_to_sms(
        session, senders, gateway, wechat):
    _town, *_ = users_world(session, town_openid=OPENID)
    wechat.grant_credit(OPENID, CASE_TEMPLATE, 1)
    (case,) = open_bad_cases(session)
    assert relay_due(session, senders, DAY1 + timedelta(minutes=1)).outcomes == {"sent": 1}
    (sent,) = wechat.sent
    assert sent["touser"] == OPENID and sent["template_id"] == CASE_TEMPLATE
    assert sent["data"]["thing1"] == "新整改单待受理" and sent["data"]["thing2"] == case.unit.name
    assert gateway.messages == []
    # No credit left (43101): the same notice goes by SMS to the phone, once.
    org = session.scalar(select(ConsoleUser).where(ConsoleUser.username == "org"))
    town_actor = cases.Actor("town", "unit_admin", frozenset({case.unit_id}))
    cases.accept(session, case, town_actor, DAY1)
    cases.submit(session, case, town_actor, DAY1, reply="已整改", measures="培训",
                 callback="no_consent")
    cases.send_back(session, case, cases.Actor(org.username, "org_admin"), DAY1,
                    "请补充材料", tz=TZ)
    session.commit()
    report = relay_due(session, senders, DAY1 + timedelta(minutes=2))
    assert report.outcomes == {"fallback": 1, "sent": 1}
    (text,) = gateway.messages_to(TOWN_PHONE)
    assert f"整改单 {case.id}" in text["content"] and "退回" in text["content"]
    rows = session.scalars(select(Delivery).where(Delivery.notice_id.is_not(None))
                           .order_by(Delivery.id)).all()
    assert [(r.channel, r.status) for r in rows] == [
        ("wechat", "sent"), ("wechat", "failed"), ("sms", "sent")]
    assert "43101" in rows[1].last_error


def test_gateway_errors_are_retried_with_backoff_and_refusals_fail_visibly(
        session, senders, gateway):
    users_world(session)
    open_bad_cases(session)
    gateway.fail_next(http_status=503, retry_after=60)
    first = DAY1 + timedelta(minutes=1)
    assert relay_due(session, senders, first).outcomes == {"retry": 1}
    row = session.scalars(select(Delivery).where(Delivery.notice_id.is_not(None))).one()
    assert row.status == "pending" and row.next_attempt_at >= first + timedelta(seconds=60)
    assert "503" in row.last_error
    assert relay_due(session, senders, first + timedelta(seconds=30)).claimed == 0
    assert relay_due(session, senders, first + timedelta(minutes=5)).outcomes == {"sent": 1}
    assert len(gateway.messages) == 1
    # A refusal (400) is final: failed, with the gateway's reason, never silently dropped.
    town = session.scalar(select(ConsoleUser).where(ConsoleUser.username == "town"))
    case = session.scalars(select(Case)).first()
    gateway.fail_next(http_status=400)
    notices.notify(session, [case], "escalated", first, TZ)
    session.commit()
    outcomes = relay_due(session, senders, first + timedelta(minutes=6)).outcomes
    assert outcomes == {"failed": 1, "sent": 1}  # the town admin's refused, the org admin's sent
    failed = session.scalars(select(Delivery).where(Delivery.status == "failed")).one()
    assert "400" in failed.last_error and failed.notice.user_id == town.id


def test_without_a_gateway_messages_are_recorded_and_without_a_contact_only_shown(
        session, make_app):
    town, _village, _org, _jijian = users_world(session)
    notices.set_contact(town, wiring.vault(), "", None)  # cleared: console only
    session.commit()
    open_bad_cases(session)
    (notice,) = notices_of(session, town)
    assert session.scalars(select(Delivery).where(Delivery.notice_id == notice.id)).all() == []
    add_user(session, "town2", "unit_admin", c001_unit(session), "13900139005")
    session.commit()
    case = session.scalars(select(Case)).first()
    notices.notify(session, [case], "opened", DAY1, TZ)
    session.commit()
    plain = jobs.build_senders(make_app())  # no SMS_GATEWAY_URL
    assert relay_due(session, plain, DAY1 + timedelta(minutes=1)).outcomes == {"recorded": 1}


def test_overdue_cases_notify_assignees_and_org_admins_once(session):
    town, village, org, _jijian = users_world(session)
    (case,) = open_bad_cases(session)
    later = case.due_at + timedelta(hours=1)
    assert watch.escalate_overdue(session, later, TZ) == 1
    assert watch.escalate_overdue(session, later + timedelta(hours=1), TZ) == 0
    session.commit()
    assert [n.kind for n in notices_of(session, town)] == ["opened", "escalated"]
    (escalated,) = notices_of(session, org)
    assert escalated.kind == "escalated" and escalated.case_id == case.id
    assert "逾期" in escalated.text and notices_of(session, village) == []


def test_a_report_notifies_the_discipline_side_alone(session):
    town, _village, org, jijian = users_world(session)
    (_receipt,) = submit_ratings(session, 1, DAY1, score=9)
    release(session, DAY1)
    rules = wiring.case_rules()
    cases.file_report(session, [], "pressure", "窗口人员要求打满分", None, wiring.vault(),
                      rules, TZ, DAY1)
    session.commit()
    (notice,) = notices_of(session, jijian)
    assert notice.kind == "opened" and "窗口人员" not in notice.text
    assert notices_of(session, town) == notices_of(session, org) == []


def test_reading_and_contacts(session):
    town, *_ = users_world(session)
    open_bad_cases(session, 2)
    assert notices.unread_count(session, town.id) == 1
    assert notices.mark_read(session, town.id, DAY1) == 1
    assert notices.unread_count(session, town.id) == 0
    assert [n.id for n in notices.recent_notices(session, town.id)] != []
    before = town.phone_enc
    for phone in ("12345", "1390013900a", "+1 415 555 0100"):
        with pytest.raises(InvalidInput, match="手机号格式不正确"):
            notices.set_contact(town, wiring.vault(), phone, None)
        assert town.phone_enc == before
    with pytest.raises(InvalidInput, match="openid"):
        notices.set_contact(town, wiring.vault(), None, "o with space")
    notices.set_contact(town, wiring.vault(), "+86 139-0013-9009", None)
    assert wiring.vault().decrypt(town.phone_enc) == "13900139009"


def test_the_cli_sets_and_clears_a_users_notice_contact(session, runner):
    town, *_ = users_world(session)
    done = runner.invoke(args=["admin", "set-contact", "town", "--phone", "13900139008",
                               "--openid", "o_cli_0001"])
    assert done.exit_code == 0, done.output
    session.expire_all()
    assert wiring.vault().decrypt(town.phone_enc) == "13900139008"
    assert wiring.vault().decrypt(town.openid_enc) == "o_cli_0001"
    refused = runner.invoke(args=["admin", "set-contact", "town", "--phone", "110"])
    assert refused.exit_code != 0 and "手机号格式不正确" in refused.output
    session.expire_all()
    assert wiring.vault().decrypt(town.phone_enc) == "13900139008"
    cleared = runner.invoke(args=["admin", "set-contact", "town", "--openid", ""])
    assert cleared.exit_code == 0 and "微信未登记" in cleared.output
    assert runner.invoke(args=["admin", "set-contact", "nobody", "--phone", ""]).exit_code != 0
