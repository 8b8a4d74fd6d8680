"""Embedded mode under load: the demo server, 8 concurrent API clients, jobs running beside.

The server is started as `make demo` starts it (`flask demo serve`: SQLite, no Redis, the
in-process job thread and periodic jobs started with the server). For 30 seconds eight
clients post service events with the SMS channel (deliveries are jobs), rate the links they
get, repeat recipients (throttling), and now and then publish the month (a heavy job). No
request may fail with a 5xx, the server log may not mention a locked database, and every
accepted rating is counted exactly once.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import random
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest

from tests.conftest import TEST_KEYS
from tests.perf.processes import free_port

ROOT = Path(__file__).resolve().parents[2]
CLIENTS, SECONDS = 8, 30
CADRES = [f"L{i:03d}" for i in range(12)]
PHONES = [f"1390000{i:04d}" for i in range(40)]  # few enough that recipients repeat
TZ = ZoneInfo("Asia/Shanghai")

pytestmark = [pytest.mark.slow]


@dataclass
class Served:
    """The running demo server and what the clients need."""

    base_url: str
    database: Path
    auth: dict[str, str]
    log: Path


@dataclass
class Tally:
    """What the clients saw, shared between their threads."""

    statuses: Counter = field(default_factory=Counter)
    rated: int = 0
    errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def saw(self, what: str, response: httpx.Response) -> None:
        with self.lock:
            self.statuses[(what, response.status_code)] += 1
            if response.status_code >= 500:
                self.errors.append(f"{what} {response.status_code}: {response.text[:300]}")


def flask(env: dict[str, str], *args: str) -> str:
    """Run a flask command of the app as `make demo` does; return its output."""
    done = subprocess.run([sys.executable, "-m", "flask", "--app", "backend", *args], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def listening(port: int) -> bool:
    """Return whether the port accepts connections (asks no HTTP request of the app)."""
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
        return True
    return False


@pytest.fixture
def server(tmp_path) -> Iterator[Served]:
    """Migrate a fresh SQLite file, create a key, and serve it as `make demo` does."""
    database = tmp_path / "demo.db"
    port = free_port()
    env = {k: v for k, v in os.environ.items()
           if k not in ("DATABASE_URL", "REDIS_URL", "SMS_GATEWAY_URL", "FLASK_APP",
                        "ASSESSMENT_CORE_URL", "PUBLIC_BASE_URL")}
    env.update({"PYTHONPATH": str(ROOT), "DATABASE_URL": f"sqlite:///{database}",
                "SECRET_KEYS": ",".join(TEST_KEYS), "RATELIMIT_PUBLIC": "1000000/minute",
                "LOG_LEVEL": "INFO"})
    flask(env, "db", "upgrade")
    key = flask(env, "api-client", "create", "load",
                "--scopes", "events:write,directory:write,scores:publish").strip().splitlines()[-1]
    auth = {"Authorization": f"Bearer {key}"}
    log = tmp_path / "serve.log"
    with log.open("w") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "backend", "demo", "serve",
             "--port", str(port)], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while not listening(port):
            assert server.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        yield Served(f"http://127.0.0.1:{port}", database, auth, log)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=15)


@pytest.fixture
def served(server) -> Served:
    """The server with a unit and its officials created over the API."""
    with httpx.Client(base_url=server.base_url, headers=server.auth, timeout=30) as api:
        assert api.put("/api/v1/units/LD001", json={"name": "负载测试镇",
                                                     "category": "township"}).is_success
        for code in CADRES:
            assert api.put(f"/api/v1/cadres/{code}", json={
                "name": f"干部{code}", "unit_code": "LD001", "position": "科员"}).is_success
    return server


def client_loop(served: Served, number: int, stop: float, tally: Tally) -> None:
    """Post SMS events and rate their links until `stop`; one client also publishes."""
    rng = random.Random(number)
    month = datetime.now(TZ).strftime("%Y-%m")
    with httpx.Client(base_url=served.base_url, timeout=60) as http:
        for n in itertools.count():
            if time.monotonic() >= stop:
                return
            if number == 0 and n % 40 == 20:
                tally.saw("publish", http.post("/api/v1/scores/publish", headers=served.auth,
                                               json={"period": month}))
            event = {"source": "load", "external_id": f"LD-{number}-{n}",
                     "cadre_code": rng.choice(CADRES), "event_type": "approval",
                     "occurred_at": datetime.now(TZ).isoformat(),
                     "recipient": {"phone": rng.choice(PHONES)}, "channels": ["sms", "qr"]}
            answer = http.post("/api/v1/events", headers=served.auth, json=event)
            tally.saw("event", answer)
            if answer.status_code != 201:
                continue
            token = answer.json()["invitation"]["token"]
            rating = http.post(f"/api/v1/invitations/{token}/rating",
                               json={"score": rng.randint(1, 10), "tags": []})
            tally.saw("rating", rating)
            if rating.status_code == 201:
                with tally.lock:
                    tally.rated += 1


def counted(database: Path) -> tuple[int, int]:
    """Return the stored ratings and the sum of the count table."""
    with contextlib.closing(sqlite3.connect(database)) as conn:
        ratings = conn.execute("SELECT count(*) FROM ratings").fetchone()[0]
        counts = conn.execute("SELECT coalesce(sum(count), 0) FROM rating_counts").fetchone()[0]
    return ratings, counts


def test_embedded_server_holds_eight_clients_with_jobs_running(served):
    tally = Tally()
    stop = time.monotonic() + SECONDS
    threads = [threading.Thread(target=client_loop, args=(served, n, stop, tally))
               for n in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=SECONDS + 120)
    log = served.log.read_text()
    print(f"embedded load: {tally.rated} ratings in {SECONDS} s; {dict(tally.statuses)}")
    assert not tally.errors, tally.errors[:5]
    assert "database is locked" not in log
    assert "Traceback" not in log, log[-3000:]
    assert tally.rated >= 50, tally.statuses  # the clients really did work
    assert tally.statuses[("event", 201)] >= tally.rated
    assert any(what == "publish" for what, _ in tally.statuses), tally.statuses
    assert counted(served.database) == (tally.rated, tally.rated)


def test_embedded_server_runs_its_jobs_before_any_request(server):
    deadline = time.monotonic() + 30
    while "[cron-" not in server.log.read_text():
        assert time.monotonic() < deadline, server.log.read_text()[-2000:]
        time.sleep(0.5)
    assert '"GET ' not in server.log.read_text() and "HTTP/1.1" not in server.log.read_text()
