"""Generate released ratings for `ledger verify`: ratings, ledger entries, checkpoints, counts.

Every row is what release would have stored: each rating's MAC is computed by the real
`rating_mac` code, each leaf by the real `leaf_hash`, the chain by `chain_hash` and each day's
root by `MerkleBuilder`; the count tables are the grouped counts of the ratings. So the
generated database verifies, and `ledger verify` does on it exactly the work it does on a
production one.

Speed: ratings are made and hashed in chunks by a pool of processes (MAC and leaf per rating
are independent); the parent chains the leaves in order, builds the daily Merkle roots and
streams both tables to PostgreSQL with COPY, their secondary indexes and constraints dropped
during the load (tests/perf/support.py: strip, restore) and rebuilt in one sort each.

A generated database is kept and reused while its marker says it is current: the marker
holds the number of ratings and a digest of what the data depends on (the tables' DDL, the
MAC's fields, the leaf's version, the generator's version and the key).
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa

GENERATOR_VERSION = "1"
KEY = "bench-ledger-seal-key-0123456789abcdef0123"
TZ = ZoneInfo("Asia/Shanghai")
CHUNK = 20_000
CADRES, UNITS = 6000, 60
GROUPS = ("recipient", "recipient", "recipient", "peer", "superior", "subordinate")
TAG_SETS = ([], ["热情周到"], ["办事高效", "热情周到"], [], ["解释清楚"])
EVENT_TYPES = ("approval", "village_visit", "enterprise_reception")
COMMENT = "窗口服务很好，办事效率高"
RATING_COLUMNS = ("id", "cadre_id", "rater_group", "score", "tags", "comment", "template_id",
                  "event_type", "batch_at", "month", "receipt_hash", "mac", "status",
                  "excluded_reason")
TABLES = ("ratings", "ledger_entries", "ledger_checkpoints", "rating_counts",
          "rating_tag_counts")


@dataclass(frozen=True)
class Plan:
    """How many ratings over how many closed local days, ending yesterday."""

    ratings: int
    days: int
    first_day: date
    template_id: int

    def day_index(self, rating_id: int) -> int:
        """Return the index of the day a rating's batch fell on (ids run in day order)."""
        return (rating_id - 1) * self.days // self.ratings


def plan_for(ratings: int, template_id: int, today: date) -> Plan:
    """Spread the ratings over a year of closed days (fewer days for few ratings)."""
    days = max(1, min(365, ratings // 200))
    return Plan(ratings, days, today - timedelta(days=days), template_id)


def digest() -> str:
    """Return what generated data depends on: when it changes, the data is made again."""
    from sqlalchemy.dialects import postgresql
    from sqlalchemy.schema import CreateTable

    import backend.models  # noqa: F401 (registers the tables)
    from backend.extensions import db
    from backend.scoring.merkle import LEAF_VERSION
    from backend.services.sealing.mac import MAC_FIELDS

    ddl = "".join(str(CreateTable(db.metadata.tables[t]).compile(dialect=postgresql.dialect()))
                  for t in TABLES)
    text = "|".join((GENERATOR_VERSION, ddl, ",".join(MAC_FIELDS), LEAF_VERSION, KEY))
    return hashlib.sha256(text.encode()).hexdigest()


# Per process of the pool: the key ring, made once.
_sealer = None


def _init_worker() -> None:
    """Make this process's key ring."""
    global _sealer
    from backend.services.sealing.seal import Sealer

    _sealer = Sealer([KEY])


def rating(plan: Plan, rating_id: int) -> dict:
    """Return the released rating with this id (deterministic)."""
    local = plan.first_day + timedelta(days=plan.day_index(rating_id))
    hour = (rating_id * 13) % 24
    batch_at = datetime.combine(local, time(hour), TZ).astimezone(UTC)
    return {"id": rating_id, "cadre_id": 1 + (rating_id * 7919) % CADRES,
            "rater_group": GROUPS[rating_id % len(GROUPS)],
            "score": 1 + (rating_id * 7) % 10, "tags": TAG_SETS[rating_id % len(TAG_SETS)],
            "comment": COMMENT if rating_id % 5 == 0 else None,
            "template_id": plan.template_id,
            "event_type": EVENT_TYPES[rating_id % len(EVENT_TYPES)],
            "batch_at": batch_at, "month": local.strftime("%Y-%m"),
            "receipt_hash": hashlib.sha256(f"bench-receipt:{rating_id}".encode()).hexdigest(),
            "status": "valid", "excluded_reason": None}


def copy_field(value) -> str:
    """Render one value in COPY's text format (no value here holds a tab, newline or \\)."""
    if value is None:
        return "\\N"
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def make_chunk(args: tuple[Plan, int, int]) -> tuple[bytes, list[str]]:
    """Make ratings start..end-1 with their MACs; return their COPY text and leaf hashes."""
    import json

    from backend.scoring.merkle import leaf_hash
    from backend.services.ratings.release import RatingRow
    from backend.services.sealing.mac import rating_mac

    plan, start, end = args
    lines, leaves = [], []
    for rating_id in range(start, end):
        row = rating(plan, rating_id)
        row["mac"] = rating_mac(_sealer, row)
        leaves.append(leaf_hash(RatingRow(row)))
        row["tags"] = json.dumps(row["tags"], ensure_ascii=False)
        lines.append("\t".join(copy_field(row[c]) for c in RATING_COLUMNS))
    return ("\n".join(lines) + "\n").encode(), leaves


def chunks(plan: Plan) -> Iterator[tuple[Plan, int, int]]:
    """Yield the chunks of rating ids to make."""
    for start in range(1, plan.ratings + 1, CHUNK):
        yield plan, start, min(start + CHUNK, plan.ratings + 1)


class Chainer:
    """Chain the leaves in order; keep each day's running Merkle tree; make ledger rows."""

    def __init__(self, plan: Plan, now: datetime) -> None:
        from backend.scoring.merkle import GENESIS

        self.plan, self.now, self.chain, self.seq = plan, now, GENESIS, 0
        self.day_index, self.builder, self.first_seq = -1, None, 0
        self.checkpoints: list[dict] = []

    def entries(self, leaves: list[str]) -> bytes:
        """Return the COPY text of the next leaves' ledger entries."""
        from backend.scoring.merkle import MerkleBuilder, chain_hash

        created = self.now.isoformat()
        lines = []
        for leaf in leaves:
            index = self.plan.day_index(self.seq + 1)
            if index != self.day_index:
                self.close()  # the day so far ends with the previous entry
                self.day_index, self.builder = index, MerkleBuilder()
                self.first_seq = self.seq + 1
            self.seq += 1
            self.chain = chain_hash(self.chain, leaf)
            self.builder.push(leaf)
            day = self.plan.first_day + timedelta(days=index)
            lines.append(f"{self.seq}\t{self.seq}\t{leaf}\t{self.chain}\t{day}\t{created}")
        return ("\n".join(lines) + "\n").encode()

    def close(self) -> None:
        """Record the checkpoint of the day being built, if any."""
        if self.builder is None:
            return
        self.checkpoints.append({
            "day": self.plan.first_day + timedelta(days=self.day_index),
            "root": self.builder.root().hex(), "first_seq": self.first_seq,
            "last_seq": self.seq, "count": self.builder.size, "chain_hash": self.chain,
            "max_rating_id": self.seq, "created_at": self.now})


def directory(conn, template_id: int) -> None:
    """Create units and officials with set-based SQL."""
    conn.execute(sa.text(
        "INSERT INTO units (id, code, name, category, created_at, updated_at) "
        "SELECT g, 'U' || g, '单位' || g, 'township', now(), now() "
        "FROM generate_series(1, :n) g"), {"n": UNITS})
    conn.execute(sa.text(
        "INSERT INTO cadres (id, code, name, unit_id, position, active, created_at, updated_at)"
        " SELECT g, 'C' || lpad(g::text, 6, '0'), '干部' || g, 1 + g % :u, '科长', true, now(),"
        " now() FROM generate_series(1, :n) g"), {"n": CADRES, "u": UNITS})


def load(engine, plan: Plan, processes: int) -> None:
    """Make, hash and COPY the ratings and entries; add checkpoints and counts; commit."""
    from backend.models import LedgerCheckpoint
    from tests.perf.support import restore, strip

    now = datetime.now(UTC)
    chainer = Chainer(plan, now)
    with engine.begin() as conn:  # the keys between the two tables go first
        saved = {t: strip(conn, t) for t in ("ledger_entries", "ratings")}
    ratings_conn, entries_conn = engine.raw_connection(), engine.raw_connection()
    try:
        # Two connections, so both COPYs stream at once while the pool hashes.
        with ratings_conn.cursor() as rc, entries_conn.cursor() as ec, \
                rc.copy(f"COPY ratings ({', '.join(RATING_COLUMNS)}) FROM STDIN") as ratings, \
                ec.copy("COPY ledger_entries (seq, rating_id, leaf_hash, chain_hash, day, "
                        "created_at) FROM STDIN") as entries, \
                multiprocessing.get_context("fork").Pool(processes,
                                                         initializer=_init_worker) as pool:
            for text, leaves in pool.imap(make_chunk, chunks(plan)):
                ratings.write(text)
                entries.write(chainer.entries(leaves))
        ratings_conn.commit()
        entries_conn.commit()
    finally:
        ratings_conn.close()
        entries_conn.close()
    chainer.close()
    with engine.begin() as conn:
        for table in ("ratings", "ledger_entries"):
            restore(conn, table, saved[table])
        conn.execute(sa.insert(LedgerCheckpoint), chainer.checkpoints)
        conn.execute(sa.text("SELECT setval(pg_get_serial_sequence('ratings', 'id'), :n)"),
                     {"n": plan.ratings})
        counts(conn)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("VACUUM ANALYZE ratings, ledger_entries, rating_counts, "
                             "rating_tag_counts"))
        conn.execute(sa.text("CHECKPOINT"))


def counts(conn) -> None:
    """Fill the count tables from the ratings, as release would have added them up."""
    conn.execute(sa.text(
        "INSERT INTO rating_counts (cadre_id, month, rater_group, score, count) "
        "SELECT cadre_id, month, rater_group, score, count(*) FROM ratings "
        "WHERE status = 'valid' GROUP BY 1, 2, 3, 4"))
    conn.execute(sa.text(
        "INSERT INTO rating_tag_counts (cadre_id, month, rater_group, tag, count) "
        "SELECT cadre_id, month, rater_group, t.value, count(*) FROM ratings "
        "CROSS JOIN LATERAL json_array_elements_text(ratings.tags) AS t(value) "
        "WHERE status = 'valid' GROUP BY 1, 2, 3, 4"))


def marker(engine) -> tuple[int, str] | None:
    """Return (ratings, digest) of the data a database holds, None if it holds none."""
    with engine.connect() as conn:
        exists = conn.scalar(sa.text("SELECT to_regclass('bench_ledger_marker') IS NOT NULL"))
        if not exists:
            return None
        row = conn.execute(sa.text("SELECT ratings, digest FROM bench_ledger_marker")).first()
    return (row[0], row[1]) if row else None


def mark(engine, ratings: int) -> None:
    """Record that the database holds complete data for this many ratings."""
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE bench_ledger_marker (ratings bigint, digest text)"))
        conn.execute(sa.text("INSERT INTO bench_ledger_marker VALUES (:n, :d)"),
                     {"n": ratings, "d": digest()})


def processes() -> int:
    """Return how many processes hash ratings: the CPUs, at most 4 (BENCH_PROCESSES wins)."""
    return int(os.environ.get("BENCH_PROCESSES") or min(4, os.cpu_count() or 1))
