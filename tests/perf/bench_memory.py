"""Resident memory of the web and worker processes under a mixed load (PostgreSQL, Redis).

Web: gunicorn as deployed (deploy/gunicorn.conf.py, 2 workers x 4 threads) on a fresh
database. Eight client threads walk a fixed cycle for a bounded time: the rating page, the
invitation API, QR codes (PNG, SVG), submissions, batches of 100 events with SMS delivery
(API key), signed-in console pages. Each gunicorn worker's peak resident memory (VmHWM in
/proc) is read at the end. Baseline, same run: an idle worker's resident memory after start.
Worker: one `python -m workers` (RQ, forking a work horse per job, as deployed) runs beside
the load, then drains what it left: the SMS outbox to the local fake gateway, a publication
of the month and its webhooks to the fake assessment core. Peak of the worker process and
of its work horses (sampled every 20 ms); baseline: the idle worker after start.
Target: a web worker under 200 MB resident (the issue sets none for the worker). Redis
database 15, flushed before and after.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import sqlalchemy as sa

from tests.perf.processes import HorseSampler, children, free_port, memory_mb, stop, wait
from tests.perf.report import Result
from tests.perf.support import bench_app, fresh_database

ROOT = Path(__file__).resolve().parents[2]
TARGET_MB = 200
REDIS_DB, WEB_WORKERS, WEB_THREADS, CLIENTS = 15, 2, 4, 8
KEYS = "bench-memory-signing-key-0123456789abcdef"
SEAL_KEYS = "bench-memory-seal-key-0123456789abcdef"
TZ = ZoneInfo("Asia/Shanghai")
CONSOLE = ("/console/", "/console/units", "/console/officials", "/console/funnel",
           "/console/alerts", "/console/api/overview")
EXPECTED = {"page": 200, "invitation": 200, "qr": 200, "rating": 201, "batch": 200,
            "console": 200, "publish": 202}


def redis_url() -> str:
    """Return the local Redis, database 15."""
    base = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"
    return base.rsplit("/", 1)[0] + f"/{REDIS_DB}"


def flush(url: str) -> None:
    """Empty this benchmark's Redis database."""
    import redis

    with redis.Redis.from_url(url) as connection:
        connection.flushdb()


def worker_ready(redis: str) -> bool:
    """Tell whether the RQ worker has registered with Redis."""
    import redis as redis_lib
    from rq import Worker

    with redis_lib.Redis.from_url(redis) as connection:
        return len(Worker.all(connection=connection)) >= 1


def prepare(app, tokens: int) -> tuple[list[str], str]:
    """Seed the demo county, issue QR invitations; return their URL tokens and an API key."""
    from backend.extensions import db
    from backend.services.accounts.api_clients import create_client
    from backend.services.demo.seed import seed
    from backend.services.invitations.events import EventInput, IngestContext
    from backend.services.invitations.ingestion import ingest_events
    from backend.wiring import sealer, token_codec, vault

    issued = []
    with app.app_context():
        seed(db.session)
        _, key = create_client(db.session, "bench-memory", ["events:write", "scores:publish"],
                               ["bench-sms"])
        for start in range(0, tokens, 1000):
            ctx = IngestContext(codec=token_codec(), vault=vault(),
                                catalogue=app.extensions["catalogue"],
                                base_url=app.config["PUBLIC_BASE_URL"], tz=TZ,
                                now=datetime.now(UTC), sealer=sealer())
            items = [EventInput("bench-qr", f"Q{n}", f"C{1 + n % 40:03d}", "approval",
                                datetime.now(UTC) - timedelta(minutes=5))
                     for n in range(start, min(tokens, start + 1000))]
            outcomes, _ = ingest_events(db.session, ctx, items)
            issued += [o.body["invitation"]["token"] for o in outcomes]
    return issued, key


def batch(visit: int) -> dict:
    """Return a batch of 100 events with SMS delivery, each to a phone of its own."""
    occurred = (datetime.now(TZ) - timedelta(minutes=5)).isoformat(timespec="seconds")
    return {"events": [{"source": "bench-sms", "external_id": f"S{visit}-{n}",
                        "cadre_code": f"C{1 + n % 40:03d}", "event_type": "approval",
                        "occurred_at": occurred, "recipient": {"phone": f"139{visit:05d}{n:03d}"},
                        "channels": ["sms"]} for n in range(100)]}


def sign_in(http: httpx.Client) -> None:
    """Sign in to the console as the demo administrator."""
    from backend.services.demo.seed import DEMO_ADMIN

    page = http.get("/console/login").text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    response = http.post("/console/login", data={"username": DEMO_ADMIN[0],
                                                 "password": DEMO_ADMIN[1], "csrf_token": csrf})
    assert response.status_code == 302, response.status_code


def visit(http: httpx.Client, n: int, token: str, auth: dict) -> list[tuple[str, int]]:
    """Make one rater's requests, plus now and then a batch or a console page."""
    calls = [("page", "GET", f"/r/{token}", None), ("invitation", "GET",
             f"/api/v1/invitations/{token}", None), ("qr", "GET", f"/r/{token}/qr.png", None)]
    if n % 4 == 0:
        calls.append(("qr", "GET", f"/r/{token}/qr.svg", None))
    if n % 2 == 0:
        calls.append(("rating", "POST", f"/api/v1/invitations/{token}/rating",
                      {"score": 1 + n % 10}))
    if n % 10 == 0:
        calls.append(("batch", "POST", "/api/v1/events/batch", batch(n)))
    if n % 10 == 5:
        calls.append(("console", "GET", CONSOLE[(n // 10) % len(CONSOLE)], None))
    headers = {"batch": auth}
    return [(kind, http.request(method, path, json=body, headers=headers.get(kind)).status_code)
            for kind, method, path, body in calls]


def drive(base_url: str, tokens: list[str], auth: dict, seconds: float) -> Counter:
    """Run CLIENTS threads of visits until the time is up; return (kind, status) counts."""
    visits, tally, lock = itertools.count(), Counter(), threading.Lock()
    deadline = time.monotonic() + seconds

    def client() -> None:
        with httpx.Client(base_url=base_url, timeout=60) as http:
            sign_in(http)
            while time.monotonic() < deadline:
                n = next(visits)
                if n >= len(tokens):
                    return
                outcome = visit(http, n, tokens[n], auth)
                with lock:
                    tally.update(outcome)

    with ThreadPoolExecutor(CLIENTS) as pool:
        for future in [pool.submit(client) for _ in range(CLIENTS)]:
            future.result()
    return tally


def check(tally: Counter) -> None:
    """Refuse a run where any request got an unexpected status: its figures would mislead."""
    wrong = {f"{k} {s}": c for (k, s), c in tally.items() if s != EXPECTED[k]}
    if wrong:
        raise RuntimeError(f"unexpected statuses {wrong} of {sum(tally.values())} requests")


def serve(env: dict, port: int, log) -> subprocess.Popen:
    """Start gunicorn with the deployed settings and wait until both workers are up."""
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "deploy/gunicorn.conf.py",
         "-b", f"127.0.0.1:{port}", "backend:create_app()"], cwd=ROOT, env=env, stdout=log,
        stderr=subprocess.STDOUT, start_new_session=True)

    def up() -> bool:
        with contextlib.suppress(httpx.HTTPError):
            return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200
        return False

    wait(lambda: up() and len(children(process.pid)) == WEB_WORKERS, 60, "gunicorn", poll=0.2)
    time.sleep(1)  # both workers import the app before they accept
    return process


def drained(engine, period: str, redis: str) -> bool:
    """Tell whether SMS and webhooks are all out, the period published and the queues idle."""
    import redis as redis_lib
    from rq import Queue

    from workers.queues import QUEUES

    with engine.connect() as conn:
        pending = conn.scalar(sa.text(
            "SELECT (SELECT count(*) FROM deliveries WHERE status = 'pending') + "
            "(SELECT count(*) FROM webhook_outbox WHERE status <> 'delivered')"))
        snapshots = conn.scalar(sa.text(
            "SELECT count(*) FROM score_snapshots WHERE period = :p"), {"p": period})
    with redis_lib.Redis.from_url(redis) as connection:
        busy = sum(len(q) + q.started_job_registry.count + q.scheduled_job_registry.count
                   for q in (Queue(name, connection=connection) for name in QUEUES))
    return pending == 0 and snapshots > 0 and busy == 0


def environment(url: str, redis: str, base_url: str, sms, core, tmp: str) -> dict:
    """Return the environment of the web and worker processes."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DATABASE_URL": url, "REDIS_URL": redis,
           "SECRET_KEYS": KEYS, "RATING_SEAL_KEYS": SEAL_KEYS, "PUBLIC_BASE_URL": base_url,
           "LOG_LEVEL": "WARNING",
           "RATELIMIT_PUBLIC": "100000000/minute", "SMS_GATEWAY_URL": sms.send_url,
           "ASSESSMENT_CORE_URL": core.webhook_url, "ASSESSMENT_CORE_SECRET": core.secret,
           "WEB_CONCURRENCY": str(WEB_WORKERS), "GUNICORN_THREADS": str(WEB_THREADS),
           "PROMETHEUS_MULTIPROC_DIR": str(Path(tmp) / "prometheus")}
    env.pop("FLASK_APP", None)
    return env


def web_phase(env: dict, tmp: str, worker, issued: list[str], key: str, seconds: int) -> dict:
    """Serve, drive the load, ask for the month's publication; return the readings."""
    base_url, redis = env["PUBLIC_BASE_URL"], env["REDIS_URL"]
    with open(Path(tmp) / "web.log", "w") as log:
        web = serve(env, int(base_url.rsplit(":", 1)[1]), log)
    try:
        wait(lambda: worker_ready(redis), 30, "the RQ worker")
        figures = measure(web, worker, base_url, issued, key, seconds)
        published = httpx.post(base_url + "/api/v1/scores/publish", timeout=30,
                               headers={"Authorization": f"Bearer {key}"},
                               json={"period": datetime.now(TZ).strftime("%Y-%m")})
        figures["tally"].update([("publish", published.status_code)])
    finally:
        stop(web, group=True)
    check(figures["tally"])
    return figures


def smoke_run() -> list[Result]:
    """Walk a dozen visits of the load and a publication in process (no gunicorn, no RQ)."""
    from backend.extensions import db

    with fresh_database("ssp_bench_memory") as url:
        app = bench_app(url, PUBLIC_BASE_URL="https://127.0.0.1", SECRET_KEYS=[KEYS],
                        RATING_SEAL_KEYS=[SEAL_KEYS], LOG_LEVEL="WARNING",
                        RATELIMIT_PUBLIC="100000/minute")
        issued, key = prepare(app, 6)  # every kind of request once or more
        auth = {"Authorization": f"Bearer {key}"}
        tally: Counter = Counter()
        with httpx.Client(transport=httpx.WSGITransport(app=app),
                          base_url="https://127.0.0.1") as http:
            sign_in(http)
            for n, token in enumerate(issued):
                tally.update(visit(http, n, token, auth))
            published = http.post("/api/v1/scores/publish", headers=auth,
                                  json={"period": datetime.now(TZ).strftime("%Y-%m")})
            tally.update([("publish", published.status_code)])
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
    check(tally)
    requests = sum(tally.values())
    return [Result("memory", f"smoke: {requests} mixed requests in process", float(requests),
                   "requests")]


def run(quick: bool = False, smoke: bool = False) -> list[Result]:
    """Measure the peak memory of web workers and of the RQ worker under load."""
    from backend.extensions import db
    from tests.fakes import FakeAssessmentCore, FakeSmsGateway

    if smoke:
        return smoke_run()
    seconds, tokens = (15, 1500) if quick else (45, 4000)
    redis, base_url = redis_url(), f"http://127.0.0.1:{free_port()}"
    flush(redis)
    with fresh_database("ssp_bench_memory") as url, FakeSmsGateway() as sms, \
            FakeAssessmentCore() as core, tempfile.TemporaryDirectory() as tmp:
        app = bench_app(url, PUBLIC_BASE_URL=base_url, SECRET_KEYS=[KEYS],
                        RATING_SEAL_KEYS=[SEAL_KEYS], LOG_LEVEL="WARNING")
        issued, key = prepare(app, tokens)
        env = environment(url, redis, base_url, sms, core, tmp)
        worker = subprocess.Popen([sys.executable, "-m", "workers", "--name", "bench-memory"],
                                  cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)
        try:
            figures = web_phase(env, tmp, worker, issued, key, seconds)
            period = datetime.now(TZ).strftime("%Y-%m")
            with app.app_context():
                wait(lambda: drained(db.engine, period, redis), 300, "the worker's burst", 0.5)
            figures["horses"] = figures.pop("sampler").stop()
            figures["worker_peak"] = memory_mb(worker.pid)["VmHWM"]
        finally:
            stop(worker)
            flush(redis)
            with app.app_context():
                db.session.remove()
                db.engine.dispose()
        sent = len(sms.messages)
    return results_of(figures, seconds, sent)


def measure(web, worker, base_url: str, issued: list[str], key: str, seconds: float) -> dict:
    """Read idle memory, drive the load, read the peaks of the web workers."""
    pids = sorted(children(web.pid))
    idle = max(memory_mb(pid)["VmRSS"] for pid in pids)
    worker_idle = memory_mb(worker.pid)["VmRSS"]
    sampler = HorseSampler(worker.pid)
    sampler.start()
    started = time.monotonic()
    tally = drive(base_url, issued, {"Authorization": f"Bearer {key}"}, seconds)
    elapsed = time.monotonic() - started
    if sorted(children(web.pid)) != pids:
        raise RuntimeError("a gunicorn worker restarted during the load")
    peaks = [memory_mb(pid) for pid in pids]
    print(f"   {sum(tally.values())} requests in {elapsed:.0f} s: {dict(tally)}", flush=True)
    return {"idle": idle, "peak": max(p["VmHWM"] for p in peaks),
            "now": max(p["VmRSS"] for p in peaks), "worker_idle": worker_idle,
            "sampler": sampler, "tally": tally}


def results_of(f: dict, seconds: float, sent: int) -> list[Result]:
    """Turn the readings into report rows."""
    requests = sum(f["tally"].values())
    horses = f["horses"]
    horse = max(horses.values(), default=0.0)
    print(f"   web worker idle {f['idle']:.0f} MB, peak {f['peak']:.0f} MB; RQ worker idle "
          f"{f['worker_idle']:.0f} MB, peak {f['worker_peak']:.0f} MB, work horses peak "
          f"{horse:.0f} MB over {len(horses)} jobs; {sent} SMS sent", flush=True)
    return [
        Result("memory", f"gunicorn worker peak RSS, {requests:,} mixed requests in "
               f"{seconds} s ({WEB_WORKERS} workers x {WEB_THREADS} threads)", f["peak"], "MB",
               baseline=f["idle"], baseline_label="idle worker after start, MB",
               ratio=f["peak"] / f["idle"], target=f"< {TARGET_MB} MB",
               met=f["peak"] < TARGET_MB, samples=[f["idle"], f["now"], f["peak"]]),
        Result("memory", f"RQ worker process peak RSS ({sent:,} SMS, a publication, "
               "its webhooks)", f["worker_peak"], "MB", baseline=f["worker_idle"],
               baseline_label="idle worker after start, MB",
               ratio=f["worker_peak"] / f["worker_idle"]),
        Result("memory", f"RQ work horse peak RSS ({len(horses)} jobs, sampled every 20 ms)",
               horse, "MB", baseline=f["worker_idle"],
               baseline_label="idle worker after start, MB", ratio=horse / f["worker_idle"],
               samples=sorted(horses.values())),
    ]
