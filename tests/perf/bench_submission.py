"""Rating submission under gunicorn on PostgreSQL with Redis, 32 concurrent clients (wrk).

Baseline, same run, same gunicorn settings (deploy/gunicorn.conf.py): a Flask endpoint doing
only the SQL of a submission (the read of the invitation and its use tag, then the one-statement
write of the use tag and the sealed pending rating: tests/perf/bare_submission.py, which takes
the statements from the real store); the same SQL as a bare WSGI callable, without Flask, is
reported for reference. Every request uses a token of its own; each server gets an unmeasured
warm-up first; then each is loaded ROUNDS times, in turn with the others, and the median
round reported (with the servers' CPU per request). Targets: throughput at least 0.8 of the
baseline, p99 under 100 ms.
Smoke mode: a few submissions to each of the three, in process (no gunicorn, no wrk).
"""

from __future__ import annotations

import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import sqlalchemy as sa

from tests.perf.processes import cpu_seconds, descendants, free_port, stop
from tests.perf.report import Result
from tests.perf.support import bench_app, fresh_database

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
CONNECTIONS, THREADS, WARM_UP_SECONDS = 32, 2, 2
ROUNDS = 3  # each server is loaded this many times, in turn with the others
KEYS = "bench-submission-key-0123456789abcdef"
SEAL_KEYS = "bench-submission-seal-key-0123456789abcdef"
REDIS_DB = 14


def redis_url() -> str:
    """Return REDIS_URL (or the local default) pointed at this benchmark's own database."""
    base = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"
    return base.rsplit("/", 1)[0] + f"/{REDIS_DB}"


def issue_tokens(app, count: int) -> list[str]:
    """Issue `count` invitations through the real ingestion; return their raw tokens."""
    from backend.extensions import db
    from backend.services.demo.seed import seed
    from backend.services.invitations.events import EventInput, IngestContext
    from backend.services.invitations.ingestion import ingest_events
    from backend.wiring import sealer, token_codec, vault

    tokens = []
    with app.app_context():
        seed(db.session)
        for start in range(0, count, 1000):
            ctx = IngestContext(codec=token_codec(), vault=vault(),
                                catalogue=app.extensions["catalogue"],
                                base_url=app.config["PUBLIC_BASE_URL"],
                                tz=ZoneInfo("Asia/Shanghai"), now=datetime.now(UTC),
                                sealer=sealer())
            items = [EventInput("bench", f"S{start + n}", f"C{1 + (start + n) % 40:03d}",
                                "approval", datetime.now(UTC) - timedelta(minutes=5),
                                channels=("qr",)) for n in range(min(1000, count - start))]
            outcomes, _ = ingest_events(db.session, ctx, items)
            # The body carries the signed form; keep the raw token the row holds.
            tokens += [token_codec().verify(o.body["invitation"]["token"]) for o in outcomes]
    return tokens


def serve(target: str, env: dict, port: int) -> subprocess.Popen:
    """Start gunicorn on `target` and wait until it answers."""
    command = [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "deploy" / "gunicorn.conf.py"),
               "-b", f"127.0.0.1:{port}", target]
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
            return process
        except httpx.HTTPError:
            time.sleep(0.2)
    stop(process, group=True)
    raise RuntimeError(f"gunicorn for {target} did not start")


def load(port: int, paths: list[str], seconds: int, folder: Path) -> dict:
    """Run wrk with one token per request; return throughput and latency percentiles."""
    tokens_file = folder / f"paths-{port}.txt"
    tokens_file.write_text("\n".join(paths) + "\n")
    env = {**os.environ, "TOKENS_FILE": str(tokens_file), "WRK_THREADS": str(THREADS)}
    out = subprocess.run(["wrk", "-t", str(THREADS), "-c", str(CONNECTIONS), "-d", f"{seconds}s",
                          "-s", str(HERE / "assets" / "submit.lua"),
                          f"http://127.0.0.1:{port}"], env=env, capture_output=True, text=True,
                         timeout=seconds + 60, check=True).stdout
    requests, micros, p50, p99, bad = re.search(r"RESULT (\d+) (\d+) ([\d.]+) ([\d.]+) (\d+)",
                                                out).groups()
    return {"rps": int(requests) / (int(micros) / 1e6), "p50": float(p50), "p99": float(p99),
            "requests": int(requests), "errors": int(bad)}


def tree_cpu(pid: int) -> float:
    """Return the CPU seconds of a gunicorn master and its workers so far."""
    return sum(cpu_seconds(member) or 0.0 for member in descendants(pid))


def measure(targets: dict[str, str], env: dict, paths: dict[str, list[str]], seconds: int,
            folder: Path, rounds: int) -> dict[str, list[dict]]:
    """Serve every target at once; warm each up, then load them in turn, `rounds` times.

    Each round loads every server for `seconds` on tokens of its own, one after the other,
    so every target meets the machine's other work in every round; the report takes the
    median round. Each round also records the servers' CPU seconds per request (master and
    workers, from /proc): the work a rating costs, which contention inflates far less than
    it does throughput.
    """
    servers = {}
    try:
        for name, target in targets.items():
            port = free_port()
            servers[name] = (port, serve(target, env, port))
        chunks = {name: split(paths[name], rounds + 1) for name in targets}
        for name, (port, _) in servers.items():
            load(port, chunks[name][0], WARM_UP_SECONDS, folder)
        results: dict[str, list[dict]] = {name: [] for name in targets}
        for n in range(1, rounds + 1):
            for name, (port, process) in servers.items():
                before = tree_cpu(process.pid)
                result = load(port, chunks[name][n], seconds, folder)
                result["cpu_ms"] = (tree_cpu(process.pid) - before) / result["requests"] * 1000
                results[name].append(result)
        return results
    finally:
        for _, process in servers.values():
            stop(process, group=True)


def split(items: list, parts: int) -> list[list]:
    """Split a list in `parts` consecutive chunks; the first (warm-up) is half the others."""
    size = len(items) * 2 // (2 * parts - 1)
    first = size // 2
    return [items[:first]] + [items[first + k * size:first + (k + 1) * size]
                              for k in range(parts - 1)]


def median_round(rounds: list[dict]) -> dict:
    """Return the medians of a target's rounds, with the sum of requests and errors."""
    return {"rps": statistics.median(r["rps"] for r in rounds),
            "p50": statistics.median(r["p50"] for r in rounds),
            "p99": statistics.median(r["p99"] for r in rounds),
            "cpu_ms": statistics.median(r["cpu_ms"] for r in rounds),
            "requests": sum(r["requests"] for r in rounds),
            "errors": sum(r["errors"] for r in rounds), "rounds": rounds}


def paths_for(tokens: list[str]) -> dict[str, list[str]]:
    """Split the tokens in three: the Flask baseline's, the WSGI baseline's, the app's."""
    from backend.services.invitations.tokens import TokenCodec

    codec = TokenCodec([KEYS])
    third = len(tokens) // 3
    return {"flask": [f"/bare/{t}" for t in tokens[:third]],
            "wsgi": [f"/bare/{t}" for t in tokens[third:2 * third]],
            "app": [f"/api/v1/invitations/{codec.url_token(t)}/rating"
                    for t in tokens[2 * third:]]}


def smoke_run(app, url: str, tokens: list[str]) -> list[Result]:
    """Submit a few ratings to each endpoint in process; check what they stored."""
    from werkzeug.test import Client

    from backend.extensions import db
    from tests.perf import bare_submission

    os.environ["BARE_DSN"] = url.replace("postgresql+psycopg", "postgresql")
    clients = {"flask": bare_submission.flask_app.test_client(),
               "wsgi": Client(bare_submission.app), "app": app.test_client()}
    paths = paths_for(tokens)
    for name, client in clients.items():
        for path in paths[name]:
            first = client.post(path, json={"score": 8})
            again = client.post(path, json={"score": 8})
            assert (first.status_code, again.status_code) == (201, 409), (
                name, first.status_code, again.status_code, first.get_data(as_text=True))
    with app.app_context():
        stored = db.session.execute(sa.text(
            "SELECT (SELECT count(*) FROM invitation_use_tags), "
            "(SELECT count(*) FROM pending_items WHERE kind = 'rating')")).one()
        db.session.remove()
        db.engine.dispose()
    bare_submission.connection().close()
    bare_submission._local.conn = None
    used = sum(len(p) for p in paths.values())
    assert tuple(stored) == (used, used), (tuple(stored), used)
    return [Result("submission", f"smoke: {used} submissions in process", float(used), "ratings")]


def run(quick: bool = False, smoke: bool = False) -> list[Result]:
    """Measure the real submission endpoint against the bare-SQL endpoint."""
    if not smoke and shutil.which("wrk") is None:
        raise RuntimeError("wrk 未安装：apt-get install wrk")
    seconds = 5 if quick else 10
    with fresh_database() as url:
        app = bench_app(url, PUBLIC_BASE_URL="http://127.0.0.1", SECRET_KEYS=[KEYS],
                        RATING_SEAL_KEYS=[SEAL_KEYS])
        count = 9 if smoke else 150_000 if quick else 300_000
        tokens = issue_tokens(app, count)
        if smoke:
            return smoke_run(app, url, tokens)
        env = {**os.environ, "DATABASE_URL": url, "REDIS_URL": redis_url(),
               "SECRET_KEYS": KEYS, "RATING_SEAL_KEYS": SEAL_KEYS,
               "RATELIMIT_PUBLIC": "100000000/minute", "EMBEDDED_SCHEDULER": "0",
               "LOG_LEVEL": "WARNING", "BARE_DSN": url.replace("postgresql+psycopg", "postgresql"),
               "PYTHONPATH": str(ROOT)}
        folder = Path(os.environ.get("TMPDIR", "/tmp"))
        rounds = measure({"flask": "tests.perf.bare_submission:flask_app",
                          "wsgi": "tests.perf.bare_submission:app",
                          "app": "backend:create_app()"}, env, paths_for(tokens), seconds,
                         folder, ROUNDS)
        results = {name: median_round(r) for name, r in rounds.items()}
        from backend.extensions import db

        with app.app_context():
            db.session.remove()
            db.engine.dispose()
    for name, result in results.items():
        print(f"   {name}: " + "; ".join(
            f"{r['rps']:.0f} req/s, p50 {r['p50']:.0f} ms, p99 {r['p99']:.0f} ms, "
            f"{r['cpu_ms']:.2f} ms CPU/request" for r in result["rounds"]), flush=True)
    ratios = [a["rps"] / b["rps"] for a, b in zip(results["app"]["rounds"],
                                                   results["flask"]["rounds"], strict=True)]
    print("   ratio to the Flask endpoint, round by round: "
          + ", ".join(f"{r:.2f}" for r in ratios), flush=True)
    app_r, bare_r, wsgi_r = results["app"], results["flask"], results["wsgi"]
    for name, result in results.items():
        if result["errors"]:
            raise RuntimeError(f"{name}: {result['errors']} of {result['requests']} requests "
                               "were not 2xx; the figures would be meaningless")
    return [
        Result("submission", "ratings/s at 32 clients (gunicorn, PostgreSQL)", app_r["rps"],
               "req/s", baseline=bare_r["rps"],
               baseline_label="Flask endpoint doing only the SQL, req/s",
               ratio=app_r["rps"] / bare_r["rps"], target=">= 0.8 of the Flask endpoint",
               met=app_r["rps"] >= 0.8 * bare_r["rps"] and app_r["errors"] == 0,
               samples=[app_r["requests"], app_r["errors"]]),
        Result("submission", "p50 latency", app_r["p50"], "ms", baseline=bare_r["p50"],
               baseline_label="bare, ms", ratio=app_r["p50"] / bare_r["p50"]),
        Result("submission", "p99 latency", app_r["p99"], "ms", baseline=bare_r["p99"],
               baseline_label="bare, ms", ratio=app_r["p99"] / bare_r["p99"],
               target="< 100 ms", met=app_r["p99"] < 100),
        Result("submission", "same SQL without Flask (bare WSGI), for reference", wsgi_r["rps"],
               "req/s", baseline=bare_r["rps"], baseline_label="Flask endpoint, req/s",
               ratio=wsgi_r["rps"] / bare_r["rps"]),
        Result("submission", "gunicorn CPU per rating (master and workers)", app_r["cpu_ms"],
               "ms", baseline=bare_r["cpu_ms"], baseline_label="Flask endpoint, CPU ms/request",
               ratio=bare_r["cpu_ms"] / app_r["cpu_ms"]),
    ]
