"""A tiny cache with locks for shared credentials (WeChat access tokens)."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
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
    """TokenCache in process memory, for embedded mode and unit tests."""
    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self._clock = clock
        self._values: dict[str, tuple[str, float]] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def get(self, key: str) -> str | None:
        """Return the value stored under key, or None."""
        with self._guard:
            item = self._values.get(key)
            if item is None or item[1] <= self._clock():
                self._values.pop(key, None)
                return None
            return item[0]

    def set(self, key: str, value: str, ttl_seconds: float) -> None:
        """Store value under key for ttl_seconds."""
        with self._guard:
            self._values[key] = (value, self._clock() + ttl_seconds)

    def delete(self, key: str) -> None:
        """Forget key."""
        with self._guard:
            self._values.pop(key, None)

    @contextlib.contextmanager
    def lock(self, name: str, timeout: float) -> Iterator[None]:
        """Hold a process-local lock named name."""
        with self._guard:
            lock = self._locks.setdefault(name, threading.Lock())
        if not lock.acquire(timeout=timeout):
            raise LockTimeout(f"lock {name!r} not acquired within {timeout}s")
        try:
            yield
        finally:
            lock.release()
