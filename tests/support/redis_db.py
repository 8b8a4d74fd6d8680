"""A Redis database of a test's own, flushed before and after (its number is the test's)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator


@contextlib.contextmanager
def private_redis(redis_url: str, number: int) -> Iterator[str]:
    """Yield the URL of database `number` on the test Redis server, flushed around the test."""
    import redis

    url = redis_url.rsplit("/", 1)[0] + f"/{number}"
    connection = redis.Redis.from_url(url)
    connection.flushdb()
    try:
        yield url
    finally:
        connection.flushdb()
        connection.close()
