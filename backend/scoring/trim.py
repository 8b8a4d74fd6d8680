"""Symmetric trimming and winsorizing, exact, straight from a histogram."""

from __future__ import annotations

import functools
from decimal import Decimal
from fractions import Fraction
from typing import NamedTuple

from .histogram import Histogram, sorted_counts

Proportion = Decimal | str | Fraction | int


@functools.lru_cache(maxsize=256)  # schemes use a handful of proportions, asked for per group
def exact_proportion(p: Proportion) -> Fraction:
    """Convert a trim proportion to an exact Fraction in [0, 1/2), refusing binary floats."""
    # A float has already lost the decimal the scheme author wrote (0.35 is 0.34999...).
    if isinstance(p, float | bool):
        raise TypeError(f"proportion must be a Decimal or str, not {type(p).__name__}")
    try:
        value = Fraction(p)
    except (ValueError, ArithmeticError) as exc:
        raise ValueError(f"not a finite decimal proportion: {p!r}") from exc
    if not 0 <= value < Fraction(1, 2):
        raise ValueError(f"proportion must be >= 0 and < 0.5, got {p}")
    return value


@functools.lru_cache(maxsize=256)
def proportion_ratio(p: Proportion) -> tuple[int, int]:
    """Return a trim proportion as the integers (a, b) of a / b, in lowest terms."""
    value = exact_proportion(p)
    return value.numerator, value.denominator


def trim_count(n: int, p: Proportion, min_each_side: int = 0) -> int:
    """Return k, the scores dropped at each end: floor(n * p), raised to m when n >= 2m + 1."""
    if n < 0 or min_each_side < 0:
        raise ValueError("n and min_each_side must be >= 0")
    a, b = proportion_ratio(p)
    k = n * a // b  # floor(n * a / b) in integers: exact, as SCORING.md requires
    if n >= 2 * min_each_side + 1:
        k = max(k, min_each_side)
    return k


def trimmed_histogram(hist: Histogram, k: int) -> list[tuple[int, int]]:
    """Return the (score, count) pairs left after dropping k scores at each end."""
    pairs = sorted_counts(hist)
    return trim_pairs(pairs, sum(count for _, count in pairs), k)


def trim_pairs(pairs: list[tuple[int, int]], n: int, k: int) -> list[tuple[int, int]]:
    """Trim validated, sorted (score, count) pairs of n scores by k at each end."""
    if k < 0 or n - 2 * k < 1:
        raise ValueError(f"cannot trim {k} from each end of {n} scores")
    kept, start = [], 0
    for score, count in pairs:
        overlap = min(start + count, n - k) - max(start, k)
        if overlap > 0:
            kept.append((score, overlap))
        start += count
    return kept


class TrimmedSums(NamedTuple):
    """Integer sums of the scores kept after trimming, enough for the mean and the interval."""

    kept: int  # n - 2k
    total: int  # sum of the kept scores
    squares: int  # sum of their squares
    low: int  # the smallest kept score, x(k+1)
    high: int  # the largest kept score, x(n-k)

    def winsorized_variance(self, n: int, k: int) -> Fraction:
        """Return the exact variance (n - 1 denominator) of the sample winsorized at k."""
        total, squares = self.winsorized_sums(k)
        return Fraction(n * squares - total * total, n * (n - 1))

    def winsorized_sums(self, k: int) -> tuple[int, int]:
        """Return the sum and the sum of squares after putting the k trimmed back at each end."""
        return (
            self.total + k * (self.low + self.high),
            self.squares + k * (self.low * self.low + self.high * self.high),
        )


def trimmed_sums(pairs: list[tuple[int, int]], n: int, k: int) -> TrimmedSums:
    """Sum validated, sorted (score, count) pairs of n scores after trimming k at each end."""
    if k < 0 or n - 2 * k < 1:
        raise ValueError(f"cannot trim {k} from each end of {n} scores")
    total = squares = start = 0
    low = high = None
    last = n - k
    for score, count in pairs:
        end = start + count
        overlap = (end if end < last else last) - (start if start > k else k)
        if overlap > 0:
            if low is None:
                low = score
            high = score
            total += score * overlap
            squares += score * score * overlap
        start = end
    assert low is not None and high is not None
    return TrimmedSums(n - 2 * k, total, squares, low, high)


def winsorized_histogram(hist: Histogram, k: int) -> list[tuple[int, int]]:
    """Return the (score, count) pairs after replacing k scores at each end by the nearest kept."""
    return winsorize_kept(trimmed_histogram(hist, k), k)


def winsorize_kept(kept: list[tuple[int, int]], k: int) -> list[tuple[int, int]]:
    """Put the k trimmed scores at each end back as the nearest kept score."""
    counts = dict(kept)
    counts[kept[0][0]] += k
    counts[kept[-1][0]] += k
    return sorted(counts.items())


def trimmed_mean(hist: Histogram, k: int) -> Fraction:
    """Return the exact mean of x(k+1) .. x(n-k)."""
    return _mean(trimmed_histogram(hist, k))


def winsorized_variance(hist: Histogram, k: int) -> Fraction:
    """Return the exact sample variance (n - 1 denominator) of the sample winsorized at k."""
    return pairs_variance(winsorized_histogram(hist, k))


def pairs_variance(pairs: list[tuple[int, int]]) -> Fraction:
    """Return the exact sample variance of (score, count) pairs, in integer arithmetic."""
    n = sum(count for _, count in pairs)
    if n < 2:
        raise ValueError("variance needs at least 2 scores")
    total = sum(score * count for score, count in pairs)
    squares = sum(score * score * count for score, count in pairs)
    # sum((x - mean)^2) / (n - 1) == (n * sum(x^2) - (sum x)^2) / (n * (n - 1)), exactly.
    return Fraction(n * squares - total * total, n * (n - 1))


def _mean(pairs: list[tuple[int, int]]) -> Fraction:
    n = sum(count for _, count in pairs)
    return Fraction(sum(score * count for score, count in pairs), n)
