"""One thread doing a session's database work in order while the caller computes.

Publication reads counts, scores them (pure Python) and writes the results, batch after batch.
On PostgreSQL the database's share (reading the next batch, writing the last) can run while
the current batch is scored: every database call on a session goes to that session's one
worker thread (publication has two: one reading, one writing), in the order given, so no
session is used by two threads at once, and the caller waits only for a result it needs or
when writes fall behind. Jobs run in a copy of the caller's context, where the application
context the session depends on lives. Without a thread (SQLite, whose connections stay in
their thread) each job runs at once, in the caller's thread.
"""

from __future__ import annotations

import contextvars
import itertools
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")


def run_now(job: Callable[[], T]) -> T:
    """Run a database job at once, in this thread, and return its result."""
    return job()


class SessionWorker:
    """Run database jobs in submission order, in one thread or inline."""

    def __init__(self, threaded: bool, max_pending_writes: int = 2) -> None:
        self.executor = ThreadPoolExecutor(1, "session-worker") if threaded else None
        self.max_pending = max_pending_writes
        self.writes: list[Future] = []

    def submit(self, job: Callable[[], T]) -> Future[T]:
        """Queue a job whose result the caller will ask for; return its future."""
        if self.executor is None:
            future: Future[T] = Future()
            future.set_result(run_now(job))
            return future
        return self.executor.submit(contextvars.copy_context().run, job)

    def write(self, job: Callable[[], Any]) -> None:
        """Queue a job run for its effect; wait while `max_pending_writes` are unfinished."""
        while self.writes and (self.writes[0].done() or len(self.writes) >= self.max_pending):
            self.writes.pop(0).result()  # jobs finish in order; a failure is raised here
        self.writes.append(self.submit(job))

    def batches(self, items: Iterator[T], size: int) -> Iterator[T]:
        """Yield the items, read here `size` at a time, the next batch while one is used."""
        def take() -> list[T]:
            return list(itertools.islice(items, size))

        future = self.submit(take)
        while batch := future.result():
            future = self.submit(take)
            yield from batch

    def close(self) -> None:
        """Wait for every job; raise the first failure."""
        for future in self.writes:
            future.result()
        self.writes = []

    def __enter__(self) -> SessionWorker:
        return self

    def __exit__(self, kind, error, trace) -> None:
        try:
            if error is None:
                self.close()
        finally:
            if self.executor is not None:
                self.executor.shutdown(wait=True, cancel_futures=error is not None)

