"""Histograms of scores: score value -> number of ratings with that score."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

Histogram = Mapping[int, int]


def histogram_from_scores(scores: Iterable[int]) -> dict[int, int]:
    """Count each score value, keys ascending."""
    counts: dict[int, int] = {}
    for score in scores:
        _require_int(score, "score")
        counts[score] = counts.get(score, 0) + 1
    return dict(sorted(counts.items()))


def merge_histograms(histograms: Iterable[Histogram]) -> dict[int, int]:
    """Add histograms together, dropping zero counts, keys ascending."""
    total: dict[int, int] = {}
    for hist in histograms:
        for score, count in sorted_counts(hist):
            total[score] = total.get(score, 0) + count
    return dict(sorted(total.items()))


def sample_size(hist: Histogram) -> int:
    """Return the number of ratings in the histogram."""
    return sum(count for _, count in sorted_counts(hist))


def sorted_counts(hist: Histogram) -> list[tuple[int, int]]:
    """Return the non-zero (score, count) pairs in ascending score order, validating them."""
    pairs = []
    for score, count in hist.items():
        if type(score) is not int or type(count) is not int:  # plain ints skip the checks
            _require_int(score, "score")
            _require_int(count, "count")
        if count < 0:
            raise ValueError(f"negative count {count} for score {score}")
        if count:
            pairs.append((score, count))
    return sorted(pairs)


def _require_int(value: object, what: str) -> None:
    # bool is an int subclass; True as a score is always a bug upstream.
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{what} must be an int, got {value!r}")
