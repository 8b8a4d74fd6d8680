"""Splitting the ledger walk: spans of whole days, and the seams a joined walk must pass."""

from datetime import date, timedelta

from backend.scoring.merkle import GENESIS
from backend.services.ledger.spans import Outcome, Span, plan, seamless
from backend.services.ledger.verify import Recorded

D0 = date(2026, 1, 1)


def days(sizes: list[int]) -> list[Recorded]:
    """Checkpoints of consecutive days holding `sizes` entries each."""
    out, seq = [], 1
    for n, size in enumerate(sizes):
        out.append(Recorded(D0 + timedelta(days=n), f"{n:064x}", seq, seq + size - 1, size,
                            "c" * 64))
        seq += size
    return out


def test_spans_start_at_day_boundaries_with_about_equal_entries():
    spans = plan(days([10] * 10), 2, min_entries=0)
    assert [(s.start, s.stop) for s in spans] == [(1, 51), (51, None)]
    assert [len(s.checkpoints) for s in spans] == [5, 5]
    assert spans[0].chain == GENESIS
    three = plan(days([10] * 9), 3, min_entries=0)
    assert [(s.start, s.stop) for s in three] == [(1, 31), (31, 61), (61, None)]


def test_no_split_for_one_worker_a_small_ledger_or_too_few_days():
    assert plan(days([10] * 10), 1, min_entries=0) == []
    assert plan(days([10] * 10), 2, min_entries=101) == []
    assert plan(days([10]), 2, min_entries=0) == []


def test_every_checkpoint_belongs_to_some_span_even_a_bent_one():
    bent = days([10] * 4)
    bent[2] = Recorded(bent[2].day, bent[2].root, -5, 30, 10, bent[2].chain_hash)
    spans = plan(bent, 2, min_entries=0)
    assert sorted(c.day for s in spans for c in s.checkpoints) == sorted(c.day for c in bent)


def outcome(ok=True, expected=11, first=D0, last=D0, open_tail=False) -> Outcome:
    return Outcome(ok, expected, 1, first, last, open_tail)


def test_seams_must_meet_in_sequence_on_a_closed_day_with_days_moving_forward():
    spans = [Span(1, 11, GENESIS, ()), Span(11, None, "x", ())]
    later = D0 + timedelta(days=1)
    assert seamless(spans, [outcome(), outcome(expected=21, first=later, last=later)])
    assert not seamless(spans, [outcome(ok=False), outcome(first=later, last=later)])
    assert not seamless(spans, [outcome(expected=10), outcome(first=later, last=later)])
    assert not seamless(spans, [outcome(open_tail=True), outcome(first=later, last=later)])
    assert not seamless(spans, [outcome(), outcome(first=D0, last=later)])
    assert not seamless(spans, [outcome(), outcome(first=None, last=None)])
