"""wx.login codes: exchanged once for an openid; the session key never shows in repr."""

from __future__ import annotations

import pytest

from backend.integrations import (
    MemoryTokenCache,
    WeChatClient,
    WeChatInvalidCode,
    WeChatInvalidCredential,
)


def test_login_code_is_exchanged_for_openid_and_unionid(wechat, wechat_client):
    session = wechat_client.code2session(wechat.issue_login_code("o-user-1", unionid="u-1"))
    assert (session.openid, session.unionid) == ("o-user-1", "u-1")
    assert session.session_key and session.session_key not in repr(session)


def test_second_use_of_a_login_code_is_refused(wechat, wechat_client):
    code = wechat.issue_login_code("o-user-1")
    wechat_client.code2session(code)
    with pytest.raises(WeChatInvalidCode) as caught:
        wechat_client.code2session(code)
    assert caught.value.errcode == 40163 and not caught.value.retryable


def test_unknown_login_code_is_refused(wechat_client):
    with pytest.raises(WeChatInvalidCode) as caught:
        wechat_client.code2session("no-such-code")
    assert caught.value.errcode == 40029


def test_login_code_expires_after_five_minutes(wechat, wechat_client, clock):
    code = wechat.issue_login_code("o-user-1")
    clock.advance(301)
    with pytest.raises(WeChatInvalidCode):
        wechat_client.code2session(code)


def test_wrong_appid_is_refused_as_invalid_credential(wechat, http):
    client = WeChatClient(wechat.base_url, "wx_other", wechat.secret, MemoryTokenCache(),
                          http=http)
    with pytest.raises(WeChatInvalidCredential) as caught:
        client.code2session(wechat.issue_login_code("o-user-1"))
    assert caught.value.errcode == 40013 and not caught.value.retryable
