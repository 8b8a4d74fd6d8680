"""Publish a period: recompute every official, store changed snapshots, raise alerts, queue pushes.

Each official is scored under the scheme the scheme book assigns them (the first scheme rule
matching their unit category and position level, else the default).

Only changed documents are written: a snapshot is new when its document hash (everything but
the computation time and ledger checkpoint) differs from the official's current one. Each
changed snapshot and each newly raised alert becomes a webhook message in the same
transaction, through the injected `queue` side effect.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import TYPE_CHECKING

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from backend.errors import InvalidInput
from backend.models import ScoreSnapshot
from backend.scoring import Period, has_begun, month_label, parse_period
from backend.services.scores.documents import Computed, compute
from backend.services.scores.score_alerts import AlertBatch
from backend.services.scores.score_counts import PIVOT_CHUNK, official_counts
from backend.services.scores.targets import OFFICIAL_TARGET, team_targets
from backend.storage import storage_of
from backend.storage.bulk import EncodedJSON, copy_rows
from backend.storage.session_worker import SessionWorker, run_now

if TYPE_CHECKING:  # the book is built by the callers (schemes.scheme_book)
    from backend.services.scores.schemes import SchemeBook

FLUSH_EVERY = 1000
Message = tuple[str, Mapping | EncodedJSON, str, str | None]  # type, data, identity, period
QueueMany = Callable[[Session, list[Message], datetime], object]
Progress = Callable[[int], None]


@dataclass
class PublicationReport:
    period: str
    scheme: str
    officials: int = 0
    teams: int = 0  # leadership teams, scored beside the officials
    changed: int = 0
    alerts_raised: int = 0
    alerts_resolved: int = 0  # resolved on their own: the flag cleared
    changed_codes: list[str] = field(default_factory=list)


def current_hashes(session: Session, period: str) -> dict[int, tuple[int, str]]:
    """Return each official's current snapshot (id, document hash) for the period, under
    whichever scheme it was computed: an official a rule moves to another scheme gets a new
    document (it names its scheme), which supersedes the old one."""
    rows = session.execute(
        select(ScoreSnapshot.cadre_id, ScoreSnapshot.id, ScoreSnapshot.document_hash)
        .where(ScoreSnapshot.period == period, ScoreSnapshot.superseded_at.is_(None)))
    return {cadre_id: (snapshot_id, digest) for cadre_id, snapshot_id, digest in rows}


def begun_period(label: str, now: datetime, tz: tzinfo) -> Period:
    """Parse a period to publish; refuse (422) one that has not begun yet."""
    period = parse_period(label)
    if not has_begun(period, now, tz):
        raise InvalidInput(f"期间 {label} 尚未开始，不能发布评分",
                           {"period": f"期间 {label} 尚未开始"})
    return period


def low_sample_end(period: Period, now: datetime, tz: tzinfo) -> str:
    """Return the last month of the six-month window: the period's end, or now if sooner."""
    return min(period.months[-1], month_label(now, tz))


@dataclass
class Publisher:
    """Carries one publication through its batches."""

    session: Session
    book: SchemeBook
    period: Period
    now: datetime
    queue: QueueMany
    report: PublicationReport
    current: dict[int, tuple[int, str]]
    alerts: AlertBatch
    write: Callable[[Callable[[], object]], None] = run_now  # where the database work runs
    pending: list[Computed] = field(default_factory=list)

    def consider(self, computed: Computed) -> None:
        """Keep a computed score if it differs from the current snapshot; flush in batches."""
        if computed.team:
            self.report.teams += 1
        else:
            self.report.officials += 1
        self.alerts.consider(computed)
        previous = self.current.get(computed.cadre_id)
        if previous is None or previous[1] != computed.document_hash:
            self.pending.append(computed)
        if len(self.pending) >= FLUSH_EVERY:
            self.flush()

    def flush(self) -> None:
        """Write the pending snapshots, supersede the old ones, queue their pushes."""
        if not self.pending:
            return
        pending, self.pending = self.pending, []
        superseded = [self.current[c.cadre_id][0] for c in pending if c.cadre_id in self.current]
        rows, messages = [self.row(c) for c in pending], [self.message(c) for c in pending]
        self.write(lambda: self.store(superseded, rows, messages))
        self.report.changed += len(pending)
        self.report.changed_codes.extend(c.code for c in pending[:100])

    def store(self, superseded: list[int], rows: list[dict], messages: list[Message]) -> None:
        """Supersede the old snapshots, insert the new ones and queue their pushes."""
        if superseded:
            self.session.execute(update(ScoreSnapshot).where(ScoreSnapshot.id.in_(superseded))
                                 .values(superseded_at=self.now))
        copy_rows(self.session, ScoreSnapshot.__table__, rows)
        self.queue(self.session, messages, self.now)

    def row(self, c: Computed) -> dict:
        """Return the snapshot row of a computed score."""
        return {"cadre_id": c.cadre_id, "period": self.period.label,
                "scheme_id": self.book.row_for(c.cadre_id).id, "digest": c.document["digest"],
                "document_hash": c.document_hash, "document": c.document_json,
                "computed_at": self.now, "superseded_at": None}

    def message(self, c: Computed) -> Message:
        """Return the push of a changed score; its identity includes the state it replaces."""
        previous = self.current.get(c.cadre_id, (None, "-"))[1]
        scheme = self.book.row_for(c.cadre_id)
        identity = (f"{c.code}:{self.period.label}:{scheme.key}:"
                    f"{scheme.version}:{previous}>{c.document_hash}")
        return ("score.published", c.document_json, identity, self.period.label)


def publish_period(session: Session, label: str, book: SchemeBook, now: datetime,
                   tz: tzinfo, queue: QueueMany, checkpoint: str | None = None,
                   progress: Progress | None = None) -> PublicationReport:
    """Recompute every official's score for a period and publish what changed; commit."""
    period = begun_period(label, now, tz)
    report = PublicationReport(period=label, scheme=book.label())
    end = low_sample_end(period, now, tz)
    current = current_hashes(session, label)
    teams = team_targets(session)
    # Where the storage allows work beside the caller (PostgreSQL), the next range of officials
    # is read (one thread and connection) and the last batch written (another) while this one
    # is scored: every database call of the loop goes through one of the two workers.
    storage = storage_of(session)
    threaded = storage.concurrent
    with (collector_paused(), storage.snapshot(session) as source,
          SessionWorker(threaded) as reader, SessionWorker(threaded) as worker):
        alerts = AlertBatch(session, period, end, now, queue, worker.write)
        publisher = Publisher(session, book, period, now, queue, report, current, alerts,
                              worker.write)
        counts = official_counts(source, period, book.default, end,
                                 fetch=lambda rows: reader.batches(rows, PIVOT_CHUNK),
                                 run=lambda job: reader.submit(job).result())
        for official in iterate(counts, progress):
            publisher.consider(compute(official, period, book.scheme_for(official.cadre_id),
                                       now, checkpoint,
                                       teams.get(official.cadre_id, OFFICIAL_TARGET)))
        publisher.flush()
        alerts.flush()
    report.alerts_raised, report.alerts_resolved = alerts.raised, alerts.resolved
    session.commit()
    return report


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector, restoring its state afterwards."""
    # Scoring allocates millions of small acyclic objects that reference counting frees;
    # the collector's passes over them (and every long-lived object) cost about a tenth of
    # a publication's time and find nothing to free.
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def iterate(items: Iterator, progress: Progress | None) -> Iterator:
    """Pass items through, reporting progress every thousand."""
    for count, item in enumerate(items, start=1):
        if progress and count % 1000 == 0:
            progress(count)
        yield item
