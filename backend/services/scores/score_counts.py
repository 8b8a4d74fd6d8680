"""Read the count tables for a publication: one official at a time, in order of id.

Aggregation reads only rating_counts and rating_tag_counts (a row per official, month, group
and score or tag). The database sums the months, so Python's work follows officials, not
ratings or count rows, and memory stays flat: rows stream in batches.

On PostgreSQL one pass over the period's months pivots each (official, group) into a dense
array of counts per score of the scheme's scale: one small hash aggregate instead of one per
(official, group, score) cell. Scores outside the scale come back apart, so the result is the
same as summing every cell. The low-sample window's other months are read only for officials
the period leaves short of its minimum. The pivot (backend/storage/pivots.py) runs per range of
officials, in the storage's read-only snapshot, so scoring starts after the first range
instead of after all of them. Elsewhere (SQLite) portable SQL sums the cells and lists them
per official.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from sqlalchemy import Result, bindparam, func, select, text
from sqlalchemy.orm import Session

from backend.models import Cadre, RatingCount, RatingTagCount
from backend.scoring import Period, Scheme, trailing_months
from backend.storage import Storage, pivots, storage_of
from backend.storage.session_worker import run_now

STREAM = {"yield_per": 2000}
T = TypeVar("T")
MAX_PIVOT = 50  # scale points; a wider scale takes the portable query
PIVOT_CHUNK = 5000  # officials per pivot query


@dataclass
class OfficialCounts:
    """One official's counts for a period, and their six-month total."""

    cadre_id: int
    code: str
    histograms: dict[str, dict[int, int]] = field(default_factory=dict)
    tags: dict[str, dict[str, int]] = field(default_factory=dict)
    # The low-sample window's total, read only as far as the rule needs: where the window's
    # months inside the period already hold `low_sample_min` ratings, that part alone (the
    # flag is decided); otherwise the whole total.
    six_month_n: int = 0


Fetch = Callable[[Iterator[tuple]], Iterator[tuple]]
Run = Callable[[Callable[[], T]], T]


def official_counts(session: Session, period: Period, scheme: Scheme, six_months_end: str,
                    fetch: Fetch = iter, run: Run = run_now
                    ) -> Iterator[OfficialCounts]:
    """Yield every active official (and any official rated in the period) with counts.

    The database is used only through `fetch`, which pulls the query's rows, and `run`, which
    runs a query and returns its result: a caller with a database thread passes its own, so
    the rows are read there and turned into counts here.
    """
    window = trailing_months(six_months_end, scheme.low_sample_months)
    scale = range(scheme.scale_min, scheme.scale_max + 1)
    storage = storage_of(session)
    if storage.pivots and len(scale) <= MAX_PIVOT:
        rows = fetch(pivots.pivot_rows(session, scale, period.months, window,
                                       scheme.low_sample_min, PIVOT_CHUNK))
        return pivoted(rows, scale, lambda cadre_id: run(
            lambda: odd_cells(session, cadre_id, scale, period.months)))
    return listed(fetch(streamed(lambda: session.execute(
        portable_query(storage, period, window), execution_options=STREAM))))


def streamed(execute: Callable[[], Result]) -> Iterator[tuple]:
    """Run a query when first asked for a row, yield its rows, and close it."""
    result = execute()
    try:
        yield from result
    finally:
        result.close()  # an unfinished cursor would keep SQLite's read lock


ODD_CELLS = text(
    "SELECT rater_group, score, sum(count) FROM rating_counts WHERE cadre_id = :cadre_id "
    "AND (score < :low OR score > :high) AND month IN :months "
    "GROUP BY rater_group, score").bindparams(bindparam("months", expanding=True))


def odd_cells(session: Session, cadre_id: int, scale: range,
              months: Sequence[str]) -> dict[str, dict[int, int]]:
    """Return an official's period counts per score off the scale (rare: a data error)."""
    rows = session.execute(ODD_CELLS, {"cadre_id": cadre_id, "low": scale[0],
                                       "high": scale[-1], "months": list(months)}).all()
    return nested(*zip(*rows, strict=True)) if rows else {}


def pivoted(rows: Iterable, scale: range,
            odd: Callable[[int], dict[str, dict[int, int]]]) -> Iterator[OfficialCounts]:
    """Turn the rows of the pivot query into OfficialCounts."""
    for cadre_id, code, groups, dense, odd_rows, window_n, tag_groups, tags, tag_counts in rows:
        histograms = {group: {score: n for score, n in zip(scale, counts, strict=True) if n}
                      for group, counts in zip(groups or (), dense or (), strict=True)}
        if odd_rows:
            for group, extra in odd(cadre_id).items():
                histograms.setdefault(group, {}).update(extra)
        yield OfficialCounts(cadre_id, code, histograms, nested(tag_groups, tags, tag_counts),
                             int(window_n or 0))


def cell_lists(storage: Storage, model, key, months: Sequence[str]):
    """Return a subquery of (cadre_id, groups, keys, counts): one row per official.

    The counts are summed over the months per (official, group, key) cell and come back as
    three parallel lists.
    """
    cells = (select(model.cadre_id, model.rater_group, key.label("key"),
                    func.sum(model.count).label("n"))
             .where(model.month.in_(months))
             .group_by(model.cadre_id, model.rater_group, key).subquery())
    # The three aggregates read the same rows in the same order, so the lists stay aligned.
    return (select(cells.c.cadre_id, storage.collect(cells.c.rater_group).label("cell_groups"),
                   storage.collect(cells.c.key).label("cell_keys"),
                   storage.collect(cells.c.n).label("cell_counts"))
            .group_by(cells.c.cadre_id).subquery())


def portable_query(storage: Storage, period: Period, window: Sequence[str]):
    """Select one row per official to score: its histograms, tags and six-month total."""
    hist = cell_lists(storage, RatingCount, RatingCount.score, period.months)
    tags = cell_lists(storage, RatingTagCount, RatingTagCount.tag, period.months)
    totals = (select(RatingCount.cadre_id, func.sum(RatingCount.count).label("n"))
              .where(RatingCount.month.in_(window))
              .group_by(RatingCount.cadre_id).subquery())
    return (select(Cadre.id, Cadre.code, hist.c.cell_groups, hist.c.cell_keys,
                   hist.c.cell_counts, tags.c.cell_groups, tags.c.cell_keys, tags.c.cell_counts,
                   totals.c.n)
            .outerjoin(hist, hist.c.cadre_id == Cadre.id)
            .outerjoin(tags, tags.c.cadre_id == Cadre.id)
            .outerjoin(totals, totals.c.cadre_id == Cadre.id)
            .where(Cadre.active.is_(True) | hist.c.cadre_id.is_not(None))  # or rated in it
            .order_by(Cadre.id))


def listed(rows: Iterable) -> Iterator[OfficialCounts]:
    """Turn the rows of the portable query into OfficialCounts."""
    for cadre_id, code, groups, scores, counts, tag_groups, tags, tag_counts, total in rows:
        yield OfficialCounts(cadre_id, code, nested(groups, scores, counts),
                             nested(tag_groups, tags, tag_counts), int(total or 0))


def nested(groups, keys, counts) -> dict:
    """Turn parallel (group, key, count) lists into {group: {key: count}}."""
    out: dict = {}
    for group, key, count in zip(groups or (), keys or (), counts or (), strict=True):
        out.setdefault(group, {})[key] = count
    return out
