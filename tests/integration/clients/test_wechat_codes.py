"""Mini-program codes: images on success, typed errors otherwise, scenes checked locally."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from backend.integrations import (
    MemoryTokenCache,
    WeChatClient,
    WeChatInvalidPage,
    WeChatInvalidScene,
    WeChatRateLimited,
    WeChatUnavailable,
)

PAGE = "pages/rate/index"
BAD_SCENES = ["x" * 33, "含中文", "a b", "100%", ""]


def test_mini_program_code_is_an_image_pillow_opens(wechat, wechat_client):
    data = wechat_client.get_unlimited("t=AbC123._~", PAGE, width=430, check_path=True)
    image = Image.open(io.BytesIO(data))
    assert image.format == "JPEG" and image.size == (430, 430)
    assert wechat.codes[-1]["scene"] == "t=AbC123._~"


@pytest.mark.parametrize("scene", BAD_SCENES)
def test_invalid_scene_is_refused_before_any_call(wechat, wechat_client, scene):
    with pytest.raises(WeChatInvalidScene) as caught:
        wechat_client.get_unlimited(scene, PAGE)
    assert not caught.value.retryable
    assert wechat.calls.total() == 0


@pytest.mark.parametrize(("scene", "errcode"), [("x" * 33, 40169), ("含中文", 40129)])
def test_fake_refuses_an_invalid_scene_sent_raw(wechat, wechat_client, http, scene, errcode):
    answer = http.post(wechat.base_url + "/wxa/getwxacodeunlimit",
                       params={"access_token": wechat_client.access_token()},
                       json={"scene": scene, "page": PAGE})
    assert answer.status_code == 200 and answer.json()["errcode"] == errcode


def test_unknown_page_is_typed_invalid_page(wechat_client):
    with pytest.raises(WeChatInvalidPage) as caught:
        wechat_client.get_unlimited("s1", "pages/nowhere/index", check_path=True)
    assert caught.value.errcode == 41030 and not caught.value.retryable


def test_unknown_page_passes_when_path_is_not_checked(wechat_client):
    assert wechat_client.get_unlimited("s1", "pages/unreleased/index", check_path=False)


def test_rate_limit_is_typed_and_retryable(wechat, wechat_client):
    wechat.fail_next("getwxacodeunlimit", errcode=45009)
    with pytest.raises(WeChatRateLimited) as caught:
        wechat_client.get_unlimited("s1", PAGE)
    assert caught.value.errcode == 45009 and caught.value.retryable


def test_server_error_is_retryable_and_keeps_retry_after(wechat, wechat_client):
    wechat.fail_next("getwxacodeunlimit", http_status=503, headers={"Retry-After": "7"})
    with pytest.raises(WeChatUnavailable) as caught:
        wechat_client.get_unlimited("s1", PAGE)
    assert caught.value.retryable and caught.value.retry_after == 7


def test_slow_wechat_becomes_a_retryable_timeout(wechat, http):
    client = WeChatClient(wechat.base_url, wechat.appid, wechat.secret, MemoryTokenCache(),
                          http=http, timeout=0.2)
    wechat.fail_next("getwxacodeunlimit", delay=1.0)
    with pytest.raises(WeChatUnavailable) as caught:
        client.get_unlimited("s1", PAGE)
    assert caught.value.retryable
