"""Verify the ratings from scratch: MACs, leaves, the chain, the checkpoints and every count.

The walk streams entries in sequence order joined to their ratings and stops at the first
entry that does not verify. Reasons:
- forged: the rating no longer matches its MAC (keys outside the database): its content or
  status was edited, or the row was written by hand;
- altered: the rating's content no longer hashes to its entry's leaf;
- deleted: the entry's rating row is gone;
- inserted: a rating has no entry (release chains every rating in the transaction that
  stores it, so such a row was written behind the platform's back);
- reordered: the rating's hash belongs to another position, an entry's chain hash does not
  follow from its predecessor, or days go backwards;
- missing: sequence numbers skip (an entry was removed);
- checkpoint: a day's entries no longer give its recorded root, range, count or chain hash;
- counts: a count table differs from a recount of the valid ratings (the first difference is
  named by table, official, month, group and score or tag).

Streaming, for tens of millions of ratings in constant memory: the walk reads the entries a
batch at a time from a server-side cursor, holding one day's Merkle frontier and nothing per
rating. On PostgreSQL the next batches are fetched by a thread while the walk checks the
current one, and the checks the database does alone (the first rating without an entry, the
recount of the count tables) run meanwhile on a connection of their own, so the database's
work and the walk's overlap instead of adding up (tests/perf/bench_ledger_verify.py).
With several cores (LEDGER_VERIFY_WORKERS), a big ledger is walked in spans of whole days by
as many processes (spans.py), each verifying its part as the single walk would.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import date
from itertools import repeat
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.models import LedgerCheckpoint, LedgerEntry, Rating
from backend.scoring.merkle import GENESIS, MerkleBuilder, chain_hash, leaf_hash
from backend.services.ledger import recount, spans
from backend.services.sealing.mac import mac_ok
from backend.services.sealing.seal import Sealer
from backend.storage import session_for, storage_of, url_of
from backend.storage.streaming import stream_rows

STREAM = 5000
REASONS = {"forged": "评价与其 MAC 不符（内容或状态被改动，或为手工写入）",
           "counts": "计数表与有效评价的重新计数不符",
           "altered": "评价内容被改动", "deleted": "评价记录被删除",
           "inserted": "账本中间出现未入账的评价", "reordered": "条目顺序或链被改动",
           "missing": "账本条目缺失", "checkpoint": "检查点与账本条目不符"}


@dataclass(frozen=True)
class VerifyResult:
    """The outcome: ok, or the first bad entry (seq, rating id) and why."""

    entries: int
    checkpoints: int
    seq: int | None = None
    rating_id: int | None = None
    reason: str | None = None
    detail: str = ""

    @property
    def ok(self) -> bool:
        """Tell whether everything verified."""
        return self.reason is None

    def message(self) -> str:
        """Describe the outcome in Chinese."""
        if self.ok:
            return (f"账本完整：{self.entries} 个条目与评价的 MAC、{self.checkpoints} 个检查点"
                    f"及全部计数表均校验通过")
        if self.reason == "counts":
            return f"账本校验失败：原因：counts（{REASONS['counts']}）{self.detail}"
        rating = f"（评价 #{self.rating_id}）" if self.rating_id is not None else ""
        return (f"账本校验失败：第一个不一致的条目是 #{self.seq}{rating}，"
                f"原因：{self.reason}（{REASONS[self.reason]}）{self.detail}")


@dataclass(frozen=True)
class Recorded:
    """A day's checkpoint as the walk compares it (plain values: it travels to workers)."""

    day: date
    root: str
    first_seq: int
    last_seq: int
    count: int
    chain_hash: str


def recorded_checkpoints(session: Session) -> list[Recorded]:
    """Return every checkpoint, in day order."""
    rows = session.execute(select(LedgerCheckpoint.day, LedgerCheckpoint.root,
                                  LedgerCheckpoint.first_seq, LedgerCheckpoint.last_seq,
                                  LedgerCheckpoint.count, LedgerCheckpoint.chain_hash)
                           .order_by(LedgerCheckpoint.day))
    return [Recorded(*row) for row in rows]


@dataclass
class Day:
    """The running checkpoint of one day during the walk."""

    day: date
    first_seq: int
    builder: MerkleBuilder = field(default_factory=MerkleBuilder)
    last_seq: int = 0
    chain_hash: str = GENESIS


@dataclass
class Walk:
    """Carries the walk's state from entry to entry."""

    checkpoints: dict[date, Recorded]
    sealer: Sealer
    expected: int = 1
    chain: str = GENESIS
    current: Day | None = None
    closed_days: int = 0
    failure: VerifyResult | None = None
    recomputed: str | None = None
    first_day: date | None = None
    open_tail: bool = False  # the last day walked has no checkpoint (yet)

    def fail(self, seq: int, rating_id: int | None, reason: str, detail: str = "") -> bool:
        """Record the first failure; return False to stop the walk."""
        self.failure = VerifyResult(self.expected - 1, self.closed_days, seq, rating_id,
                                    reason, detail)
        return False

    def step(self, row: Any) -> bool:
        """Check one entry; return False at the first failure."""
        if row.seq != self.expected:
            return self.fail(self.expected, None, "missing", f"（下一个条目是 #{row.seq}）")
        if row.id is None:
            return self.fail(row.seq, row.rating_id, "deleted")
        if not mac_ok(self.sealer, row):
            return self.fail(row.seq, row.rating_id, "forged")
        self.recomputed = leaf_hash(row)
        if self.recomputed != row.leaf_hash:
            return self.fail(row.seq, row.rating_id, "altered")
        self.chain = chain_hash(self.chain, row.leaf_hash)
        if self.chain != row.chain_hash:
            return self.fail(row.seq, row.rating_id, "reordered", "（链哈希不符）")
        if not self.enter_day(row):
            return False
        self.add_to_day(row)
        self.expected += 1
        return True

    def enter_day(self, row: Any) -> bool:
        """Close the previous day when the entry starts a new one."""
        if self.current is not None and row.day == self.current.day:
            return True
        if self.current is not None and row.day < self.current.day:
            return self.fail(row.seq, row.rating_id, "reordered", "（日期倒退）")
        if self.current is not None and not self.close_day():
            return False
        self.current = Day(row.day, row.seq)
        if self.first_day is None:
            self.first_day = row.day
        return True

    def add_to_day(self, row: Any) -> None:
        """Add an entry to its day's running checkpoint."""
        self.current.builder.push(row.leaf_hash)
        self.current.last_seq, self.current.chain_hash = row.seq, row.chain_hash

    def close_day(self) -> bool:
        """Compare a finished day with its checkpoint (a day after the last one may be open)."""
        day = self.current
        recorded = self.checkpoints.pop(day.day, None)
        if recorded is None:
            if any(d > day.day for d in self.checkpoints):
                return self.fail(day.first_seq, None, "checkpoint",
                                 f"（{day.day} 没有检查点）")
            self.open_tail = True
            return True
        got = (day.builder.root().hex(), day.first_seq, day.last_seq, day.builder.size,
               day.chain_hash)
        want = (recorded.root, recorded.first_seq, recorded.last_seq, recorded.count,
                recorded.chain_hash)
        if got != want:
            return self.fail(recorded.first_seq, None, "checkpoint", f"（{day.day}）")
        self.closed_days += 1
        return True

    def finish(self) -> None:
        """Close the last day and report checkpoints left without entries."""
        if self.failure is None and self.current is not None:
            self.close_day()
        if self.failure is None and self.checkpoints:
            day = min(self.checkpoints)
            self.fail(self.checkpoints[day].first_seq, None, "missing",
                      f"（{day} 的检查点没有对应条目）")


# What the walk reads of each entry and its rating, in sequence order.
WALK = (select(LedgerEntry.seq, LedgerEntry.rating_id, LedgerEntry.leaf_hash,
               LedgerEntry.chain_hash, LedgerEntry.day, Rating.id, Rating.cadre_id,
               Rating.rater_group, Rating.score, Rating.tags, Rating.comment,
               Rating.template_id, Rating.event_type, Rating.batch_at, Rating.month,
               Rating.receipt_hash, Rating.status, Rating.excluded_reason, Rating.mac)
        .outerjoin(Rating, Rating.id == LedgerEntry.rating_id).order_by(LedgerEntry.seq))


def entries(session: Session, span: spans.Span) -> Iterator[Any]:
    """Yield the entries joined to their ratings, in sequence order, a batch at a time.

    On PostgreSQL the rows come from a server-side cursor of the driver, fetched ahead by a
    thread (see backend/storage/streaming.py); elsewhere through SQLAlchemy. The rows have
    the same names either way.
    """
    statement = WALK if span.start == 1 else WALK.where(LedgerEntry.seq >= span.start)
    if span.stop is not None:
        statement = statement.where(LedgerEntry.seq < span.stop)
    yield from stream_rows(session, statement, STREAM, "ledger_verify")


def verify(session: Session, sealer: Sealer, workers: int = 1,
           min_entries: int = spans.PARALLEL_MIN) -> VerifyResult:
    """Recompute everything; return the first entry or count that does not verify, if any.

    With `workers` > 1 on PostgreSQL, from `min_entries` entries on, the walk is split into
    spans of whole days checked by as many processes (spans.py); should any span or seam
    find a fault, the ledger is walked again in one piece, which names the first fault
    exactly as it always does.
    """
    checkpoints = recorded_checkpoints(session)
    storage = storage_of(session)
    # The database's own checks (grouped scans and joins of every rating, work of the
    # database server) run beside the walk where the storage allows it.
    checked = storage.beside(session, database_checks)
    walk = walk_in_parallel(session, sealer, checkpoints, workers, min_entries) if (
        workers > 1 and storage.concurrent) else None
    if walk is None:
        walk = walk_span(session, sealer, spans.Span(1, None, GENESIS, tuple(checkpoints)))
    failure = classify(session, walk.failure, walk.recomputed)
    first_orphan, counted = checked()
    orphan = inserted(first_orphan, walk.expected - 1, walk.closed_days)
    if orphan is not None and (failure is None or orphan.seq <= failure.seq):
        return orphan
    if failure is not None:
        return failure
    if counted is not None:
        return VerifyResult(walk.expected - 1, walk.closed_days, None, None, "counts",
                            f"：{counted}")
    return VerifyResult(walk.expected - 1, walk.closed_days)


def walk_in_parallel(session: Session, sealer: Sealer, checkpoints: list[Recorded],
                     workers: int, min_entries: int = spans.PARALLEL_MIN) -> Walk | None:
    """Walk spans of the ledger in worker processes; None unless all of it verified.

    The workers are forked from a server process that imported this module and nothing else
    (never from this process: it holds connections and threads), and each reads its span on
    a connection of its own. What comes back is a Walk of the whole.
    """
    planned = spans.plan(checkpoints, workers, min_entries)
    if not planned:
        return None
    before = dict(session.execute(select(LedgerEntry.seq, LedgerEntry.chain_hash).where(
        LedgerEntry.seq.in_([span.start - 1 for span in planned[1:]]))).all())
    if len(before) < len(planned) - 1:  # an entry at a seam is gone: the walk names it
        return None
    planned = [planned[0], *(replace(span, chain=before[span.start - 1])
                             for span in planned[1:])]
    with ProcessPoolExecutor(max_workers=len(planned), mp_context=worker_context()) as pool:
        outcomes = list(pool.map(check_span, repeat(url_of(session)), repeat(sealer), planned))
    if not spans.seamless(planned, outcomes):
        return None
    return Walk({}, sealer, expected=outcomes[-1].expected,
                closed_days=sum(o.closed_days for o in outcomes))


def worker_context() -> multiprocessing.context.BaseContext:
    """Return the start method for span workers: a fork server that preloaded this module."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([__name__])
    return context


def check_span(url: str, sealer: Sealer, span: spans.Span) -> spans.Outcome:
    """Walk one span in a worker process, on a connection of its own."""
    with session_for(url) as session:
        walk = walk_span(session, sealer, span)
    return spans.Outcome(walk.failure is None, walk.expected, walk.closed_days,
                         walk.first_day, walk.current.day if walk.current else None,
                         walk.open_tail)


def walk_span(session: Session, sealer: Sealer, span: spans.Span) -> Walk:
    """Walk the entries of one span (the whole ledger by default) and finish its last day."""
    walk = Walk({c.day: c for c in span.checkpoints}, sealer, expected=span.start,
                chain=span.chain)
    stream = entries(session, span)
    for row in stream:
        if not walk.step(row):
            break
    stream.close()  # closes the server-side cursor when the walk stopped early
    walk.finish()
    return walk


def classify(session: Session, failure: VerifyResult | None,
             recomputed: str | None) -> VerifyResult | None:
    """Tell a reordering from an alteration: the rating's hash sits at another position."""
    if failure is None or failure.reason != "altered":
        return failure
    elsewhere = session.scalar(select(LedgerEntry.seq).where(LedgerEntry.leaf_hash == recomputed))
    if elsewhere is None:
        return failure
    return VerifyResult(failure.entries, failure.checkpoints, failure.seq, failure.rating_id,
                        "reordered", f"（该评价的哈希位于条目 #{elsewhere}）")


def database_checks(session: Session) -> tuple[tuple[int, int] | None, str | None]:
    """Run the checks the database does alone: the first orphan rating, then the recount."""
    return orphan_rating(session), recount.first_mismatch(session)


def orphan_rating(session: Session) -> tuple[int, int] | None:
    """Return the first rating without an entry and the last entry before its id, if any."""
    orphan = session.scalar(
        select(Rating.id).outerjoin(LedgerEntry, LedgerEntry.rating_id == Rating.id)
        .where(LedgerEntry.seq.is_(None)).order_by(Rating.id).limit(1))
    if orphan is None:
        return None
    before = session.scalar(select(func.max(LedgerEntry.seq))
                            .where(LedgerEntry.rating_id < orphan)) or 0
    return orphan, before


def inserted(found: tuple[int, int] | None, entries: int,
             checkpoints: int) -> VerifyResult | None:
    """Return the failure naming the first rating without an entry, if there is one."""
    if found is None:
        return None
    orphan, before = found
    return VerifyResult(entries, checkpoints, before + 1, orphan, "inserted",
                        f"（评价 #{orphan} 没有账本条目：不是经分批入账写入的）")
