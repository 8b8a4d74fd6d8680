"""The rating ledger: release chains each batch of ratings; each closed day gets a Merkle root.

The submission path never touches the ledger. The release job (backend/services/ratings/release.py)
chains the ratings of a batch, in their (shuffled) id order, in the same transaction that
stores them, under the ledger's lock (an advisory lock on PostgreSQL, the write lock on
SQLite). So every rating has its entry from the moment it exists; a rating without one was
written behind the platform's back, and `verify` names it. An entry's day is the local day of
its batch. A day is checkpointed once it is over (job at 00:10): its root never changes after.
There is no running checkpoint for "today": a root that moves every minute would be an anchor
nobody can hold, so score pushes carry the latest closed day (`anchor`), which commits to the
whole chain before it through its chain hash.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta, tzinfo
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.errors import NotFound, Unavailable
from backend.models import LedgerCheckpoint, LedgerEntry, PendingItem, Rating
from backend.scoring.merkle import (
    GENESIS,
    MerkleBuilder,
    accepted_hash,
    audit_ranges,
    chain_hash,
    leaf_hash,
    receipt_hash,
)
from backend.services.ledger.verify import VerifyResult, verify
from backend.storage import advisory_lock
from backend.storage.bulk import copy_rows
from backend.storage.transactions import begin_write

__all__ = ["VerifyResult", "append_entries", "checkpoint_days", "inclusion_proof", "verify"]

LOCK_KEY = 7_110_002
STREAM = 5000
MAX_RECEIPT_RATINGS = 200  # a ballot holds at most 200 ratings under one receipt


def lock(session: Session) -> None:
    """Begin a write transaction holding the ledger's lock until commit."""
    begin_write(session)
    advisory_lock(session, LOCK_KEY)


def latest_checkpoint(session: Session) -> LedgerCheckpoint | None:
    """Return the checkpoint of the latest closed day, if any."""
    return session.scalar(select(LedgerCheckpoint).order_by(LedgerCheckpoint.day.desc())
                          .limit(1))


def anchor(checkpoint: LedgerCheckpoint | None) -> str | None:
    """Return the anchor sent with score pushes: "<day>:<merkle root>:<chain hash>"."""
    if checkpoint is None:
        return None
    return f"{checkpoint.day.isoformat()}:{checkpoint.root}:{checkpoint.chain_hash}"


def append_entries(session: Session, rows: Sequence[Any], now: datetime, tz: tzinfo) -> int:
    """Chain ratings (in the given order) onto the ledger; the caller holds `lock`."""
    if not rows:
        return 0
    last = session.execute(select(LedgerEntry.seq, LedgerEntry.chain_hash, LedgerEntry.day)
                           .order_by(LedgerEntry.seq.desc()).limit(1)).first()
    closed = latest_checkpoint(session)
    day = batch_day(now, tz, last.day if last else None, closed.day if closed else None)
    seq, chain = (last.seq, last.chain_hash) if last else (0, GENESIS)
    entries = []
    for row in rows:
        seq, leaf = seq + 1, leaf_hash(row)
        chain = chain_hash(chain, leaf)
        entries.append({"seq": seq, "rating_id": row.id, "leaf_hash": leaf,
                        "chain_hash": chain, "day": day, "created_at": now})
    copy_rows(session, LedgerEntry.__table__, entries)
    return len(entries)


def batch_day(now: datetime, tz: tzinfo, last_day: date | None, closed_day: date | None) -> date:
    """Return the day of a batch: today, never before the last entry or a closed day."""
    days = [now.astimezone(tz).date()]
    if last_day is not None:
        days.append(last_day)
    if closed_day is not None:
        days.append(closed_day + timedelta(days=1))
    return max(days)


def checkpoint_days(session: Session, now: datetime, tz: tzinfo) -> list[LedgerCheckpoint]:
    """Close every day before today that has entries and no checkpoint; commit."""
    lock(session)
    closed = latest_checkpoint(session)
    query = (select(LedgerEntry.day).distinct()
             .where(LedgerEntry.day < now.astimezone(tz).date()).order_by(LedgerEntry.day))
    if closed is not None:
        query = query.where(LedgerEntry.day > closed.day)
    made = []
    for day in session.scalars(query).all():
        closed = close_day(session, day, closed, now)
        made.append(closed)
    session.commit()
    return made


def close_day(session: Session, day: date, previous: LedgerCheckpoint | None,
              now: datetime) -> LedgerCheckpoint:
    """Compute and add the checkpoint of one day from its entries."""
    builder, first, last, chain, top = MerkleBuilder(), None, 0, GENESIS, 0
    for seq, rating_id, leaf, chained in stream_day(session, day):
        builder.push(leaf)
        first = seq if first is None else first
        last, chain, top = seq, chained, max(top, rating_id)
    checkpoint = LedgerCheckpoint(
        day=day, root=builder.root().hex(), first_seq=first, last_seq=last,
        count=builder.size, chain_hash=chain, created_at=now,
        max_rating_id=max(top, previous.max_rating_id if previous else 0))
    session.add(checkpoint)
    session.flush()
    return checkpoint


def stream_day(session: Session, day: date) -> Iterable[tuple[int, int, str, str]]:
    """Yield (seq, rating id, leaf hash, chain hash) of a day's entries in order."""
    result = session.execute(
        select(LedgerEntry.seq, LedgerEntry.rating_id, LedgerEntry.leaf_hash,
               LedgerEntry.chain_hash).where(LedgerEntry.day == day)
        .order_by(LedgerEntry.seq).execution_options(yield_per=STREAM))
    with result:
        yield from result


def list_checkpoints(session: Session, limit: int = 30,
                     before: date | None = None) -> list[LedgerCheckpoint]:
    """Return checkpoints, newest first."""
    query = select(LedgerCheckpoint).order_by(LedgerCheckpoint.day.desc()).limit(limit)
    if before is not None:
        query = query.where(LedgerCheckpoint.day < before)
    return list(session.scalars(query))


def proofs(session: Session, rating_ids: Sequence[int]) -> list[dict[str, Any]] | None:
    """Return an inclusion proof per rating, or None while any of them is not checkpointed."""
    entries = list(session.scalars(select(LedgerEntry).where(LedgerEntry.rating_id
                                                             .in_(rating_ids))
                                   .order_by(LedgerEntry.seq)))
    days = {e.day for e in entries}
    checkpoints = {c.day: c for c in session.scalars(
        select(LedgerCheckpoint).where(LedgerCheckpoint.day.in_(days)))}
    if len(entries) < len(rating_ids) or days - set(checkpoints):
        return None
    result = []
    for day in sorted(days):
        indices = [e.seq - checkpoints[day].first_seq for e in entries if e.day == day]
        result.extend(day_proofs(session, checkpoints[day], indices))
    return result


def day_proofs(session: Session, checkpoint: LedgerCheckpoint,
               indices: Sequence[int]) -> list[dict[str, Any]]:
    """Return the proofs of leaves at `indices` of a closed day, in one pass over the day."""
    paths = {i: audit_ranges(i, checkpoint.count) for i in indices}
    builder = MerkleBuilder(wanted={r for path in paths.values() for r, _ in path})
    leaves: dict[int, str] = {}
    for position, (_, _, leaf, _) in enumerate(stream_day(session, checkpoint.day)):
        builder.push(leaf)
        if position in paths:
            leaves[position] = leaf
    if builder.size != checkpoint.count:
        raise Unavailable("账本与检查点不一致，暂无法出具证明")
    builder.root()
    cp = {"day": checkpoint.day.isoformat(), "root": checkpoint.root, "size": checkpoint.count}
    return [{"checkpoint": cp, "index": i, "leaf_hash": leaves[i],
             "proof": [{"side": side, "hash": builder.found[r].hex()} for r, side in paths[i]]}
            for i in indices]


def receipt_ratings(session: Session, receipt: str) -> list[int]:
    """Return the ids of the ratings stored under a receipt (indices 0..199, gaps allowed)."""
    hashes = [receipt_hash(receipt, n) for n in range(MAX_RECEIPT_RATINGS)]
    return list(session.scalars(select(Rating.id).where(Rating.receipt_hash.in_(hashes))
                                .order_by(Rating.id)))


def inclusion_proof(session: Session, receipt: str,
                    rating_ids: list[int] | None = None) -> dict[str, Any]:
    """Return the receipt's status: accepted (waiting for its batch), pending, or its proofs.

    `rating_ids`: the receipt's ratings when the caller has looked them up already.
    """
    if rating_ids is None:
        rating_ids = receipt_ratings(session, receipt)
    if not rating_ids:
        waiting = session.scalar(select(PendingItem.id).where(
            PendingItem.receipt_hash == accepted_hash(receipt)))
        if waiting is not None:
            return {"status": "accepted"}
        raise NotFound("凭证不存在")
    found = proofs(session, rating_ids)
    if found is None:
        return {"status": "pending"}
    return {"status": "included", **found[0], "entries": found}
