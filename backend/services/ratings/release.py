"""Release: pending ratings enter `ratings` in shuffled batches, one transaction per batch.

A batch waits until it holds at least `batch_min` ratings (RATING_BATCH_MIN, across
officials), except that items of an earlier local day go out whatever their number, so no
rating waits past the end of its day. In one transaction under the ledger's lock, a batch:
- opens its sealed items and shuffles the ratings of every submission together;
- stores them with ids drawn in that order, the batch's hour as their time, and a MAC;
- adds them to the count tables, chains them into the ledger, stores their abuse signals
  (one row per submission) and follow-up contacts, adds its uses, unstamped submissions
  and openings to the funnel's and the campaigns' counters, and opens a case (整改单) for
  each bad rating;
- deletes its pending items.
So no transaction id, physical order, id order or time relates a rating to its submission
beyond its batch. A crash anywhere rolls the batch back whole: its items stay pending and are
released by the next run, once.
"""

from __future__ import annotations

import logging
import random
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, tzinfo
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.models import (
    AbuseSignal,
    CampaignTurnout,
    FollowupContact,
    FunnelCount,
    PendingItem,
    Rating,
    RatingCount,
    RatingTagCount,
)
from backend.models.ratings import VALID
from backend.services.cases.opening import CaseRules, open_for_ratings
from backend.services.fraud import FraudSettings, batch_runs, record_findings
from backend.services.ledger import chain as ledger
from backend.services.privacy.personal_data import Vault
from backend.services.scores import counts
from backend.services.sealing.mac import rating_mac
from backend.services.sealing.seal import Sealer, SealError
from backend.storage import storage_of
from backend.storage.bulk import copy_rows, delete_ids

log = logging.getLogger(__name__)
MAX_BATCH = 5000


@dataclass(frozen=True)
class ReleaseContext:
    """What release needs: the keys, the vault for follow-up phones, time and the batch size."""

    sealer: Sealer
    vault: Vault
    tz: tzinfo
    now: datetime
    batch_min: int
    max_batch: int = MAX_BATCH
    run_min: int = FraudSettings.run_min  # campaign runs found in submission order
    case_rules: CaseRules = field(default_factory=CaseRules)  # which ratings open a case
    # The order must not be predictable: a system random source (tests may seed their own).
    shuffle: Callable[[list], None] = field(default=random.SystemRandom().shuffle)


@dataclass
class ReleaseReport:
    """What a run released and what still waits."""

    batches: int = 0
    ratings: int = 0
    submissions: int = 0
    openings: int = 0
    waiting: int = 0
    unreadable: int = 0


@dataclass
class Batch:
    """The opened items of one batch and the rows they become."""

    ids: list[int] = field(default_factory=list)
    submissions: list[dict] = field(default_factory=list)
    openings: list[dict] = field(default_factory=list)
    unreadable: int = 0


def waiting(session: Session) -> int:
    """Return how many ratings wait in the buffer (an aggregate: nothing else is shown)."""
    return session.scalar(select(func.count()).select_from(PendingItem)
                          .where(PendingItem.kind == "rating")) or 0


def release(session: Session, ctx: ReleaseContext, force: bool = False) -> ReleaseReport:
    """Release every batch that is due (with `force`, everything pending); commit each."""
    report = ReleaseReport()
    while (batch := release_batch(session, ctx, force)) is not None:
        report.batches += 1
        report.submissions += len(batch.submissions)
        report.ratings += sum(len(s["rows"]) for s in batch.submissions)
        report.openings += len(batch.openings)
        report.unreadable += batch.unreadable
        if len(batch.ids) + batch.unreadable < ctx.max_batch:
            break
    report.waiting = waiting(session)
    session.commit()
    return report


def release_batch(session: Session, ctx: ReleaseContext, force: bool) -> Batch | None:
    """Release the oldest due items as one batch; None (and nothing done) when none is due."""
    ledger.lock(session)
    rows = session.execute(select(PendingItem.id, PendingItem.kind, PendingItem.day,
                                  PendingItem.sealed)
                           .order_by(PendingItem.id).limit(ctx.max_batch)).all()
    today = ctx.now.astimezone(ctx.tz).date()
    ratings = sum(1 for r in rows if r.kind == "rating")
    due = rows and (force or ratings >= ctx.batch_min or any(r.day < today for r in rows))
    if not due:
        session.rollback()
        return None
    batch = opened(ctx.sealer, rows)
    if not batch.ids:
        session.rollback()
        return None
    store_batch(session, ctx, batch)
    delete_ids(session, PendingItem.__table__.c.id, batch.ids)
    session.commit()
    return batch


def opened(sealer: Sealer, rows: Sequence[Any]) -> Batch:
    """Open the sealed items; one that no key opens stays pending and is counted."""
    batch = Batch()
    for row in rows:
        try:
            payload = sealer.open(row.sealed)
        except SealError:
            batch.unreadable += 1
            log.error("pending item %s cannot be opened with RATING_SEAL_KEYS", row.id)
            continue
        batch.ids.append(row.id)
        (batch.submissions if row.kind == "rating" else batch.openings).append(payload)
    return batch


def store_batch(session: Session, ctx: ReleaseContext, batch: Batch) -> None:
    """Write a batch's ratings and everything derived from them (the caller commits)."""
    batch_at = ctx.now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    rows = [(n, k, row) for n, sub in enumerate(batch.submissions)
            for k, row in enumerate(sub["rows"])]
    ctx.shuffle(rows)
    ids = allocate_ids(session, len(rows))
    stored = []
    ids_of: list[dict[int, int]] = [{} for _ in batch.submissions]
    for rating_id, (n, k, row) in zip(ids, rows, strict=True):
        sub = batch.submissions[n]
        rating = {"id": rating_id, **row, "template_id": sub["template_id"],
                  "event_type": sub["event_type"], "batch_at": batch_at, "month": sub["month"],
                  "status": VALID, "excluded_reason": None}
        rating["mac"] = rating_mac(ctx.sealer, rating)
        stored.append(rating)
        ids_of[n][k] = rating_id
    copy_rows(session, Rating.__table__, stored)
    add_counts(session, stored)
    ledger.append_entries(session, [RatingRow(r) for r in stored], ctx.now, ctx.tz)
    in_order = [[ids[k] for k in sorted(ids)] for ids in ids_of]  # each submission's rows
    store_signals(session, ctx, batch.submissions, in_order, batch_at)
    add_funnel(session, batch)
    open_for_ratings(session, stored, ctx.case_rules, ctx.tz, batch_at)
    record_findings(session, batch_runs(batch.submissions, in_order, ctx.run_min), ctx.now)


class RatingRow:
    """A stored rating's dict seen as attributes (what the ledger's leaf hash reads)."""

    def __init__(self, values: dict) -> None:
        self.__dict__.update(values)


def allocate_ids(session: Session, n: int) -> list[int]:
    """Draw n rating ids (the caller holds the write lock); they follow the shuffled order."""
    return storage_of(session).next_ids(session, Rating.__table__.c.id, n)


def add_counts(session: Session, stored: Sequence[dict]) -> None:
    """Add the batch's ratings to the score and tag count tables."""
    scores: Counter = Counter()
    tags: Counter = Counter()
    for r in stored:
        scores[(r["cadre_id"], r["month"], r["rater_group"], r["score"])] += 1
        for tag in set(r["tags"]):
            tags[(r["cadre_id"], r["month"], r["rater_group"], tag)] += 1
    counts.add_many(session, RatingCount, ("cadre_id", "month", "rater_group", "score"),
                    {key: {"count": n} for key, n in scores.items()})
    counts.add_many(session, RatingTagCount, ("cadre_id", "month", "rater_group", "tag"),
                    {key: {"count": n} for key, n in tags.items()})


def store_signals(session: Session, ctx: ReleaseContext, submissions: Sequence[dict],
                  rating_ids: Sequence[list[int]], batch_at: datetime) -> None:
    """Store one abuse-signal row per submission and the consented follow-up phones.

    Both hang off the submission's first rating: its other ratings (a ballot's) are not
    tied together by them.
    """
    signals, followups = [], []
    for sub, ids in zip(submissions, rating_ids, strict=True):
        if not ids:  # every target abstained: nothing was rated
            continue
        rating_id = ids[0]
        signals.append({"rating_id": rating_id, "net_hash": None, **sub["signals"],
                        "created_at": batch_at})
        if sub.get("phone"):
            followups.append({"rating_id": rating_id, "phone_enc": ctx.vault.encrypt(sub["phone"]),
                              "created_at": batch_at})
    ctx.shuffle(signals)
    copy_rows(session, AbuseSignal.__table__, signals)
    copy_rows(session, FollowupContact.__table__, followups)


def add_funnel(session: Session, batch: Batch) -> None:
    """Add the batch's uses and first openings to the funnel and campaign counters."""
    funnel: dict[tuple, Counter] = defaultdict(Counter)
    turnout: Counter = Counter()
    for sub in batch.submissions:
        if sub["kind"] == "event":
            key = funnel_key(sub, sub.get("cadre_id"))
            funnel[key]["rated"] += 1
            # Unstamped: an aggregate per official and day, never a mark on the rating.
            funnel[key]["unstamped"] += 0 if sub.get("stamped", True) else 1
        elif sub.get("campaign_id") is not None and sub.get("group"):
            turnout[(sub["campaign_id"], sub["group"], date.fromisoformat(sub["day"]))] += 1
    for item in batch.openings:
        funnel[funnel_key(item, item["cadre_id"])]["opened"] += 1
    funnel.pop(None, None)
    counts.add_many(session, FunnelCount, ("day", "cadre_id", "event_type", "channel"),
                    {key: dict(deltas) for key, deltas in funnel.items()})
    counts.add_many(session, CampaignTurnout, ("campaign_id", "rater_group", "day"),
                    {key: {"answered": n} for key, n in turnout.items()})


def funnel_key(item: dict, cadre_id: int | None) -> tuple | None:
    """Return the funnel counter an event item adds to: (day, official, event type, channel)."""
    if cadre_id is None or not item.get("event_type"):
        return None
    return (date.fromisoformat(item["day"]), cadre_id, item["event_type"],
            item.get("channel") or "qr")
