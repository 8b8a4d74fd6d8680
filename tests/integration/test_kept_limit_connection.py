"""A submission's limit is counted on a connection its thread keeps: limits' own count, in Redis.

`public_limits.hit` runs limits' fixed-window script on limits' key through a Redis client that
keeps one connection per thread, instead of taking a pooled one per command. These check that
the count is the one limits keeps (the same key, value and expiry, shared with limits' own
calls), that anything else still goes through limits, and what becomes of the connection
when the server drops it or its thread ends.
"""

from __future__ import annotations

import gc
import threading
import uuid

import pytest
import redis
from limits import parse
from limits.storage import RedisStorage
from limits.strategies import FixedWindowRateLimiter, MovingWindowRateLimiter

from backend.public_limits import count_in_storage, hit, kept_client

pytestmark = pytest.mark.redis


@pytest.fixture
def storage(redis_url):
    storage = RedisStorage(redis_url)
    yield storage
    storage.storage.flushdb()
    storage.storage.close()


def key() -> str:
    return f"submit:{uuid.uuid4().hex}:203.0.113.9"


def test_a_kept_count_is_limits_own_count_in_limits_own_key(storage):
    strategy, item, who = FixedWindowRateLimiter(storage), parse("3/minute"), key()
    counted = [hit(strategy, item, who, "rating-links"),
               strategy.hit(item, who, "rating-links"),  # limits' own call, same count
               hit(strategy, item, who, "rating-links"),
               hit(strategy, item, who, "rating-links")]
    assert counted == [True, True, True, False]
    assert strategy.get_window_stats(item, who, "rating-links").remaining == 0
    stored = storage.prefixed_key(item.key_for(who, "rating-links"))
    assert int(storage.storage.get(stored)) == 4
    assert 0 < storage.storage.ttl(stored) <= 60  # the window's expiry, set on the first hit


def test_a_server_that_lost_its_scripts_still_counts(storage):
    strategy, item, who = FixedWindowRateLimiter(storage), parse("5/minute"), key()
    assert hit(strategy, item, who)
    storage.storage.script_flush()  # as after a restart of the server
    assert hit(strategy, item, who)
    assert strategy.get_window_stats(item, who).remaining == 3


def test_another_strategy_is_counted_by_limits_itself(storage):
    strategy, item, who = MovingWindowRateLimiter(storage), parse("2/minute"), key()
    assert [hit(strategy, item, who) for _ in range(3)] == [True, True, False]
    assert strategy.get_window_stats(item, who).remaining == 0


def test_a_dropped_connection_fails_one_count_and_the_next_reconnects(storage):
    strategy, item, who = FixedWindowRateLimiter(storage), parse("9/minute"), key()
    assert hit(strategy, item, who)
    killer = redis.Redis(connection_pool=storage.storage.connection_pool)
    assert killer.client_kill_filter(_id=kept_client(storage).client_id()) == 1
    with pytest.raises(redis.ConnectionError):  # count_in_storage then leaves it to the view
        hit(strategy, item, who)
    assert hit(strategy, item, who)
    assert strategy.get_window_stats(item, who).remaining in (6, 7)  # the failed one may count


def test_count_in_storage_hands_a_dropped_connection_on_to_the_view(app, redis_url,
                                                                    monkeypatch):
    from backend.extensions import limiter

    storage = RedisStorage(redis_url)
    monkeypatch.setattr(limiter, "_storage", storage)
    monkeypatch.setattr(limiter, "_limiter", FixedWindowRateLimiter(storage))
    monkeypatch.setattr(limiter, "_storage_dead", False)  # another test's dead Redis
    who = key()
    assert count_in_storage(who, "raw", None, "5/minute").spent is None
    redis.Redis(connection_pool=storage.storage.connection_pool).client_kill_filter(
        _id=kept_client(storage).client_id())
    assert count_in_storage(who, "raw", None, "5/minute") is None  # the view counts it
    assert count_in_storage(who, "raw", None, "5/minute").spent is None
    storage.storage.flushdb()


def test_each_thread_keeps_its_own_connection_and_gives_it_back_when_it_ends(storage):
    strategy, item = FixedWindowRateLimiter(storage), parse("100/minute")
    pool = storage.storage.connection_pool
    hit(strategy, item, key())  # this thread's own kept connection
    in_use = len(pool._in_use_connections)
    clients: list = []

    def count() -> None:
        hit(strategy, item, key())
        clients.append(id(kept_client(storage)))

    threads = [threading.Thread(target=count) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(clients)) == 3 and id(kept_client(storage)) not in clients
    gc.collect()
    assert len(pool._in_use_connections) == in_use  # each ended thread's went back
