"""Subscribe messages: sent against a credit, fields fitted to WeChat's rules."""

from __future__ import annotations

import pytest

from backend.integrations import (
    WeChatFieldInvalid,
    WeChatNoCredit,
    WeChatRateLimited,
)

TEMPLATE = "tmpl-rate-invite"
USER = "o-rater-1"


@pytest.fixture
def subscribed(wechat):
    wechat.grant_credit(USER, TEMPLATE)
    return wechat


def test_subscribe_message_is_sent_and_uses_up_the_credit(subscribed, wechat_client):
    data = {"thing1": "请评价本次服务", "time2": "2026年11月21日 09:30", "number3": "1"}
    msgid = wechat_client.send_subscribe(USER, TEMPLATE, data, page="pages/rate/index?t=1")
    sent = subscribed.sent[-1]
    assert sent["msgid"] == msgid and sent["data"] == data and sent["state"] == "formal"
    assert subscribed.credits(USER, TEMPLATE) == 0


def test_message_without_credit_is_typed_and_not_retryable(subscribed, wechat_client):
    wechat_client.send_subscribe(USER, TEMPLATE, {"thing1": "第一条"})
    with pytest.raises(WeChatNoCredit) as caught:
        wechat_client.send_subscribe(USER, TEMPLATE, {"thing1": "第二条"})
    assert caught.value.errcode == 43101 and not caught.value.retryable
    assert len(subscribed.sent) == 1


def test_thing_field_is_truncated_to_twenty_characters(subscribed, wechat_client):
    wechat_client.send_subscribe(USER, TEMPLATE, {"thing1": "审批事项" * 10, "name2": "欧阳" * 8})
    data = subscribed.sent[-1]["data"]
    assert data["thing1"] == "审批事项" * 4 + "审批事" + "…" and len(data["thing1"]) == 20
    assert data["name2"] == "欧阳" * 5


@pytest.mark.parametrize(("key", "value"), [("phone_number1", "138abc"), ("number1", "一二"),
                                             ("phrase1", "OK"), ("thing1", "  ")])
def test_value_that_cannot_be_made_valid_is_refused_before_sending(
        subscribed, wechat_client, key, value):
    with pytest.raises(WeChatFieldInvalid) as caught:
        wechat_client.send_subscribe(USER, TEMPLATE, {key: value})
    assert caught.value.errcode == 47003 and not caught.value.retryable
    assert subscribed.calls["subscribe_send"] == 0


def test_fake_refuses_an_overlong_field_sent_raw(subscribed, wechat_client, http):
    body = {"touser": USER, "template_id": TEMPLATE, "data": {"thing1": {"value": "x" * 21}}}
    answer = http.post(subscribed.base_url + "/cgi-bin/message/subscribe/send",
                       params={"access_token": wechat_client.access_token()}, json=body).json()
    assert answer["errcode"] == 47003 and "thing1" in answer["errmsg"]


def test_rate_limited_send_is_retryable_and_keeps_the_credit(subscribed, wechat_client):
    subscribed.fail_next("subscribe_send", errcode=45009)
    with pytest.raises(WeChatRateLimited) as caught:
        wechat_client.send_subscribe(USER, TEMPLATE, {"thing1": "x"})
    assert caught.value.retryable
    assert subscribed.credits(USER, TEMPLATE) == 1
