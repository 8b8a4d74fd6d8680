"""PostgreSQL's pivot of the count tables: one row per official, dense arrays per group.

One pass over the period's months pivots each (official, group) into a dense array of counts
per score of the scheme's scale: one small hash aggregate instead of one per (official,
group, score) cell. Scores outside the scale are only counted here (the caller fetches them
apart), so the result is the same as summing every cell. The low-sample window's other
months are read only for officials the period leaves short of its minimum. Publication
(backend/services/scores/score_counts.py) turns the rows into counts.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator, Sequence

from sqlalchemy import text
from sqlalchemy.orm import Session


def pivot_rows(session: Session, scale: range, months: Sequence[str], window: Sequence[str],
               enough: int, chunk: int) -> Iterator[tuple]:
    """Yield the pivot's rows in official order, one range of about `chunk` officials at a time.

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
    for number, (low, high) in enumerate(official_ranges(session, chunk)):
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
