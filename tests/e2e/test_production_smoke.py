"""Production-like smoke test: gunicorn (2 workers), an RQ worker and cron on PostgreSQL and
Redis, driven over HTTP from the directory to the push at the fake assessment core.

Every process is real and started the way deploy/ starts it; the test then stops them with
SIGTERM and expects each to exit cleanly. It also checks the observability of that flow:
/readyz, Prometheus metrics summed over both gunicorn workers, and JSON log lines that carry
the caller's X-Request-ID from the web process into the worker's job.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest

from tests.conftest import SEAL_TEST_KEYS, TEST_KEYS, missing, private_postgres_database
from tests.fakes import FakeAssessmentCore
from tests.support.redis_db import private_redis

ROOT = Path(__file__).resolve().parents[2]
REDIS_DB = 13  # a database of its own: this test flushes it
TZ = ZoneInfo("Asia/Shanghai")
STOP_TIMEOUT = 30

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]


@dataclass
class Stack:
    """The running processes, their log files and what the test needs to reach them."""

    base_url: str
    env: dict[str, str]
    logs: Path
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)
    started: float = field(default_factory=time.monotonic)

    def log_lines(self, name: str) -> list[dict]:
        """Return the JSON lines a process wrote so far (other lines are skipped)."""
        records = []
        for line in (self.logs / f"{name}.log").read_text(encoding="utf-8").splitlines():
            with contextlib.suppress(ValueError):
                record = json.loads(line)
                if isinstance(record, dict):
                    records.append(record)
        return records

    def output(self, name: str) -> str:
        """Return the last lines a process wrote, for failure messages."""
        return "\n".join((self.logs / f"{name}.log").read_text(encoding="utf-8")
                         .splitlines()[-40:])


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until(condition: Callable[[], object], timeout: float, step: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.TransportError):
            if condition():
                return True
        time.sleep(step)
    return False


def run_cli(env: dict[str, str], *args: str) -> str:
    """Run `flask --app backend ...` as a process; return its output, failing on errors."""
    done = subprocess.run([sys.executable, "-m", "flask", "--app", "backend", *args], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def start(stack: Stack, name: str, *command: str, env: dict[str, str] | None = None) -> None:
    """Start a process in a session of its own, its output going to <name>.log."""
    with (stack.logs / f"{name}.log").open("w") as log:
        stack.processes[name] = subprocess.Popen(
            [sys.executable, *command], cwd=ROOT, env=env or stack.env, stdout=log,
            stderr=subprocess.STDOUT, start_new_session=True)


def stop(process: subprocess.Popen) -> int | None:
    """Send SIGTERM and return the exit code, or None when it outlived STOP_TIMEOUT."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        return process.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        return None


def kill_group(process: subprocess.Popen) -> None:
    """Kill what is left of a process's session (it was started in one of its own)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=5)


@pytest.fixture
def redis_smoke(redis_url) -> Iterator[str]:
    """Return a flushed Redis database of this test's own."""
    with private_redis(redis_url, REDIS_DB) as url:
        yield url


@pytest.fixture
def core() -> Iterator[FakeAssessmentCore]:
    with FakeAssessmentCore() as fake:
        yield fake


@pytest.fixture
def stack(redis_smoke, core, tmp_path) -> Iterator[Stack]:
    """Migrate a fresh database, then start gunicorn, a worker and cron against it."""
    try:
        import gunicorn  # noqa: F401
    except ImportError as exc:
        missing("gunicorn", str(exc))
    with private_postgres_database("ssp_smoke") as database_url:
        port = free_port()
        env = {key: value for key, value in os.environ.items()
               if key not in ("PROMETHEUS_MULTIPROC_DIR", "SMS_GATEWAY_URL", "FLASK_APP")}
        env.update({"PYTHONPATH": str(ROOT), "DATABASE_URL": database_url,
                    "REDIS_URL": redis_smoke, "SECRET_KEYS": ",".join(TEST_KEYS),
                    "RATING_SEAL_KEYS": ",".join(SEAL_TEST_KEYS),
                    "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
                    "ASSESSMENT_CORE_URL": core.webhook_url,
                    "ASSESSMENT_CORE_SECRET": core.secret, "LOG_FORMAT": "json",
                    "LOG_LEVEL": "INFO", "RATELIMIT_PUBLIC": "100000/minute",
                    "PYTHONUNBUFFERED": "1"})
        stack = Stack(f"http://127.0.0.1:{port}", env, tmp_path)
        run_cli(env, "db", "upgrade")  # also proves the migrations on PostgreSQL
        web_env = {**env, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "prometheus"),
                   "WEB_CONCURRENCY": "2"}
        try:
            start(stack, "web", "-m", "gunicorn", "-c", "deploy/gunicorn.conf.py",
                  "-b", f"127.0.0.1:{port}", "-w", "2", "backend:create_app()", env=web_env)
            start(stack, "worker", "-m", "workers")
            start(stack, "cron", "-m", "workers.cron")
            yield stack
        finally:
            for process in stack.processes.values():
                if process.poll() is None:
                    stop(process)
                kill_group(process)


# --- the flow over HTTP -------------------------------------------------------------------
def api_key(stack: Stack) -> dict[str, str]:
    """Create an API client with the CLI; return its Authorization header."""
    output = run_cli(stack.env, "api-client", "create", "smoke", "--scopes",
                     "events:write,directory:write,scores:publish,scores:read")
    return {"Authorization": f"Bearer {output.strip().splitlines()[-1]}"}


def put_directory(http: httpx.Client, auth: dict[str, str]) -> None:
    unit = http.put("/api/v1/units/U-SMOKE", headers=auth,
                    json={"name": "冒烟测试局", "category": "department"})
    assert unit.status_code == 201, unit.text
    cadre = http.put("/api/v1/cadres/C-SMOKE", headers=auth,
                     json={"name": "张三", "unit_code": "U-SMOKE", "position": "科长"})
    assert cadre.status_code == 201, cadre.text


def post_event(http: httpx.Client, auth: dict[str, str], request_id: str) -> str:
    """Report a service event; return its invitation token."""
    occurred = (datetime.now(TZ) - timedelta(minutes=5)).isoformat(timespec="seconds")
    response = http.post("/api/v1/events", headers={**auth, "X-Request-ID": request_id},
                         json={"source": "smoke", "external_id": "SP-1", "cadre_code": "C-SMOKE",
                               "event_type": "approval", "occurred_at": occurred,
                               "recipient": {"phone": "13800138000"},
                               "channels": ["sms", "qr"]})
    assert response.status_code == 201, response.text
    assert response.headers["X-Request-ID"] == request_id
    return response.json()["invitation"]["token"]


def rate(http: httpx.Client, token: str) -> None:
    page = http.get(f"/r/{token}")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    rating = http.post(f"/api/v1/invitations/{token}/rating", json={"score": 9})
    assert rating.status_code == 201, rating.text
    assert re.fullmatch(r"[0-9a-f]+", rating.json()["receipt"])


def publish(http: httpx.Client, auth: dict[str, str], period: str, request_id: str) -> None:
    response = http.post("/api/v1/scores/publish", json={"period": period},
                         headers={**auth, "X-Request-ID": request_id})
    assert response.status_code == 202, response.text


def pushed_score(core: FakeAssessmentCore, period: str) -> dict | None:
    """Return the first verified score.published webhook of the cadre and period, if any."""
    for delivery in core.of_type("score.published"):
        data = delivery.body.get("data") or {}
        if (data.get("cadre_code"), data.get("period")) == ("C-SMOKE", period):
            return {"headers": delivery.headers, "data": data}
    return None


# --- metrics and logs ---------------------------------------------------------------------
def sample(text: str, name: str, **labels: str) -> float | None:
    """Return the value of a Prometheus sample with exactly these labels, if present."""
    for line in text.splitlines():
        found = re.fullmatch(rf"{re.escape(name)}(?:\{{(.*)\}})? (\S+)", line)
        if found and dict(re.findall(r'(\w+)="([^"]*)"', found.group(1) or "")) == labels:
            return float(found.group(2))
    return None


def healthz_pids(stack: Stack) -> set[str]:
    """Return the pids of the gunicorn workers whose access log shows a /healthz."""
    return {r["pid"] for r in stack.log_lines("web") if r.get("path") == "/healthz"}


def spread_requests(stack: Stack) -> int:
    """Send /healthz on fresh connections until both workers served some; return the count."""
    sent = 0

    def one(_: int) -> int:
        return httpx.get(stack.base_url + "/healthz", timeout=10).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        while sent < 400 and len(healthz_pids(stack)) < 2:
            assert set(pool.map(one, range(16))) == {200}
            sent += 16
            time.sleep(0.1)  # let the access log lines land
    return sent


def with_request_id(records: list[dict], request_id: str) -> list[dict]:
    return [r for r in records if r.get("request_id") == request_id]


# --- the test -----------------------------------------------------------------------------
def test_the_whole_flow_runs_on_gunicorn_rq_and_cron_and_stops_cleanly(stack, core):
    period = datetime.now(TZ).strftime("%Y-%m")
    event_id, publish_id = f"smoke-event-{uuid.uuid4().hex[:8]}", f"smoke-pub-{uuid.uuid4().hex}"
    with httpx.Client(base_url=stack.base_url, timeout=15) as http:
        assert wait_until(lambda: http.get("/readyz").status_code == 200, 30), \
            stack.output("web")
        auth = api_key(stack)
        put_directory(http, auth)
        token = post_event(http, auth, event_id)
        rate(http, token)
        run_cli(stack.env, "ratings", "release")  # one rating is below a production batch
        publish(http, auth, period, publish_id)
        assert wait_until(lambda: pushed_score(core, period), 60), stack.output("worker")
        assert core.rejected == 0
        pushed = pushed_score(core, period)
        assert pushed["headers"]["Webhook-Signature"].startswith("v1,")

        ready = http.get("/readyz")
        assert ready.status_code == 200 and ready.json()["redis"] == "ok"

        healthz = spread_requests(stack)
        assert len(healthz_pids(stack)) == 2, "one gunicorn worker served every request"
        metrics = http.get("/metrics").text
    assert sample(metrics, "ssp_http_requests_total", endpoint="/healthz", method="GET",
                  status="200") == healthz  # summed over both workers
    assert sample(metrics, "ssp_ratings_accepted_total", kind="event") >= 1
    assert sample(metrics, "ssp_invitations_issued_total", channel="sms", throttled="false") == 1
    assert sample(metrics, "ssp_push_outbox_messages", status="delivered") >= 1
    assert sample(metrics, "ssp_queue_jobs", queue="high", state="queued") is not None
    assert "# TYPE ssp_alerts_open gauge" in metrics
    assert "# TYPE ssp_delivery_outbox_messages gauge" in metrics

    web_lines = with_request_id(stack.log_lines("web"), event_id)
    assert web_lines, stack.output("web")
    assert {"time", "level", "logger", "message"} <= set(web_lines[0])
    assert token not in (stack.logs / "web.log").read_text(encoding="utf-8")
    def publish_lines() -> list[dict]:
        return [r for r in with_request_id(stack.log_lines("worker"), publish_id)
                if r["logger"] == "workers.jobs.scores"]

    # The nightly publication the cron starts may push the score first; wait for our job.
    assert wait_until(lambda: bool(publish_lines()), 60), stack.output("worker")
    published = publish_lines()
    assert published[0]["job_id"] == f"scores-publish-{period}"

    codes = {name: stop(process) for name, process in stack.processes.items()}
    assert codes == {"web": 0, "worker": 0, "cron": 0}, codes
