"""Tukey-McLaughlin confidence interval of a trimmed mean (Wilcox's trimci)."""

from __future__ import annotations

import math

from .histogram import Histogram, sorted_counts
from .tdist import t_ppf
from .trim import Proportion, TrimmedSums, proportion_ratio, trimmed_sums

CONFIDENCE_QUANTILE = 0.975


def tukey_mclaughlin_ci(hist: Histogram, p: Proportion, k: int) -> tuple[float, float] | None:
    """Return the 95% interval of the k-trimmed mean, or None when df = n - 2k - 1 < 1."""
    pairs = sorted_counts(hist)
    return interval_of(pairs, sum(count for _, count in pairs), p, k)


def interval_of(pairs: list[tuple[int, int]], n: int, p: Proportion,
                k: int) -> tuple[float, float] | None:
    """Compute the interval from validated, sorted (score, count) pairs of n scores."""
    if n < 2 or n - 2 * k - 1 < 1:
        return None
    return interval_from_sums(trimmed_sums(pairs, n, k), n, p, k)


def interval_from_sums(sums: TrimmedSums, n: int, p: Proportion,
                       k: int) -> tuple[float, float] | None:
    """Compute the interval from the trimmed sums of n scores, in integer arithmetic."""
    df = n - 2 * k - 1
    if n < 2 or df < 1:
        return None
    a, b = proportion_ratio(p)
    total, squares = sums.winsorized_sums(k)
    # SE^2 = s_w^2 / ((1 - 2p)^2 n) with s_w^2 = (n sum(x^2) - (sum x)^2) / (n (n - 1)) and
    # p = a / b, as one ratio of integers: int / int is correctly rounded, so this is the
    # float of the exact SE^2, then one sqrt.
    se = math.sqrt((n * squares - total * total) * b * b
                   / (n * n * (n - 1) * (b - 2 * a) ** 2))
    half_num, half_den = (t_ppf(CONFIDENCE_QUANTILE, df) * se).as_integer_ratio()
    # mean -+ half, each exact over the common denominator and rounded once to a float.
    mean_num, denominator = sums.total * half_den, sums.kept * half_den
    offset = half_num * sums.kept
    return (mean_num - offset) / denominator, (mean_num + offset) / denominator
