"""The access token: fetched once, shared, renewed before expiry, refreshed once when refused."""

from __future__ import annotations

import threading
import uuid

import httpx
import pytest

from backend.integrations import (
    MemoryTokenCache,
    RedisTokenCache,
    WeChatClient,
    WeChatInvalidCredential,
)
from tests.fakes import FakeWeChat

PAGE = "pages/index/index"


def test_token_is_fetched_once_and_cached_across_calls(wechat, wechat_client):
    first = wechat_client.access_token()
    assert all(wechat_client.access_token() == first for _ in range(5))
    assert wechat.token_calls == 1


def test_token_is_renewed_before_it_expires(wechat, wechat_client, clock):
    first = wechat_client.access_token()
    clock.advance(7200 - 299)
    second = wechat_client.access_token()
    assert second != first
    assert wechat.token_calls == 2
    wechat_client.get_unlimited("s1", PAGE)


@pytest.mark.redis
def test_concurrent_callers_sharing_redis_make_one_upstream_call(wechat, http, redis_db15):
    cache = RedisTokenCache(redis_db15, prefix=f"ssp-test-{uuid.uuid4().hex}:")
    wechat.fail_next("stable_token", delay=0.3)  # slow upstream widens the race window
    barrier = threading.Barrier(8)
    tokens: list[str] = []

    def call() -> None:
        client = WeChatClient(wechat.base_url, wechat.appid, wechat.secret, cache, http=http)
        barrier.wait()
        tokens.append(client.access_token())

    threads = [threading.Thread(target=call) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert len(tokens) == 8 and len(set(tokens)) == 1
    assert wechat.token_calls == 1


def test_expired_token_is_refreshed_once_and_the_call_succeeds(wechat, wechat_client):
    wechat_client.access_token()
    wechat.expire_access_tokens()
    assert wechat_client.get_unlimited("s1", PAGE)[:2] == b"\xff\xd8"
    assert wechat.token_calls == 2
    assert wechat.calls["getwxacodeunlimit"] == 2


def test_revoked_token_is_refreshed_once_and_the_call_succeeds(wechat, wechat_client):
    wechat_client.access_token()
    wechat.revoke_access_tokens()
    wechat_client.get_unlimited("s1", PAGE)
    assert wechat.token_calls == 2


def test_token_refused_twice_in_a_row_is_not_retried_again(wechat, wechat_client):
    wechat.fail_next("getwxacodeunlimit", count=2, errcode=40001)
    with pytest.raises(WeChatInvalidCredential) as caught:
        wechat_client.get_unlimited("s1", PAGE)
    assert caught.value.errcode == 40001 and not caught.value.retryable
    assert wechat.calls["getwxacodeunlimit"] == 2


def test_wrong_secret_is_refused_as_invalid_credential(wechat, http):
    client = WeChatClient(wechat.base_url, wechat.appid, "wrong", MemoryTokenCache(), http=http)
    with pytest.raises(WeChatInvalidCredential) as caught:
        client.access_token()
    assert caught.value.errcode == 40125


def test_force_refresh_invalidates_the_previous_token(wechat, http):
    body = {"grant_type": "client_credential", "appid": wechat.appid, "secret": wechat.secret}
    url = wechat.base_url + "/cgi-bin/stable_token"
    old = http.post(url, json=body).json()["access_token"]
    new = http.post(url, json={**body, "force_refresh": True}).json()["access_token"]
    answer = _raw_code(http, wechat, old)
    assert new != old and answer["errcode"] == 40001


def _raw_code(http: httpx.Client, wechat: FakeWeChat, token: str) -> dict:
    return http.post(wechat.base_url + "/wxa/getwxacodeunlimit",
                     params={"access_token": token}, json={"scene": "a", "page": PAGE}).json()
