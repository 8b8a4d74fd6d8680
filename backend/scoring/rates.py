"""Satisfaction and dissatisfaction rates over all valid (untrimmed) scores."""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction

from .histogram import Histogram, sorted_counts


def satisfaction(hist: Histogram, satisfied_min: int = 7) -> Fraction:
    """Return the share of scores >= satisfied_min."""
    return _share(hist, lambda score: score >= satisfied_min)


def dissatisfaction(hist: Histogram, dissatisfied_max: int = 4) -> Fraction:
    """Return the share of scores <= dissatisfied_max."""
    return _share(hist, lambda score: score <= dissatisfied_max)


def _share(hist: Histogram, selected: Callable[[int], bool]) -> Fraction:
    pairs = sorted_counts(hist)
    return share_of(pairs, sum(count for _, count in pairs), selected)


def share_of(pairs: list[tuple[int, int]], n: int, selected: Callable[[int], bool]) -> Fraction:
    """Return the share of n scores (validated, sorted pairs) that are selected."""
    if n == 0:
        raise ValueError("a rate needs at least one score")
    return Fraction(sum(count for score, count in pairs if selected(score)), n)
