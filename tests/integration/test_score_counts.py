"""Reading the count tables: the same counts as summing every row by hand, on each backend."""

import itertools
import random
from collections import defaultdict

import pytest
from sqlalchemy import select

from backend.models import Cadre, RatingCount, RatingTagCount, Unit
from backend.scoring import Scheme, parse_period, trailing_months
from backend.services.scores import score_counts
from backend.services.scores.score_counts import official_counts
from backend.storage import pivots, storage_of

PERIOD = parse_period("2026-Q3")
WINDOW_END = "2026-09"
MONTHS = ["2026-03", "2026-04", "2026-05", "2026-06", "2026-07", "2026-08", "2026-09",
          "2026-10"]
GROUPS = ["recipient", "peer", "superior", "visitors"]  # "visitors" is in no scheme
TAGS = ["热情周到", "办事高效", "态度生硬"]


def directory(session, officials: int) -> list[Cadre]:
    unit = Unit(code="U1", name="单位", category="township")
    cadres = [Cadre(code=f"C{i:03d}", name=f"干部{i}", unit=unit, position="科长",
                    active=i % 7 != 0) for i in range(officials)]
    session.add_all(cadres)
    session.flush()
    return cadres


def fill(session, cadres, seed: int, odd_scores: bool = False) -> None:
    """Write random count rows: zero counts, months outside the window, tags, a stray group."""
    rng = random.Random(seed)
    for cadre in cadres:
        if rng.random() < 0.15:
            continue  # no counts at all
        for month in rng.sample(MONTHS, rng.randint(1, len(MONTHS))):
            for group in rng.sample(GROUPS, rng.randint(1, len(GROUPS))):
                scores = rng.sample(range(1, 11), rng.randint(1, 6))
                if odd_scores and rng.random() < 0.05:
                    scores.append(rng.choice([0, 11, 12]))
                for score in scores:
                    session.add(RatingCount(cadre_id=cadre.id, month=month, rater_group=group,
                                            score=score, count=rng.choice([0, 1, 2, 5, 40])))
                for tag in rng.sample(TAGS, rng.randint(0, 2)):
                    session.add(RatingTagCount(cadre_id=cadre.id, month=month,
                                               rater_group=group, tag=tag,
                                               count=rng.choice([0, 1, 3])))
    session.flush()


def by_hand(session, scheme: Scheme, end: str = WINDOW_END) -> dict[int, tuple]:
    """Sum every count row in Python: the reference the query must equal."""
    window = set(trailing_months(end, scheme.low_sample_months))
    hist: dict = defaultdict(lambda: defaultdict(lambda: defaultdict(int)))
    tags: dict = defaultdict(lambda: defaultdict(lambda: defaultdict(int)))
    six: dict = defaultdict(int)
    rated = set()
    for row in session.scalars(select(RatingCount)):
        if row.month in PERIOD.months:
            hist[row.cadre_id][row.rater_group][row.score] += row.count
            rated.add(row.cadre_id)
        if row.month in window:
            six[row.cadre_id] += row.count
    for row in session.scalars(select(RatingTagCount)):
        if row.month in PERIOD.months:
            tags[row.cadre_id][row.rater_group][row.tag] += row.count
    out = {}
    for cadre in session.scalars(select(Cadre)):
        if cadre.active or cadre.id in rated:
            out[cadre.id] = (cadre.code, nonzero(hist[cadre.id]), nonzero(tags[cadre.id]),
                             six[cadre.id])
    return out


def nonzero(groups) -> dict:
    """Drop zero counts and empty groups: scoring and the digest ignore both."""
    kept = {g: {k: n for k, n in cells.items() if n} for g, cells in groups.items()}
    return {g: cells for g, cells in kept.items() if cells}


def read(session, scheme: Scheme, end: str = WINDOW_END) -> dict[int, tuple]:
    return {c.cadre_id: (c.code, nonzero(c.histograms), nonzero(c.tags), c.six_month_n)
            for c in official_counts(session, PERIOD, scheme, end)}


def decided(counts: dict[int, tuple], scheme: Scheme) -> dict[int, tuple]:
    """Keep of the six-month total what the low-sample rule reads: the total up to its minimum."""
    return {cadre_id: (*rest, min(n, scheme.low_sample_min))
            for cadre_id, (*rest, n) in counts.items()}


def assert_read_as_by_hand(read_back: dict, exact: dict, scheme: Scheme) -> None:
    """Equal counts; the six-month total exact below the minimum, never more than exact."""
    assert decided(read_back, scheme) == decided(exact, scheme)
    assert all(read_back[c][-1] <= exact[c][-1] for c in exact)


def test_counts_read_equal_the_sum_of_every_row(app, session):
    fill(session, directory(session, 60), seed=1)
    read_back = read(session, Scheme())
    assert list(read_back) == sorted(read_back)  # in order of official
    assert_read_as_by_hand(read_back, by_hand(session, Scheme()), Scheme())
    if session.get_bind().dialect.name != "postgresql":
        assert read_back == by_hand(session, Scheme())  # the portable query sums every month


def test_scores_off_the_scale_are_read_exactly_too(app, session, monkeypatch):
    fill(session, directory(session, 60), seed=2, odd_scores=True)
    fetched = []
    original = score_counts.odd_cells
    monkeypatch.setattr(score_counts, "odd_cells",
                        lambda *args: fetched.append(args[1]) or original(*args))
    assert_read_as_by_hand(read(session, Scheme()), by_hand(session, Scheme()), Scheme())
    assert fetched or session.get_bind().dialect.name != "postgresql"


def test_the_portable_query_reads_what_the_postgresql_pivot_reads(app, session, monkeypatch):
    if session.get_bind().dialect.name != "postgresql":
        pytest.skip("the pivot is the PostgreSQL query")
    fill(session, directory(session, 60), seed=3, odd_scores=True)
    pivoted = read(session, Scheme())
    monkeypatch.setattr(score_counts, "MAX_PIVOT", 0)  # a scale too wide for the pivot
    assert_read_as_by_hand(pivoted, read(session, Scheme()), Scheme())


def test_officials_read_in_ranges_equal_one_read(app, session, monkeypatch):
    cadres = directory(session, 60)
    fill(session, cadres, seed=4, odd_scores=True)
    ranges = pivots.official_ranges(session, 7)
    assert len(ranges) == 9 and ranges[-1][1] is None
    covered = [c.id for c in cadres if any(low <= c.id and (high is None or c.id <= high)
                                           for low, high in ranges)]
    assert covered == sorted(c.id for c in cadres)  # each official in exactly one range
    assert all(high is None or high < later
               for (_, high), (later, _) in itertools.pairwise(ranges))
    monkeypatch.setattr(score_counts, "PIVOT_CHUNK", 7)
    read_back = read(session, Scheme())
    assert list(read_back) == sorted(read_back)
    assert_read_as_by_hand(read_back, by_hand(session, Scheme()), Scheme())


def test_the_snapshot_reader_reads_committed_counts_only(app, session):
    """On PostgreSQL publication reads through its own read-only transaction."""
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    cadres = directory(session, 3)
    session.commit()
    fill(session, cadres, seed=5)  # flushed, not committed
    assert session.execute(text("SELECT count(*) FROM rating_counts")).scalar() > 0
    with storage_of(session).snapshot(session) as reader:
        if session.get_bind().dialect.name != "postgresql":
            assert reader is session
            return
        assert reader.execute(text("SELECT count(*) FROM rating_counts")).scalar() == 0
        with pytest.raises(DBAPIError, match="read-only"):
            reader.execute(text("DELETE FROM rating_counts"))


@pytest.mark.parametrize("end", ["2026-09", "2026-08", "2026-10", "2027-01"])
@pytest.mark.parametrize("minimum", [0, 1, 30, 60, 10**6])
def test_the_six_month_total_is_read_as_far_as_the_low_sample_rule_needs(app, session,
                                                                        minimum, end):
    """Below the minimum within the period, the window's other months are added; else not.

    The window may start before the period, end inside it, or reach past it.
    """
    fill(session, directory(session, 60), seed=6)
    scheme = Scheme(low_sample_min=minimum)
    read_back, exact = read(session, scheme, end), by_hand(session, scheme, end)
    assert_read_as_by_hand(read_back, exact, scheme)
    flags = {c: (n < minimum) for c, (*_, n) in read_back.items()}
    assert flags == {c: (n < minimum) for c, (*_, n) in exact.items()}
    if minimum == 10**6:  # nobody reaches it: every total is exact
        assert read_back == exact
