"""The release job: pending ratings moved into `ratings` per second (PostgreSQL).

Setup: a few dozen real submissions through the API (scores, tags, comments, follow-up
phones, first openings) give the shapes of the sealed pending items; they are opened and
cloned into N submissions (50,000; each an event rating with its first opening: 2 N pending
items), each given its own official, score and receipt, and sealed again with the real key
ring. A copy of the buffer is kept so every repeat starts from the same items.
Timed: `release(..., force=True)`, the code `flask ratings release` runs: batches of up to
5,000 items, each opened, shuffled, MACed, counted, chained into the ledger, its signals
stored and its items deleted in one transaction.
Baseline, same run and rows: a bare `INSERT INTO ratings ... SELECT` of the released
ratings' clear columns from a plain buffer table, and the DELETE of that buffer, in one
transaction. Figures are medians of several repeats. Target (issue 17): at least 2,000
ratings/s.
"""

from __future__ import annotations

import os
import random
import time
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from tests.perf.report import Result, median
from tests.perf.support import bench_app, fresh_database

TARGET_PER_SECOND = 2000
FULL, QUICK, SMOKE = 50_000, 10_000, 400
SAMPLES = 40  # real submissions whose shapes are cloned
KEYS = "bench-release-signing-key-0123456789abcdef"
SEAL_KEYS = "bench-release-seal-key-0123456789abcdef"
TZ = ZoneInfo("Asia/Shanghai")
CADRES = 2000
RELEASED = ("ratings", "ledger_entries", "ledger_checkpoints", "rating_counts",
            "rating_tag_counts", "abuse_signals", "followup_contacts", "funnel_counts",
            "campaign_turnout", "review_items")
CLEAR = ("cadre_id", "rater_group", "score", "tags", "comment", "template_id", "event_type",
         "month", "receipt_hash")


def add_officials(app) -> None:
    """Create the officials the clones rate (beyond the demo county's)."""
    from backend.extensions import db

    with app.app_context():
        unit = db.session.scalar(sa.text("SELECT min(id) FROM units"))
        db.session.execute(sa.text(
            "INSERT INTO cadres (code, name, unit_id, position, active, created_at, updated_at)"
            " SELECT 'B' || lpad(g::text, 5, '0'), '干部' || g, :u, '科长', true, now(), now()"
            " FROM generate_series(1, :n) g"), {"n": CADRES, "u": unit})
        db.session.commit()


def real_submissions(app, count: int) -> None:
    """Submit `count` ratings through the API, of every shape a rater can send."""
    from backend.services.invitations.tokens import TokenCodec
    from tests.perf.bench_submission import issue_tokens

    codec = TokenCodec([KEYS])
    client = app.test_client()
    for n, token in enumerate(issue_tokens(app, count)):
        body = {"score": 1 + n % 10}
        if n % 3 == 0:
            body["tags"] = ["热情周到"]
        if n % 4 == 0:
            body["comment"] = "窗口服务很好，办事效率高"
        if n % 5 == 0:
            body["followup"] = {"consent": True, "phone": f"1380013{n:04d}"}
        response = client.post(f"/api/v1/invitations/{codec.url_token(token)}/rating",
                               json=body, headers={"User-Agent": f"bench/{n % 7}"})
        assert response.status_code == 201, (response.status_code, response.get_json())


def clone_buffer(app, total: int) -> None:
    """Clone the real pending items into `total` submissions; keep a copy of the buffer."""
    from backend.extensions import db
    from backend.models import PendingItem
    from backend.wiring import sealer

    with app.app_context():
        keys = sealer()
        rows = db.session.execute(sa.select(PendingItem.kind, PendingItem.day,
                                            PendingItem.sealed)).all()
        ratings = [keys.open(r.sealed) for r in rows if r.kind == "rating"]
        openings = [keys.open(r.sealed) for r in rows if r.kind == "open"]
        cadres = list(db.session.scalars(sa.text("SELECT id FROM cadres ORDER BY id")))
        day = rows[0].day
        rng = random.Random(7)
        items = []
        for n in range(total):
            payload, cadre = ratings[n % len(ratings)], cadres[n % len(cadres)]
            items.append(("rating", day, os.urandom(32).hex(),
                          keys.seal(cloned(payload, cadre, rng.randint(1, 10)))))
            opening = {**openings[n % len(openings)], "cadre_id": cadre}
            items.append(("open", day, None, keys.seal(opening)))
        rng.shuffle(items)  # submissions arrive in no order of officials
        db.session.execute(sa.text("TRUNCATE pending_items"))
        db.session.execute(sa.insert(PendingItem), [
            {"kind": k, "day": d, "receipt_hash": h, "sealed": s} for k, d, h, s in items])
        db.session.execute(sa.text("CREATE TABLE bench_pending AS SELECT * FROM pending_items"))
        db.session.commit()


def cloned(payload: dict, cadre_id: int, score: int) -> dict:
    """Return a submission's payload for another official, score and receipt."""
    rows = [{**row, "cadre_id": cadre_id, "score": score,
             "receipt_hash": os.urandom(32).hex()} for row in payload["rows"]]
    return {**payload, "rows": rows, "cadre_id": cadre_id}


def reset(engine) -> None:
    """Empty everything release writes and refill the buffer from its copy."""
    with engine.begin() as conn:
        conn.execute(sa.text(f"TRUNCATE {', '.join(RELEASED)}, pending_items CASCADE"))
        conn.execute(sa.text("INSERT INTO pending_items SELECT * FROM bench_pending"))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("VACUUM ANALYZE pending_items, ratings, ledger_entries"))


def timed_release(app, total: int) -> float:
    """Release everything pending with the real code; return the seconds."""
    from backend.extensions import db
    from backend.services.ratings.release import release
    from backend.wiring import release_context

    with app.app_context():
        ctx = release_context(app)
        started = time.perf_counter()
        report = release(db.session, ctx, force=True)
        elapsed = time.perf_counter() - started
        assert (report.submissions, report.waiting, report.unreadable) == (total, 0, 0), report
        db.session.remove()
    return elapsed


def keep_plain(engine) -> None:
    """Keep the released ratings' clear columns as the baseline's rows (once)."""
    with engine.begin() as conn:
        conn.execute(sa.text(
            f"CREATE TABLE IF NOT EXISTS bench_plain AS SELECT {', '.join(CLEAR)} "  # noqa: S608
            "FROM ratings ORDER BY id"))


def timed_bare(engine, total: int) -> float:
    """Time INSERT ... SELECT of the same rows into `ratings` and the DELETE of the buffer."""
    with engine.begin() as conn:
        conn.execute(sa.text(f"TRUNCATE {', '.join(RELEASED)} CASCADE"))
        conn.execute(sa.text("DROP TABLE IF EXISTS bench_plain_buffer"))
        conn.execute(sa.text("CREATE TABLE bench_plain_buffer AS SELECT * FROM bench_plain"))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("VACUUM ANALYZE bench_plain_buffer, ratings"))
    columns = ", ".join(CLEAR)
    with engine.connect() as conn:
        started = time.perf_counter()
        with conn.begin():
            moved = conn.execute(sa.text(
                f"INSERT INTO ratings ({columns}, batch_at, mac, status) "  # noqa: S608
                f"SELECT {columns}, date_trunc('hour', now()), 'bnch:' || receipt_hash, "
                "'valid' FROM bench_plain_buffer")).rowcount
            conn.execute(sa.text("DELETE FROM bench_plain_buffer"))
        elapsed = time.perf_counter() - started
    assert moved == total, (moved, total)
    return elapsed


def size_of(quick: bool, smoke: bool, ratings: int | None) -> int:
    """Return how many ratings to release: --ratings, else by mode (BENCH_RELEASE_RATINGS)."""
    if ratings:
        return ratings
    if smoke:
        return SMOKE
    return int(os.environ.get("BENCH_RELEASE_RATINGS", QUICK if quick else FULL))


def run(quick: bool = False, smoke: bool = False, ratings: int | None = None) -> list[Result]:
    """Time the release of N pending ratings against the bare INSERT ... SELECT."""
    total = size_of(quick, smoke, ratings)
    repeats = 1 if smoke else 3
    with fresh_database("ssp_bench_release") as url:
        app = bench_app(url, PUBLIC_BASE_URL="http://127.0.0.1", SECRET_KEYS=[KEYS],
                        RATING_SEAL_KEYS=[SEAL_KEYS], LOG_LEVEL="WARNING")
        real_submissions(app, 4 if smoke else SAMPLES)  # on the demo county
        add_officials(app)
        clone_buffer(app, total)
        from backend.extensions import db

        with app.app_context():
            engine = db.engine
            released, bare = [], []
            for _ in range(repeats):  # interleaved, so noise hits both alike
                reset(engine)
                released.append(timed_release(app, total))
                keep_plain(engine)
                bare.append(timed_bare(engine, total))
                print(f"   release {total:,} ratings: {released[-1]:.2f} s "
                      f"({total / released[-1]:,.0f}/s); bare INSERT ... SELECT + DELETE "
                      f"{bare[-1]:.2f} s (load average "
                      f"{', '.join(f'{x:.2f}' for x in os.getloadavg())})", flush=True)
            db.session.remove()
            engine.dispose()
    rate, bare_rate = total / median(released), total / median(bare)
    return [Result("release", f"release job, {total:,} pending ratings (+ {total:,} openings), "
                   f"batches of 5,000 items, median of {repeats}", rate, "ratings/s",
                   baseline=bare_rate,
                   baseline_label="bare INSERT ... SELECT + DELETE of the same rows, ratings/s",
                   ratio=rate / bare_rate, target=f">= {TARGET_PER_SECOND} ratings/s",
                   met=rate >= TARGET_PER_SECOND if not smoke else None,
                   samples=[total / s for s in released])]
