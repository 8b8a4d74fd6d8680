"""Publication at scale: 20,000 officials with 1 million, then 10 million ratings (PostgreSQL).

Data is generated in the database with a fixed seed (setseed), rating rows first and the
count tables aggregated from them, as the submission path would have left them. Publication
of a quarter reads only the count tables, so its time must follow officials, not ratings.
Baseline, same run and data: `SELECT count(*) FROM ratings`. Each figure is the median of
RUNS publications (and counts) on the same data.
Targets: under 10 s at 10 million, and at most 1.5 times the 1-million time.

A third row adds HISTORY earlier months of count rows (the six months' rows again, each
shifted back by 6, 12 and 18 months, in month order as a running system appends them) and
publishes the same quarter again: its time must not follow the months kept.
"""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from tests.perf.report import Result, median
from tests.perf.support import bench_app, bulk_load, fresh_database

OFFICIALS = 20_000
PERIOD = "2026-Q3"
MONTHS = ["2026-04", "2026-05", "2026-06", "2026-07", "2026-08", "2026-09"]
GROUPS = ["recipient", "recipient", "recipient", "peer", "superior", "subordinate",
          "representative"]


def seed_directory(session, template_id: int, officials: int = OFFICIALS) -> None:
    """Create units and officials with set-based SQL."""
    session.execute(sa.text(
        "INSERT INTO units (code, name, category, created_at, updated_at) "
        "SELECT 'U' || g, '单位' || g, 'township', now(), now() FROM generate_series(1, 200) g"))
    session.execute(sa.text(
        "INSERT INTO cadres (code, name, unit_id, position, active, created_at, updated_at) "
        "SELECT 'C' || lpad(g::text, 6, '0'), '干部' || g, 1 + (g % 200), '科长', true, now(), "
        "now() FROM generate_series(1, :n) g"), {"n": officials})
    session.commit()


def add_ratings(session, template_id: int, count: int, seed: float,
                officials: int = OFFICIALS, settled: bool = True) -> None:
    """Insert `count` ratings (deterministic) and rebuild the count tables from them.

    Publication reads only the count tables, never a rating's MAC: the MACs here are
    placeholders of the real length (tests/perf/bench_ledger_verify.py makes valid ones).
    """
    session.execute(sa.text("SELECT setseed(:s)"), {"s": seed})
    with bulk_load(session, "ratings"):
        session.execute(sa.text(
            "INSERT INTO ratings (cadre_id, rater_group, score, tags, template_id, batch_at, "
            "month, receipt_hash, mac, status) SELECT 1 + floor(random() * :officials)::int, "
            "(CAST(:groups AS text[]))[1 + floor(random() * :ngroups)::int], "
            "greatest(1, least(10, round(7.5 + random() * 3 - random() * 4)))::smallint, "
            "'[]'::json, :template, date_trunc('hour', now()), "
            "(CAST(:months AS text[]))[1 + floor(random() * :nmonths)::int], "
            "md5(g::text || :seed), 'bnch:' || md5(g::text) || md5(:seed || g::text), 'valid' "
            "FROM generate_series(1, :count) g"),
            {"officials": officials, "template": template_id, "count": count,
             "seed": str(seed), "groups": GROUPS, "ngroups": len(GROUPS), "months": MONTHS,
             "nmonths": len(MONTHS)})
    session.execute(sa.text("TRUNCATE rating_counts"))
    session.execute(sa.text(
        "INSERT INTO rating_counts (cadre_id, month, rater_group, score, count) "
        "SELECT cadre_id, month, rater_group, score, count(*) FROM ratings "
        "WHERE status = 'valid' GROUP BY cadre_id, month, rater_group, score"))
    session.commit()
    if settled:
        settle(session.get_bind())


def settle(engine) -> None:
    """Let the bulk load settle before timing, as a database would have long since.

    Vacuum and analyse the tables read, as autovacuum would (committed, since VACUUM runs
    outside a transaction), so the planner sees statistics and no timed run sets the hint bits
    of freshly loaded rows; then a checkpoint, so no timed run shares the machine with the
    writing out of the gigabytes the load left dirty.
    """
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("VACUUM ANALYZE rating_counts, rating_tag_counts, cadres"))
        conn.execute(sa.text("ANALYZE ratings"))
        try:
            conn.execute(sa.text("CHECKPOINT"))
        except sa.exc.DBAPIError:  # needs superuser or pg_checkpoint; the timing then says so
            print("   (no CHECKPOINT allowed: runs may overlap the load's writes)", flush=True)


def timed_publication(app, officials: int = OFFICIALS) -> float:
    """Publish the quarter from scratch (no earlier snapshots) and return the seconds."""
    from backend.extensions import db
    from backend.services.outbox.push import queue_messages
    from backend.services.scores.publication import publish_period
    from backend.services.scores.schemes import scheme_book

    with app.app_context():
        db.session.execute(sa.text("TRUNCATE score_snapshots, webhook_outbox, alerts"))
        db.session.commit()
        book = scheme_book(db.session, app.extensions["catalogue"])
        db.session.commit()
        started = time.perf_counter()
        report = publish_period(db.session, PERIOD, book, datetime(2026, 10, 5, tzinfo=UTC),
                                ZoneInfo("Asia/Shanghai"), queue_messages)
        elapsed = time.perf_counter() - started
        assert report.officials == officials, report
        return elapsed


def timed_count(app) -> float:
    """Return the seconds of a plain count(*) over the ratings table."""
    from backend.extensions import db

    with app.app_context():
        started = time.perf_counter()
        db.session.execute(sa.text("SELECT count(*) FROM ratings")).scalar()
        return time.perf_counter() - started


RUNS = 3
HISTORY = (6, 12, 18)  # months by which the six months' count rows are copied back


def add_history(session, settled: bool = True) -> int:
    """Copy the count rows to earlier months, oldest month first; return the rows added."""
    added = session.execute(sa.text(
        "INSERT INTO rating_counts (cadre_id, month, rater_group, score, count) "
        "SELECT cadre_id, to_char(to_date(month, 'YYYY-MM') - make_interval(months => s), "
        "'YYYY-MM') AS earlier, rater_group, score, count "
        "FROM rating_counts, unnest(CAST(:shifts AS int[])) AS shift(s) ORDER BY earlier"),
        {"shifts": list(HISTORY)}).rowcount
    session.commit()
    if settled:
        settle(session.get_bind())
    return added


def measure(app, total: int, template_id: int, already: int, officials: int = OFFICIALS,
            runs: int = RUNS) -> tuple[list[float], list[float]]:
    """Grow the ratings table to `total`; time `runs` publications and count baselines."""
    from backend.extensions import db

    with app.app_context():
        add_ratings(db.session, template_id, total - already, seed=0.42 + total / 1e9,
                    officials=officials, settled=runs > 1)
    publications = [timed_publication(app, officials) for _ in range(runs)]
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"   {total:,} ratings: publication {', '.join(f'{s:.2f}' for s in publications)} s "
          f"(load average {load})", flush=True)
    return publications, [timed_count(app) for _ in range(runs)]


def run(quick: bool = False, smoke: bool = False) -> list[Result]:
    """Publish a quarter at 1 M and 10 M ratings (0.1 M and 1 M with --quick).

    Smoke: 200 officials, 2,000 then 4,000 ratings, one publication each, not settled.
    """
    small, large = (100_000, 1_000_000) if quick else (1_000_000, 10_000_000)
    officials, runs = OFFICIALS, RUNS
    if smoke:
        small, large, officials, runs = 2_000, 4_000, 200, 1
    with fresh_database() as url:
        app = bench_app(url)
        from backend.extensions import db
        from backend.services.templates.catalogue import register

        with app.app_context():
            template_id = register(db.session,
                                   app.extensions["catalogue"].templates["service_event"]).id
            db.session.commit()
            seed_directory(db.session, template_id, officials)
        pub_small, count_small = measure(app, small, template_id, 0, officials, runs)
        pub_large, count_large = measure(app, large, template_id, small, officials, runs)
        with app.app_context():
            added = add_history(db.session, settled=not smoke)
        pub_history = [timed_publication(app, officials) for _ in range(runs)]
        print(f"   with {added:,} count rows of {len(HISTORY) * len(MONTHS)} earlier months: "
              f"publication {', '.join(f'{s:.2f}' for s in pub_history)} s", flush=True)
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
    history = row(large, pub_history, count_large, officials=officials)
    history.metric += f", plus {added:,} count rows of {len(HISTORY) * len(MONTHS)} earlier months"
    return [row(small, pub_small, count_small, officials=officials),
            row(large, pub_large, count_large, pub_small, officials=officials), history]


def row(ratings: int, publications: list[float], counts: list[float],
        smaller: list[float] | None = None, officials: int = OFFICIALS) -> Result:
    """Report the median publication; at the larger size, judge it against the targets."""
    value, baseline = median(publications), median(counts)
    result = Result("publication", f"quarter, {officials:,} officials, {ratings:,} ratings",
                    value, "s", baseline=baseline, baseline_label="count(*) of ratings, s",
                    ratio=value / baseline, samples=publications)
    if smaller is not None and officials == OFFICIALS:
        result.target = "< 10 s and <= 1.5x the smaller size"
        result.met = value < 10 and value <= 1.5 * median(smaller)
    return result
