"""The session worker runs database jobs in order, in one thread, and surfaces their failures."""

import contextvars
import threading
import time

import pytest

from backend.storage.session_worker import SessionWorker

REQUEST = contextvars.ContextVar("request", default=None)


@pytest.fixture(params=[True, False], ids=["threaded", "inline"])
def worker(request):
    with SessionWorker(threaded=request.param) as worker:
        yield worker


def test_jobs_run_in_the_order_given_and_in_one_thread(worker):
    done, threads = [], set()

    def job(n):
        def run():
            time.sleep(0.001 * (n % 3))
            done.append(n)
            threads.add(threading.get_ident())
        return run

    for n in range(10):
        worker.write(job(n))
    assert worker.submit(lambda: list(done)).result() == list(range(10))
    assert len(threads) == 1


def test_batches_yield_every_item_in_order(worker):
    assert list(worker.batches(iter(range(25)), size=4)) == list(range(25))
    assert list(worker.batches(iter([]), size=4)) == []


def test_jobs_see_the_callers_context(worker):
    REQUEST.set("app-context")
    assert worker.submit(REQUEST.get).result() == "app-context"


def test_a_failed_write_is_raised_to_the_caller():
    def fail():
        raise ValueError("disk full")

    with pytest.raises(ValueError, match="disk full"), SessionWorker(threaded=True) as worker:
        worker.write(fail)
        worker.write(lambda: None)


def test_writes_wait_while_too_many_are_unfinished():
    gate, started = threading.Event(), []
    with SessionWorker(threaded=True, max_pending_writes=2) as worker:
        worker.write(lambda: (started.append(1), gate.wait(5)))
        worker.write(lambda: started.append(2))
        threading.Timer(0.2, gate.set).start()
        began = time.perf_counter()
        worker.write(lambda: started.append(3))  # waits for the first to finish
        assert time.perf_counter() - began >= 0.15
    assert started == [1, 2, 3]
