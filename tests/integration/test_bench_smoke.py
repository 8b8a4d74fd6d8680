"""Every benchmark still runs against the current schema: each one's smoke mode, on PostgreSQL.

The benchmarks (`make bench`, tests/perf) generate their data with SQL of their own and call
the services directly, so a schema or signature change can break them without failing any
other test. Here each bench module runs its smallest setup and a second or so of its
measurement (`run(smoke=True)`): a benchmark that no longer runs fails `make test`. The
figures of a smoke run mean nothing and are not looked at; that each module produced rows
without an error is what is checked.
"""

from __future__ import annotations

import gc
import importlib
import warnings

import pytest

from tests.conftest import check_postgres, postgres_url
from tests.perf.__main__ import bench_names, call_run

BENCHES = bench_names()


@pytest.fixture
def bench_services(monkeypatch, redis_url):
    """Point the benchmarks at the test PostgreSQL server and the test Redis server."""
    url = postgres_url()
    check_postgres(url)
    monkeypatch.setenv("BENCH_DATABASE_URL", url)
    # The push benchmark's workers use a Redis database of its own (12) on this server.
    monkeypatch.setenv("REDIS_URL", redis_url.rsplit("/", 1)[0] + "/0")


def test_every_bench_module_is_found():
    """The discovery the runner uses finds the benchmarks (an empty list would pass below)."""
    assert {"bench_submission", "bench_release", "bench_ledger_verify",
            "bench_console"} <= set(BENCHES)


@pytest.mark.parametrize("name", BENCHES)
def test_bench_runs_in_smoke_mode(name, bench_services):
    """The benchmark sets up its smallest data and measures once, without an error."""
    module = importlib.import_module(f"tests.perf.{name}")
    results = call_run(module, smoke=True)
    with warnings.catch_warnings():  # a benchmark's dropped database leaves its pool behind:
        warnings.simplefilter("ignore", ResourceWarning)  # collect it here, not in the next
        gc.collect()
    assert results, f"{name} returned no figures"
    assert not [r for r in results if r.error], results
    assert all(r.value == r.value for r in results), results  # no NaN

