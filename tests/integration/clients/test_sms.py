"""SMS: accepted once per ref; gateway trouble becomes retryable errors, bad input does not."""

from __future__ import annotations

import email.utils
import time

import pytest

from backend.integrations import SmsClient, SmsError

PHONE = "13800138000"


def test_sms_is_accepted_and_recorded(sms_gateway, sms_client):
    message_id = sms_client.send(PHONE, "请为本次服务评分", ref="evt-1")
    assert sms_gateway.messages == [{"message_id": message_id, "to": PHONE,
                                     "content": "请为本次服务评分", "ref": "evt-1"}]


def test_same_ref_twice_returns_the_same_message_and_sends_once(sms_gateway, sms_client):
    first = sms_client.send(PHONE, "内容", ref="evt-1")
    assert sms_client.send(PHONE, "内容", ref="evt-1") == first
    assert len(sms_gateway.messages) == 1


def test_ref_reused_for_other_content_is_refused_for_good(sms_client):
    sms_client.send(PHONE, "内容", ref="evt-1")
    with pytest.raises(SmsError) as caught:
        sms_client.send(PHONE, "别的内容", ref="evt-1")
    assert caught.value.status == 409 and not caught.value.retryable


@pytest.mark.parametrize(("phone", "content"), [("12345", "内容"), (PHONE, "")])
def test_invalid_message_is_refused_and_not_retryable(sms_client, phone, content):
    with pytest.raises(SmsError) as caught:
        sms_client.send(phone, content, ref="evt-1")
    assert caught.value.status == 400 and not caught.value.retryable


@pytest.mark.parametrize("status", [503, 429])
def test_busy_gateway_is_retryable_with_retry_after(sms_gateway, sms_client, status):
    sms_gateway.fail_next(http_status=status, retry_after=30)
    with pytest.raises(SmsError) as caught:
        sms_client.send(PHONE, "内容", ref="evt-1")
    assert caught.value.retryable and caught.value.retry_after == 30


def test_retry_after_given_as_a_date_becomes_seconds(sms_gateway, sms_client):
    sms_gateway.fail_next(http_status=503, headers={
        "Retry-After": email.utils.formatdate(time.time() + 60, usegmt=True)})
    with pytest.raises(SmsError) as caught:
        sms_client.send(PHONE, "内容", ref="evt-1")
    assert 55 <= caught.value.retry_after <= 61


def test_server_error_is_retryable(sms_gateway, sms_client):
    sms_gateway.fail_next(http_status=500)
    with pytest.raises(SmsError) as caught:
        sms_client.send(PHONE, "内容", ref="evt-1")
    assert caught.value.retryable and caught.value.retry_after is None


def test_timeout_is_retryable_and_the_retry_does_not_send_twice(sms_gateway, http):
    impatient = SmsClient(sms_gateway.send_url, http=http, timeout=0.2)
    sms_gateway.fail_next(delay=1.0)  # slow, but the gateway still takes the message
    with pytest.raises(SmsError) as caught:
        impatient.send(PHONE, "内容", ref="evt-1")
    assert caught.value.retryable
    # the retry is a later job with the usual timeout: a busy test machine must not fail it
    patient = SmsClient(sms_gateway.send_url, http=http, timeout=10)
    first_id = patient.send(PHONE, "内容", ref="evt-1")
    time.sleep(1.0)  # let the slow first request finish too
    assert patient.send(PHONE, "内容", ref="evt-1") == first_id
    assert len(sms_gateway.messages) == 1


def test_unreachable_gateway_is_retryable(sms_gateway, sms_client):
    sms_gateway.stop()
    with pytest.raises(SmsError) as caught:
        sms_client.send(PHONE, "内容", ref="evt-1")
    assert caught.value.retryable
