"""Compute every official's score for a period from the count tables, streaming by official.

Aggregation reads only rating_counts and rating_tag_counts (a row per official, month, group
and score or tag), merged by official id, so its cost follows officials, not ratings, and
memory stays flat: one official's counts are in hand at a time.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.models import Cadre, RatingCount, RatingTagCount, SurveyTemplate
from backend.scoring import (
    Period,
    Scheme,
    composite,
    histogram_digest,
    scheme_from_dict,
    score_document,
    score_flags,
    score_group,
    trailing_months,
)

STREAM = {"yield_per": 5000}


@dataclass
class OfficialCounts:
    """One official's counts for a period, and their six-month total."""

    cadre_id: int
    code: str
    histograms: dict[str, dict[int, int]] = field(default_factory=dict)
    tags: dict[str, dict[str, int]] = field(default_factory=dict)
    six_month_n: int = 0


@dataclass(frozen=True)
class Computed:
    """A computed score document with its change-detection hash."""

    cadre_id: int
    code: str
    document: dict
    document_hash: str
    flags: tuple[str, ...]


def scheme_of(row: SurveyTemplate) -> Scheme:
    """Build the pure Scheme of a registered scheme version."""
    return scheme_from_dict({**row.definition, "version": row.version}, f"schemes/{row.key}")


def histogram_rows(session: Session, months: Sequence[str]):
    """Stream (cadre_id, group, score, count) summed over the months, ordered by official."""
    query = (select(RatingCount.cadre_id, RatingCount.rater_group, RatingCount.score,
                    func.sum(RatingCount.count))
             .where(RatingCount.month.in_(months))
             .group_by(RatingCount.cadre_id, RatingCount.rater_group, RatingCount.score)
             .order_by(RatingCount.cadre_id))
    return session.execute(query, execution_options=STREAM)


def tag_rows(session: Session, months: Sequence[str]):
    """Stream (cadre_id, group, tag, count) summed over the months, ordered by official."""
    query = (select(RatingTagCount.cadre_id, RatingTagCount.rater_group, RatingTagCount.tag,
                    func.sum(RatingTagCount.count))
             .where(RatingTagCount.month.in_(months))
             .group_by(RatingTagCount.cadre_id, RatingTagCount.rater_group, RatingTagCount.tag)
             .order_by(RatingTagCount.cadre_id))
    return session.execute(query, execution_options=STREAM)


def total_rows(session: Session, months: Sequence[str]):
    """Stream (cadre_id, total valid ratings) over the months, ordered by official."""
    query = (select(RatingCount.cadre_id, func.sum(RatingCount.count))
             .where(RatingCount.month.in_(months))
             .group_by(RatingCount.cadre_id).order_by(RatingCount.cadre_id))
    return session.execute(query, execution_options=STREAM)


def grouped(rows: Iterator) -> Iterator[tuple[int, list]]:
    """Group an ordered row stream by its first column (the official's id)."""
    for cadre_id, group in itertools.groupby(rows, key=lambda r: r[0]):
        yield cadre_id, list(group)


class Merger:
    """Walk several streams ordered by official id in step with the list of officials."""

    def __init__(self, stream: Iterator[tuple[int, list]]) -> None:
        self.stream, self.head = stream, next(stream, None)

    def take(self, cadre_id: int) -> list:
        """Return the rows of this official (empty when it has none) and advance."""
        while self.head is not None and self.head[0] < cadre_id:
            self.head = next(self.stream, None)
        if self.head is not None and self.head[0] == cadre_id:
            rows, self.head = self.head[1], next(self.stream, None)
            return rows
        return []


def official_counts(session: Session, period: Period, six_months_end: str,
                    low_sample_months: int) -> Iterator[OfficialCounts]:
    """Yield every active official (and any official rated in the period) with counts."""
    rated = select(RatingCount.cadre_id).where(RatingCount.month.in_(period.months))
    results = [histogram_rows(session, period.months), tag_rows(session, period.months),
               total_rows(session, trailing_months(six_months_end, low_sample_months)),
               session.execute(select(Cadre.id, Cadre.code)
                               .where(Cadre.active.is_(True) | Cadre.id.in_(rated))
                               .order_by(Cadre.id), execution_options=STREAM)]
    try:
        yield from merge(*results)
    finally:
        for result in results:  # an unfinished cursor would keep SQLite's read lock
            result.close()


def merge(histogram_result, tag_result, total_result, cadres) -> Iterator[OfficialCounts]:
    """Merge the ordered count streams into one OfficialCounts per official."""
    histograms = Merger(grouped(iter(histogram_result)))
    tags, totals = Merger(grouped(iter(tag_result))), Merger(grouped(iter(total_result)))
    for cadre_id, code in cadres:
        counts = OfficialCounts(cadre_id, code)
        for _, group, score, count in histograms.take(cadre_id):
            counts.histograms.setdefault(group, {})[int(score)] = int(count)
        for _, group, tag, count in tags.take(cadre_id):
            counts.tags.setdefault(group, {})[tag] = int(count)
        counts.six_month_n = sum(int(row[1]) for row in totals.take(cadre_id))
        yield counts


def document_hash(document: dict) -> str:
    """Hash a document without its computation time and ledger checkpoint."""
    stable = {k: v for k, v in document.items() if k not in ("computed_at", "ledger_checkpoint")}
    canonical = json.dumps(stable, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def compute(counts: OfficialCounts, period: Period, scheme: Scheme, now: datetime,
            checkpoint: str | None) -> Computed:
    """Compute one official's score document exactly as SCORING.md says."""
    groups = {name: score_group(counts.histograms.get(name, {}), counts.tags.get(name, {}),
                                rule, scheme) for name, rule in scheme.groups.items()}
    total = composite(groups, scheme)
    flags = score_flags(groups, counts.six_month_n, scheme)
    document = score_document(counts.code, period.label, scheme, groups, total, flags,
                              histogram_digest(counts.histograms), checkpoint,
                              now.isoformat(timespec="seconds"))
    return Computed(counts.cadre_id, counts.code, document, document_hash(document),
                    tuple(flags))
