"""Fixtures: the fakes running on 127.0.0.1, and clients pointed at them."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
import redis

from backend.integrations import MemoryTokenCache, SmsClient, WeChatClient
from tests.fakes import FakeAssessmentCore, FakeSmsGateway, FakeWeChat


class Clock:
    """A clock tests move by hand."""

    def __init__(self, now: float = 1_800_000_000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move the clock forward."""
        self.now += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client() as client:
        yield client


@pytest.fixture
def wechat(clock: Clock) -> Iterator[FakeWeChat]:
    with FakeWeChat(appid="wx_test_app", secret="test-secret", clock=clock) as fake:
        yield fake


@pytest.fixture
def wechat_client(wechat: FakeWeChat, http: httpx.Client, clock: Clock) -> WeChatClient:
    return WeChatClient(wechat.base_url, wechat.appid, wechat.secret, MemoryTokenCache(clock),
                        http=http, timeout=2.0, clock=clock)


@pytest.fixture
def sms_gateway() -> Iterator[FakeSmsGateway]:
    with FakeSmsGateway() as fake:
        yield fake


@pytest.fixture
def sms_client(sms_gateway: FakeSmsGateway, http: httpx.Client) -> SmsClient:
    return SmsClient(sms_gateway.send_url, http=http, timeout=2.0)


@pytest.fixture
def core() -> Iterator[FakeAssessmentCore]:
    with FakeAssessmentCore() as fake:
        yield fake


@pytest.fixture
def redis_db15(redis_url) -> Iterator[redis.Redis]:
    """The shared test Redis (a missing Redis fails under CI; see tests/conftest.py)."""
    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    yield client
    client.flushdb()
    client.close()
