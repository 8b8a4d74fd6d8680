"""Read the count tables for a publication: one official at a time, in order of id.

Aggregation reads only rating_counts and rating_tag_counts (a row per official, month, group
and score or tag). The database sums the months, so Python's work follows officials, not
ratings or count rows, and memory stays flat: rows stream in batches.

On PostgreSQL one pass over the period's months pivots each (official, group) into a dense
array of counts per score of the scheme's scale: one small hash aggregate instead of one per
(official, group, score) cell. Scores outside the scale come back apart, so the result is the
same as summing every cell. The low-sample window's other months are read only for officials
the period leaves short of its minimum. The pivot runs per range of officials, in a read-only
transaction of its own (`snapshot_reader`), so scoring starts after the first range instead
of after all of them. Elsewhere (SQLite) portable SQL sums the cells and lists them per
official.
"""

from __future__ import annotations

import contextlib
import itertools
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from sqlalchemy import JSON, Result, bindparam, func, select, text, type_coerce
from sqlalchemy.orm import Session

from backend.models import Cadre, RatingCount, RatingTagCount
from backend.scoring import Period, Scheme, trailing_months
from backend.storage.engine import engine_kind, on_postgres
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
    dialect = engine_kind(session)
    if dialect == "postgresql" and len(scale) <= MAX_PIVOT:
        rows = fetch(pivot_rows(session, scale, period.months, window,
                                scheme.low_sample_min))
        return pivoted(rows, scale, lambda cadre_id: run(
            lambda: odd_cells(session, cadre_id, scale, period.months)))
    return listed(fetch(streamed(lambda: session.execute(
        portable_query(dialect, period, window), execution_options=STREAM))))


@contextlib.contextmanager
def snapshot_reader(session: Session) -> Iterator[Session]:
    """Yield a session to read the counts with: on PostgreSQL, a second connection.

    Its own read-only REPEATABLE READ transaction sees every range of officials as of one
    moment, and its own server process pivots the next range while the caller's connection
    writes results. Elsewhere (SQLite, one writer) it is the caller's session.
    """
    if not on_postgres(session):
        yield session
        return
    with session.get_bind().connect() as connection:
        connection.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"))
        reader = Session(bind=connection)
        try:
            yield reader
        finally:
            reader.close()
            connection.rollback()


def streamed(execute: Callable[[], Result]) -> Iterator[tuple]:
    """Run a query when first asked for a row, yield its rows, and close it."""
    result = execute()
    try:
        yield from result
    finally:
        result.close()  # an unfinished cursor would keep SQLite's read lock


def pivot_rows(session: Session, scale: range, months: Sequence[str], window: Sequence[str],
               enough: int) -> Iterator[tuple]:
    """Yield the pivot's rows in official order, one range of about PIVOT_CHUNK officials at a time.

    Each range is one query (the count rows of a few thousand officials, hash-aggregated), so
    the first officials can be scored while the database pivots the next ones: one query over
    every official could return nothing before all were aggregated.

    The query reads the period's months only. The low-sample window's other months are summed
    afterwards, and only for the officials whose window months inside the period hold fewer
    than `enough` ratings: for the others the rule is decided, and a well-rated period skips
    the rest of the window's rows.
    """
    outside = [m for m in window if m not in months]  # the window's months not in the period
    # Each range's hash aggregate holds one entry per (official, group): keep it in memory.
    session.execute(text("SET LOCAL work_mem = '64MB'"))
    for number, (low, high) in enumerate(official_ranges(session, PIVOT_CHUNK)):
        # Nothing else runs until the first range arrives: it may take parallel workers. The
        # later ones run beside scoring and writing, which need the cores more.
        workers = "DEFAULT" if number == 0 else "0"
        session.execute(text(f"SET LOCAL max_parallel_workers_per_gather = {workers}"))
        rows = session.execute(text(pivot_sql(scale, months, window, low, high))).all()
        short = [row[0] for row in rows if (row[WINDOW_N] or 0) < enough] if outside else []
        rest = window_totals(session, short, outside) if short else {}
        for row in rows:
            yield (*row[:WINDOW_N], (row[WINDOW_N] or 0) + rest.get(row[0], 0),
                   *row[WINDOW_N + 1:])


WINDOW_N = 5  # position of the window total in the pivot's rows
MONTHS_TOTAL = text("SELECT cadre_id, sum(count) FROM rating_counts "
                    "WHERE cadre_id = ANY(:ids) AND month = ANY(:months) GROUP BY cadre_id")


def window_totals(session: Session, ids: list[int], months: Sequence[str]) -> dict[int, int]:
    """Return each official's count over the months (the primary key finds each one's rows)."""
    return dict(session.execute(MONTHS_TOTAL, {"ids": ids, "months": list(months)}).all())


def official_ranges(session: Session, size: int) -> list[tuple[int, int | None]]:
    """Split the officials' ids into ranges of `size` officials: (first id, last id or None)."""
    starts = session.execute(text(
        "SELECT id FROM (SELECT id, row_number() OVER (ORDER BY id) AS n FROM cadres) AS c "
        "WHERE n % :size = 1 ORDER BY id"), {"size": size}).scalars().all()
    return [(low, high - 1) for low, high in itertools.pairwise(starts)] + (
        [(starts[-1], None)] if starts else [])


MONTH = re.compile(r"^\d{4}-\d{2}$")


def months_between(months: Sequence[str]) -> str:
    """Return the SQL condition "month in these contiguous months" with literal bounds."""
    if not all(MONTH.match(m) for m in (months[0], months[-1])):
        raise ValueError(f"not month labels: {months[0]!r}, {months[-1]!r}")
    # "YYYY-MM" labels order as text, in any collation: the column's own, so that the index by
    # month serves the range.
    return f"month BETWEEN '{months[0]}' AND '{months[-1]}'"


def pivot_sql(scale: range, months: Sequence[str], window: Sequence[str], low: int,
              high: int | None) -> str:
    """Return the PostgreSQL query of one row per official to score, for ids low..high.

    Over the period's count rows only. Per group: the counts per score of the scale (a dense
    array, so the groups make a 2-D array), and per official: how many rows hold a score off
    the scale (fetched apart, see odd_cells), the total over the low-sample window's months
    inside the period, and the tag counts. Officials are the active ones and any rated in the
    period; `high` None means no upper bound. Built from integers and checked month labels
    only, so each range is planned for its own bounds.
    """
    inside = [m for m in window if m in months]  # the window's months inside the period
    if inside == list(months):
        window_n = "sum(count)"
    else:
        window_n = (f"sum(count) FILTER (WHERE {months_between(inside)})" if inside
                    else "0")
    ids = f"BETWEEN {int(low)} AND {int(high)}" if high is not None else f">= {int(low)}"
    dense = ", ".join(f"sum(count) FILTER (WHERE score = {int(s)})" for s in scale)
    odd = f"score < {int(scale[0])} OR score > {int(scale[-1])}"
    in_period = months_between(months)
    return f"""
WITH cells AS (
    SELECT cadre_id, rater_group, ARRAY[{dense}] AS dense,
           count(*) FILTER (WHERE {odd}) AS odd_rows, {window_n} AS window_n
    FROM rating_counts WHERE cadre_id {ids} AND {in_period}
    GROUP BY cadre_id, rater_group
), officials AS (
    SELECT cadre_id, array_agg(rater_group) AS groups, array_agg(dense) AS dense,
           sum(odd_rows) AS odd_rows, sum(window_n) AS window_n
    FROM cells GROUP BY cadre_id
), tags AS (
    SELECT cadre_id, array_agg(rater_group) AS groups, array_agg(tag) AS tags,
           array_agg(n) AS counts
    FROM (SELECT cadre_id, rater_group, tag, sum(count) AS n
          FROM rating_tag_counts WHERE cadre_id {ids} AND {in_period}
          GROUP BY cadre_id, rater_group, tag) AS tag_cells
    GROUP BY cadre_id
)
SELECT c.id, c.code, o.groups, o.dense, o.odd_rows, o.window_n, t.groups AS tag_groups,
       t.tags, t.counts AS tag_counts
FROM cadres AS c
LEFT JOIN officials AS o ON o.cadre_id = c.id
LEFT JOIN tags AS t ON t.cadre_id = c.id
WHERE c.id {ids} AND (c.active OR o.cadre_id IS NOT NULL)
ORDER BY c.id"""  # noqa: S608


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


def collect(dialect: str, column):
    """Aggregate a column into a list per group: an array on PostgreSQL, JSON on SQLite."""
    if dialect == "postgresql":
        return func.array_agg(column)
    return type_coerce(func.json_group_array(column), JSON)


def cell_lists(dialect: str, model, key, months: Sequence[str]):
    """Return a subquery of (cadre_id, groups, keys, counts): one row per official.

    The counts are summed over the months per (official, group, key) cell and come back as
    three parallel lists.
    """
    cells = (select(model.cadre_id, model.rater_group, key.label("key"),
                    func.sum(model.count).label("n"))
             .where(model.month.in_(months))
             .group_by(model.cadre_id, model.rater_group, key).subquery())
    # The three aggregates read the same rows in the same order, so the lists stay aligned.
    return (select(cells.c.cadre_id, collect(dialect, cells.c.rater_group).label("cell_groups"),
                   collect(dialect, cells.c.key).label("cell_keys"),
                   collect(dialect, cells.c.n).label("cell_counts"))
            .group_by(cells.c.cadre_id).subquery())


def portable_query(dialect: str, period: Period, window: Sequence[str]):
    """Select one row per official to score: its histograms, tags and six-month total."""
    hist = cell_lists(dialect, RatingCount, RatingCount.score, period.months)
    tags = cell_lists(dialect, RatingTagCount, RatingTagCount.tag, period.months)
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
