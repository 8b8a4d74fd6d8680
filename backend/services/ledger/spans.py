"""Split the ledger walk into spans of whole days that processes check side by side.

A span starts at a day's first entry (as its checkpoint records it), so each day's Merkle root
is rebuilt inside one span. A span starts its chain from the stored chain hash of the entry
before it; the span before checks that very hash, so the spans together check the chain as
one walk does. What the spans cannot see of each other (the seams) is checked when they are
put together: each span ends where the next begins, on a day with a checkpoint, and days do
not go backwards across a seam. Any fault found, in a span or at a seam, sends the caller
back to the single walk, which names the first fault exactly.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from itertools import pairwise
from operator import attrgetter
from typing import Any

from backend.scoring.merkle import GENESIS

# Below this many entries a single walk is quicker than starting processes.
PARALLEL_MIN = 200_000


@dataclass(frozen=True)
class Span:
    """Entries start <= seq < stop (no end when stop is None), with their days' checkpoints."""

    start: int
    stop: int | None
    chain: str  # the chain hash before `start`
    checkpoints: tuple[Any, ...]


@dataclass(frozen=True)
class Outcome:
    """What the walk of a span found, and what the seams are checked with."""

    ok: bool
    expected: int  # the sequence number after its last entry
    closed_days: int
    first_day: date | None
    last_day: date | None
    open_tail: bool  # its last day had no checkpoint


def plan(checkpoints: Sequence[Any], workers: int, min_entries: int = PARALLEL_MIN) -> list[Span]:
    """Split the ledger into up to `workers` spans of about equal entries; [] for one walk.

    Each span takes the checkpoints whose first entry falls in it (the first span also those
    below it), so a checkpoint whose entries are gone is still compared by some span.
    """
    ordered = sorted(checkpoints, key=attrgetter("first_seq"))
    if workers < 2 or len(ordered) < workers or not ordered:
        return []
    total = ordered[-1].last_seq
    if total < min_entries:
        return []
    starts = [1]
    for checkpoint in ordered:
        if checkpoint.first_seq > starts[-1] and \
                checkpoint.first_seq - 1 >= total * len(starts) / workers:
            starts.append(checkpoint.first_seq)
            if len(starts) == workers:
                break
    if len(starts) < 2:
        return []
    bounds: list[int | None] = [*starts, None]
    return [Span(start, stop, GENESIS, tuple(
        c for c in ordered if (start == 1 or c.first_seq >= start)
        and (stop is None or c.first_seq < stop))) for start, stop in pairwise(bounds)]


def seamless(spans: Sequence[Span], outcomes: Sequence[Outcome]) -> bool:
    """Tell whether every span verified and they join as one walk would have gone."""
    if not all(o.ok and o.first_day is not None for o in outcomes):
        return False
    for span, (before, after) in zip(spans[1:], pairwise(outcomes), strict=True):
        if before.expected != span.start or before.open_tail:
            return False
        if not before.last_day < after.first_day:
            return False
    return True
