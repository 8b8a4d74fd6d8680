"""A tiny cache with locks for shared credentials (WeChat access tokens)."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import zlib
from collections import OrderedDict
from collections.abc import Callable, Iterator
from typing import Any, Protocol

from redis.exceptions import LockError

from .errors import LockTimeout

log = logging.getLogger(__name__)


class TokenCache(Protocol):
    """Where credentials shared by every process live."""
    def get(self, key: str) -> str | None:
        """Return the value stored under key, or None."""
    def set(self, key: str, value: str, ttl_seconds: float) -> None:
        """Store value under key for ttl_seconds."""
    def delete(self, key: str) -> None:
        """Forget key."""
    def lock(self, name: str, timeout: float) -> contextlib.AbstractContextManager[None]:
        """Hold a lock named name; wait at most timeout seconds, then raise LockTimeout."""


class RedisTokenCache:
    """TokenCache on Redis, shared by every web node and worker."""
    def __init__(self, redis_client: Any, prefix: str = "ssp:"):
        self._redis = redis_client
        self._prefix = prefix

    def get(self, key: str) -> str | None:
        """Return the value stored under key, or None."""
        value = self._redis.get(self._prefix + key)
        if isinstance(value, bytes):
            return value.decode()
        return value

    def set(self, key: str, value: str, ttl_seconds: float) -> None:
        """Store value under key for ttl_seconds."""
        self._redis.set(self._prefix + key, value, px=max(1, int(ttl_seconds * 1000)))

    def delete(self, key: str) -> None:
        """Forget key."""
        self._redis.delete(self._prefix + key)

    @contextlib.contextmanager
    def lock(self, name: str, timeout: float) -> Iterator[None]:
        """Hold a Redis lock; it expires after timeout so a crashed holder frees it."""
        lock = self._redis.lock(self._prefix + "lock:" + name, timeout=timeout,
                                blocking_timeout=timeout)
        if not lock.acquire():
            raise LockTimeout(f"lock {name!r} not acquired within {timeout}s")
        try:
            yield
        finally:
            try:
                lock.release()
            except LockError:  # expired while held: the next holder owns it now
                log.warning("lock %r expired before release", name)


class MemoryTokenCache:
    """The in-process TTL cache: TokenCache in memory, for embedded mode and tests.

    Each entry expires after its own TTL; with `maxsize` the least recently used entry goes
    first when full (mini-program code images). Locks are a fixed set chosen by name, so a
    cache keyed by unbounded names (scenes) never grows a lock per name.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic, maxsize: int | None = None,
                 stripes: int = 32):
        self._clock = clock
        self._maxsize = maxsize
        self._values: OrderedDict[str, tuple[str, float]] = OrderedDict()
        self._guard = threading.Lock()
        self._stripes = [threading.RLock() for _ in range(stripes)]

    def get(self, key: str) -> str | None:
        """Return the value stored under key, or None."""
        with self._guard:
            item = self._values.get(key)
            if item is None or item[1] <= self._clock():
                self._values.pop(key, None)
                return None
            self._values.move_to_end(key)
            return item[0]

    def set(self, key: str, value: str, ttl_seconds: float) -> None:
        """Store value under key for ttl_seconds, dropping the least recently used when full."""
        with self._guard:
            self._values[key] = (value, self._clock() + ttl_seconds)
            self._values.move_to_end(key)
            while self._maxsize is not None and len(self._values) > self._maxsize:
                self._values.popitem(last=False)

    def delete(self, key: str) -> None:
        """Forget key."""
        with self._guard:
            self._values.pop(key, None)

    @contextlib.contextmanager
    def lock(self, name: str, timeout: float) -> Iterator[None]:
        """Hold the process-local lock that name maps to."""
        lock = self._stripes[zlib.crc32(name.encode()) % len(self._stripes)]
        if not lock.acquire(timeout=timeout):
            raise LockTimeout(f"lock {name!r} not acquired within {timeout}s")
        try:
            yield
        finally:
            lock.release()
