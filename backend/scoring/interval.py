"""Tukey-McLaughlin confidence interval of a trimmed mean (Wilcox's trimci)."""

from __future__ import annotations

import math
from fractions import Fraction

from .histogram import Histogram, sample_size
from .tdist import t_ppf
from .trim import Proportion, exact_proportion, trimmed_mean, winsorized_variance

CONFIDENCE_QUANTILE = 0.975


def tukey_mclaughlin_ci(hist: Histogram, p: Proportion, k: int) -> tuple[float, float] | None:
    """Return the 95% interval of the k-trimmed mean, or None when df = n - 2k - 1 < 1."""
    n = sample_size(hist)
    df = n - 2 * k - 1
    if n < 2 or df < 1:
        return None
    mean = trimmed_mean(hist, k)
    # SE^2 is exact; one correctly rounded float conversion and sqrt follow.
    se_squared = winsorized_variance(hist, k) / ((1 - 2 * exact_proportion(p)) ** 2 * n)
    half_width = Fraction(t_ppf(CONFIDENCE_QUANTILE, df) * math.sqrt(se_squared))
    return float(mean - half_width), float(mean + half_width)
