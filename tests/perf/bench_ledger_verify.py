"""`flask ledger verify` on 10 million released ratings: time and peak memory (PostgreSQL).

Setup: a database of released ratings with valid MACs, ledger entries, a checkpoint per
closed day and the count tables (tests/perf/ledger_data.py), kept between runs while its
marker says it is current (`--ratings N` picks the size: 1 M while developing).
Timed: the real command, `python -m flask ledger verify`, in a process of its own (it must
exit 0: the data verifies); its peak resident memory is the child's ru_maxrss, and its CPU
time (user + system) is reported too, as elapsed time on a shared machine says little.
Baseline, same run and data: streaming the same join of entries and ratings through a
server-side cursor and doing nothing with the rows (what reading alone costs).
Targets (issue 17): under 5 minutes and under 500 MB at 10 M ratings.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import sqlalchemy as sa

from tests.perf import ledger_data
from tests.perf.processes import TreeSampler
from tests.perf.report import Result, median
from tests.perf.support import admin_url, bench_app, fresh_database

ROOT = Path(__file__).resolve().parents[2]
FULL, QUICK, SMOKE = 10_000_000, 1_000_000, 2_000
TARGET_SECONDS, TARGET_MB = 300, 500
BASELINE_SQL = (
    "SELECT e.seq, e.rating_id, e.leaf_hash, e.chain_hash, e.day, e.created_at, r.id, "
    "r.cadre_id, r.rater_group, r.score, r.tags, r.comment, r.template_id, r.event_type, "
    "r.batch_at, r.month, r.receipt_hash, r.status, r.excluded_reason, r.mac "
    "FROM ledger_entries e LEFT JOIN ratings r ON r.id = e.rating_id ORDER BY e.seq")


@contextlib.contextmanager
def kept_database(ratings: int) -> Iterator[str]:
    """Yield the URL of the database kept for this size, creating it if need be."""
    admin = sa.create_engine(admin_url(), isolation_level="AUTOCOMMIT")
    name = f"ssp_bench_ledger_{ratings}"
    try:
        with admin.connect() as conn:
            if not conn.scalar(sa.text("SELECT 1 FROM pg_database WHERE datname = :n"),
                               {"n": name}):
                conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    finally:
        admin.dispose()
    yield admin_url().set(database=name).render_as_string(hide_password=False)


def drop_database(url: str) -> None:
    """Drop a kept database whose data is stale."""
    name = sa.engine.make_url(url).database
    admin = sa.create_engine(admin_url(), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    finally:
        admin.dispose()


def prepare(url: str, ratings: int) -> float:
    """Generate the data unless the marker says it is there; return the seconds spent."""
    engine = sa.create_engine(url)
    try:
        current = ledger_data.marker(engine)
    finally:
        engine.dispose()
    if current == (ratings, ledger_data.digest()):
        print(f"   reusing the generated database ({ratings:,} ratings)", flush=True)
        return 0.0
    if current is not None or has_tables(url):
        drop_database(url)
    started = time.perf_counter()
    app = bench_app(url, RATING_SEAL_KEYS=[ledger_data.KEY], LOG_LEVEL="WARNING")
    from backend.extensions import db
    from backend.services.templates.catalogue import register

    with app.app_context():
        template_id = register(db.session,
                               app.extensions["catalogue"].templates["service_event"]).id
        db.session.commit()
        ledger_data.directory(db.session, template_id)
        db.session.commit()
        db.session.close()
        plan = ledger_data.plan_for(ratings, template_id, datetime.now(ledger_data.TZ).date())
        ledger_data.load(db.engine, plan, ledger_data.processes())
        ledger_data.mark(db.engine, ratings)
        db.engine.dispose()
    seconds = time.perf_counter() - started
    print(f"   generated {ratings:,} ratings over {plan.days} days in {seconds:.0f} s",
          flush=True)
    return seconds


def has_tables(url: str) -> bool:
    """Tell whether a database holds any table (an interrupted generation)."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return bool(conn.scalar(sa.text(
                "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")))
    finally:
        engine.dispose()


def verify_command(url: str) -> tuple[float, float, str, float]:
    """Run `flask ledger verify` in a child; return seconds, peak RSS (MB), output, CPU s,
    and how many processes it started besides itself.

    Peak memory and CPU time cover the child and every process it starts (its span workers),
    summed. CPU time (user + system) does not depend on what else the machine runs, as the
    elapsed time does; the database server's share is not in it.
    """
    env = {**os.environ, "DATABASE_URL": url, "RATING_SEAL_KEYS": ledger_data.KEY,
           "SECRET_KEYS": "bench-ledger-signing-key-0123456789abcdef", "REDIS_URL": "",
           "EMBEDDED_SCHEDULER": "0", "LOG_LEVEL": "WARNING", "PYTHONPATH": str(ROOT)}
    env.pop("FLASK_APP", None)
    command = [sys.executable, "-m", "flask", "--app", "backend:create_app()", "ledger",
               "verify"]
    started = time.perf_counter()
    child = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT)
    tree = TreeSampler(child.pid)
    tree.start()
    with child.stdout:
        output = child.stdout.read().decode()
    _, status, usage = os.wait4(child.pid, 0)  # the child's own rusage: its peak RSS
    child.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - started
    tree_mb, tree_cpu, members = tree.stop()
    if child.returncode != 0 or "账本完整" not in output:
        raise RuntimeError(f"ledger verify exited {child.returncode}: {output.strip()[-500:]}")
    own_cpu = usage.ru_utime + usage.ru_stime
    # The command's own figures and its workers' (sampled): whichever is higher counts.
    return (seconds, max(usage.ru_maxrss / 1024, tree_mb), output.strip(),
            max(own_cpu, tree_cpu), members - 1)


def stream_baseline(url: str) -> float:
    """Return the seconds to stream the join verify reads, through a server-side cursor."""
    dsn = sa.engine.make_url(url).set(drivername="postgresql").render_as_string(
        hide_password=False)
    started = time.perf_counter()
    with psycopg.connect(dsn) as conn, conn.cursor(name="bench_stream") as cursor:
        cursor.itersize = 5000
        cursor.execute(BASELINE_SQL)
        for _ in cursor:
            pass
    return time.perf_counter() - started


def size_of(quick: bool, smoke: bool, ratings: int | None) -> int:
    """Return how many ratings to verify: --ratings, else by mode (BENCH_LEDGER_RATINGS)."""
    if ratings:
        return ratings
    if smoke:
        return SMOKE
    default = QUICK if quick else FULL
    return int(os.environ.get("BENCH_LEDGER_RATINGS", default))


def run(quick: bool = False, smoke: bool = False, ratings: int | None = None) -> list[Result]:
    """Time `ledger verify` and its peak memory against streaming the same rows."""
    total = size_of(quick, smoke, ratings)
    repeats = 1 if smoke or total >= FULL else 3
    database = fresh_database("ssp_bench_ledger") if smoke else kept_database(total)
    with database as url:
        prepare(url, total)
        runs, baselines = [], []
        for _ in range(repeats):
            runs.append(verify_command(url))
            baselines.append(stream_baseline(url))
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    seconds = median([r[0] for r in runs])
    peak = max(r[1] for r in runs)
    baseline = median(baselines)
    cpu = median([r[3] for r in runs])
    workers = max(r[4] for r in runs)
    print(f"   {total:,} ratings: verify {', '.join(f'{r[0]:.1f}' for r in runs)} s "
          f"(CPU of verify and its {workers} helper processes "
          f"{', '.join(f'{r[3]:.1f}' for r in runs)} s), peak "
          f"{peak:.0f} MB; streaming the rows {baseline:.1f} s (load average {load}, "
          f"{datetime.now(UTC):%H:%M} UTC)\n   {runs[-1][2]}", flush=True)
    scale = f"{total:,} ratings"
    at_target = total >= FULL
    return [
        Result("ledger_verify", f"`flask ledger verify`, {scale}, {os.cpu_count()} cores, "
               f"LEDGER_VERIFY_WORKERS {os.environ.get('LEDGER_VERIFY_WORKERS') or 'default'}"
               f" (median of {repeats})",
               seconds, "s", baseline=baseline,
               baseline_label="streaming the same join, no checks, s",
               ratio=seconds / baseline if baseline else None,
               target=f"< {TARGET_SECONDS} s at 10 M" if at_target else "",
               met=seconds < TARGET_SECONDS if at_target else None,
               samples=[r[0] for r in runs]),
        Result("ledger_verify", f"`flask ledger verify` peak RSS, all its processes summed, "
               f"{scale}", peak, "MB",
               target=f"< {TARGET_MB} MB at 10 M" if at_target else "",
               met=peak < TARGET_MB if at_target else None, samples=[r[1] for r in runs]),
        Result("ledger_verify", f"CPU time of verify and its workers (user + system), {scale}",
               cpu, "s", samples=[r[3] for r in runs]),
        Result("ledger_verify", f"verify throughput, {scale}", total / seconds, "ratings/s",
               baseline=total / baseline if baseline else None,
               baseline_label="rows/s streamed without checks"),
    ]
