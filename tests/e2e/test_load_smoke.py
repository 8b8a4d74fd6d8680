"""Load smoke test: a burst of concurrent raters against gunicorn on PostgreSQL and Redis.

300 invitations issued through the batch API, then 16 client threads at once: the rating page,
the invitation API, QR codes, one submission per token, a repeat for every third token, and
for some tokens two submissions racing each other. Nothing may fail with a 5xx, every token
counts exactly once, and the run stays inside a generous time bound (a bound against hangs,
not a performance target: those live in tests/perf).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
import sqlalchemy as sa

from tests.conftest import (
    SEAL_TEST_KEYS,
    TEST_KEYS,
    base_config,
    missing,
    private_postgres_database,
)
from tests.support.redis_db import private_redis

ROOT = Path(__file__).resolve().parents[2]
REDIS_DB = 8  # a database of its own: this test flushes it
TOKENS, RACING, CLIENTS = 300, 30, 16
TZ = ZoneInfo("Asia/Shanghai")

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]


@dataclass
class Served:
    """A running gunicorn and what the test needs to reach it."""

    base_url: str
    database_url: str
    auth: dict[str, str]
    log: Path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def prepare(database_url: str) -> dict[str, str]:
    """Create the schema, the demo county and an API key; return its Authorization header."""
    from backend import create_app
    from backend.extensions import db
    from backend.services.accounts.api_clients import create_client
    from backend.services.demo.seed import seed

    app = create_app(base_config(database_url))
    with app.app_context():
        db.create_all()
        seed(db.session)
        _, key = create_client(db.session, "load-smoke", ["events:write"])
        db.session.remove()
        db.engine.dispose()
    return {"Authorization": f"Bearer {key}"}


def answering(url: str) -> bool:
    with contextlib.suppress(httpx.HTTPError):
        return httpx.get(url, timeout=1).status_code == 200
    return False


@pytest.fixture
def redis_load(redis_url) -> Iterator[str]:
    """Return a flushed Redis database of this test's own (the limiter and the queues)."""
    with private_redis(redis_url, REDIS_DB) as url:
        yield url


@pytest.fixture
def served(redis_load, tmp_path) -> Iterator[Served]:
    """Start gunicorn with the deployed settings (2 workers x 4 threads) on a fresh database."""
    try:
        import gunicorn  # noqa: F401
    except ImportError as exc:
        missing("gunicorn", str(exc))
    with private_postgres_database("ssp_load") as database_url:
        auth = prepare(database_url)
        port = free_port()
        env = {k: v for k, v in os.environ.items()
               if k not in ("PROMETHEUS_MULTIPROC_DIR", "SMS_GATEWAY_URL", "FLASK_APP")}
        env.update({"PYTHONPATH": str(ROOT), "DATABASE_URL": database_url,
                    "REDIS_URL": redis_load, "SECRET_KEYS": ",".join(TEST_KEYS),
                    "RATING_SEAL_KEYS": ",".join(SEAL_TEST_KEYS),
                    "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}", "LOG_LEVEL": "WARNING",
                    "RATELIMIT_PUBLIC": "100000000/minute", "WEB_CONCURRENCY": "2",
                    "GUNICORN_THREADS": "4",
                    "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "prometheus")})
        log = tmp_path / "web.log"
        with log.open("w") as out:
            web = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "-c", "deploy/gunicorn.conf.py",
                 "-b", f"127.0.0.1:{port}", "backend:create_app()"], cwd=ROOT, env=env,
                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            deadline = time.monotonic() + 30
            while not answering(f"http://127.0.0.1:{port}/healthz"):
                assert web.poll() is None and time.monotonic() < deadline, log.read_text()
                time.sleep(0.2)
            yield Served(f"http://127.0.0.1:{port}", database_url, auth, log)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(web.pid, signal.SIGTERM)
            try:
                web.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(web.pid, signal.SIGKILL)
                web.wait()


def issue(served: Served) -> list[str]:
    """Issue TOKENS invitations in batches of 100; return their URL tokens."""
    occurred = (datetime.now(TZ) - timedelta(minutes=5)).isoformat(timespec="seconds")
    tokens = []
    with httpx.Client(base_url=served.base_url, timeout=30) as http:
        for start in range(0, TOKENS, 100):
            events = [{"source": "load-smoke", "external_id": f"L{n}",
                       "cadre_code": f"C{1 + n % 40:03d}", "event_type": "approval",
                       "occurred_at": occurred, "channels": ["qr"]}
                      for n in range(start, start + 100)]
            response = http.post("/api/v1/events/batch", json={"events": events},
                                 headers=served.auth)
            assert response.status_code == 200, response.text
            results = response.json()["results"]
            assert {r["status"] for r in results} == {201}, results
            tokens += [r["invitation"]["token"] for r in results]
    return tokens


class Raters:
    """Thread pool clients recording (kind, token, status) of every request they make."""

    def __init__(self, base_url: str) -> None:
        self.base_url, self.local, self.lock = base_url, threading.local(), threading.Lock()
        self.clients: list[httpx.Client] = []
        self.seen: list[tuple[str, str, int]] = []

    def http(self) -> httpx.Client:
        if not hasattr(self.local, "client"):
            self.local.client = httpx.Client(base_url=self.base_url, timeout=30)
            with self.lock:
                self.clients.append(self.local.client)
        return self.local.client

    def call(self, kind: str, token: str, method: str, path: str, body=None) -> None:
        status = self.http().request(method, path, json=body).status_code
        with self.lock:
            self.seen.append((kind, token, status))

    def visit(self, n: int, token: str) -> None:
        """Open the page and the API, maybe the QR code, submit, maybe submit again."""
        self.call("page", token, "GET", f"/r/{token}")
        self.call("invitation", token, "GET", f"/api/v1/invitations/{token}")
        if n % 3 == 1:
            self.call("qr", token, "GET", f"/r/{token}/qr.png")
        rating = f"/api/v1/invitations/{token}/rating"
        self.call("first", token, "POST", rating, {"score": 1 + n % 10, "tags": []})
        if n % 3 == 0:
            self.call("repeat", token, "POST", rating, {"score": 5})

    def race(self, token: str) -> None:
        self.call("race", token, "POST", f"/api/v1/invitations/{token}/rating", {"score": 7})

    def statuses(self, kind: str) -> list[int]:
        return [status for k, _, status in self.seen if k == kind]

    def close(self) -> None:
        for client in self.clients:
            client.close()


def burst(served: Served, tokens: list[str]) -> Raters:
    """Run every visit and the racing pairs on CLIENTS threads at once."""
    raters = Raters(served.base_url)
    try:
        with ThreadPoolExecutor(CLIENTS) as pool:
            futures = [pool.submit(raters.race, t) for t in tokens[:RACING] for _ in range(2)]
            futures += [pool.submit(raters.visit, n, t)
                        for n, t in enumerate(tokens[RACING:])]
            for future in futures:
                future.result()
    finally:
        raters.close()
    return raters


def stored(database_url: str) -> tuple[int, int]:
    """Return the ratings waiting for release and the links marked used in the database."""
    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as conn:
            return (conn.scalar(sa.text("SELECT count(*) FROM pending_items "
                                        "WHERE kind = 'rating'")),
                    conn.scalar(sa.text("SELECT count(*) FROM invitation_use_tags")))
    finally:
        engine.dispose()


def test_a_burst_of_concurrent_raters_gets_no_server_error_and_each_token_counts_once(served):
    started = time.monotonic()
    tokens = issue(served)
    raters = burst(served, tokens)
    elapsed = time.monotonic() - started

    errors = [seen for seen in raters.seen if seen[2] >= 500]
    assert not errors, (errors[:10], served.log.read_text()[-3000:])
    assert set(raters.statuses("page")) == {200}
    assert set(raters.statuses("invitation")) == {200}
    assert set(raters.statuses("qr")) == {200}
    assert raters.statuses("first").count(201) == TOKENS - RACING
    assert set(raters.statuses("first")) == {201}
    assert len(raters.statuses("repeat")) == (TOKENS - RACING + 2) // 3
    assert set(raters.statuses("repeat")) == {409}
    for token in tokens[:RACING]:
        pair = sorted(status for kind, t, status in raters.seen if kind == "race" and t == token)
        assert pair == [201, 409], (token, pair)
    assert stored(served.database_url) == (TOKENS, TOKENS)
    print(f"{len(raters.seen)} requests in {elapsed:.1f} s")  # speed is make bench's business
