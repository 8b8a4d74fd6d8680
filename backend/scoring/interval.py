"""Tukey-McLaughlin confidence interval of a trimmed mean (Wilcox's trimci)."""

from __future__ import annotations

import math
from fractions import Fraction

from .histogram import Histogram, sorted_counts
from .tdist import t_ppf
from .trim import Proportion, exact_proportion, pairs_variance, trim_pairs, winsorize_kept

CONFIDENCE_QUANTILE = 0.975


def tukey_mclaughlin_ci(hist: Histogram, p: Proportion, k: int) -> tuple[float, float] | None:
    """Return the 95% interval of the k-trimmed mean, or None when df = n - 2k - 1 < 1."""
    pairs = sorted_counts(hist)
    return interval_of(pairs, sum(count for _, count in pairs), p, k)


def interval_of(pairs: list[tuple[int, int]], n: int, p: Proportion,
                k: int) -> tuple[float, float] | None:
    """Compute the interval from validated, sorted (score, count) pairs of n scores."""
    df = n - 2 * k - 1
    if n < 2 or df < 1:
        return None
    kept = trim_pairs(pairs, n, k)
    mean = Fraction(sum(s * c for s, c in kept), n - 2 * k)
    # SE^2 is exact; one correctly rounded float conversion and sqrt follow.
    se_squared = pairs_variance(winsorize_kept(kept, k)) / (
        (1 - 2 * exact_proportion(p)) ** 2 * n)
    half_width = Fraction(t_ppf(CONFIDENCE_QUANTILE, df) * math.sqrt(se_squared))
    return float(mean - half_width), float(mean + half_width)
