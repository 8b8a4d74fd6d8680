"""Robust statistics of the aggregate detectors: pure functions of counts (standard library).

- `median`, `mad`: the centre and spread of peers that a few stuffers among them cannot move;
- `overdispersed_z`: how far k successes in n trials sit above a reference rate p0, counting
  both the binomial noise of n and the spread between officials (a beta-binomial's variance,
  n p0 (1 - p0) + n^2 tau^2 for large n), so a small office is not flagged for noise and a
  large one not for being an ordinary good one;
- `between_spread`: tau, the spread of peers' true rates once their own binomial noise is
  taken out of their observed spread (robustly, from the MAD);
- `entropy`: the Shannon entropy of a score histogram, in bits, normalised to [0, 1];
- `poisson_tail`: P(X >= k) for X ~ Poisson(lam), the chance of a cluster at least that big.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

MAD_SCALE = 1.4826  # MAD * this estimates the standard deviation of a normal sample


def median(values: Sequence[float]) -> float:
    """Return the median (0.0 for no values)."""
    ordered = sorted(values)
    n = len(ordered)
    if n == 0:
        return 0.0
    mid = n // 2
    return float(ordered[mid]) if n % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def mad(values: Sequence[float]) -> float:
    """Return the median absolute deviation from the median, scaled to a standard deviation."""
    centre = median(values)
    return MAD_SCALE * median([abs(v - centre) for v in values])


def between_spread(rates: Sequence[float], sizes: Sequence[int], floor: float) -> float:
    """Return the spread of true rates between officials (at least `floor`).

    The observed spread of peers' rates mixes their true differences with the noise of
    their sample sizes; the noise of a typical peer is taken out.
    """
    if not rates:
        return floor
    centre = median(rates)
    noise = median([centre * (1 - centre) / n for n in sizes if n > 0]) if sizes else 0.0
    observed = mad(rates) ** 2
    return max(floor, math.sqrt(max(0.0, observed - noise)))


def overdispersed_z(k: int, n: int, p0: float, tau: float) -> float:
    """Return (k - n p0) / sqrt(n p0 (1 - p0) + n^2 tau^2): above p0 is positive."""
    if n <= 0:
        return 0.0
    p0 = min(max(p0, 1e-6), 1 - 1e-6)
    variance = n * p0 * (1 - p0) + (n * tau) ** 2
    return (k - n * p0) / math.sqrt(variance)


def robust_z(value: float, peers: Sequence[float], floor: float) -> float:
    """Return (value - median) / max(MAD, floor) of a measure against its peers."""
    return (value - median(peers)) / max(mad(peers), floor)


def entropy(histogram: Mapping[int, int], points: int) -> float:
    """Return the normalised entropy of a histogram over `points` scale points (0 to 1)."""
    total = sum(histogram.values())
    if total == 0 or points < 2:
        return 0.0
    bits = -sum((c / total) * math.log2(c / total) for c in histogram.values() if c > 0)
    return bits / math.log2(points)


def poisson_tail(k: int, lam: float) -> float:
    """Return P(X >= k) for X ~ Poisson(lam) (1.0 for k <= 0)."""
    if k <= 0:
        return 1.0
    if lam <= 0:
        return 0.0
    # 1 - P(X <= k - 1), summed in log space so large k and small lam stay exact enough.
    term = math.exp(-lam)
    below = term
    for i in range(1, k):
        term *= lam / i
        below += term
    tail = 1.0 - below
    if tail > 1e-12:
        return tail
    # Far in the tail the subtraction loses everything: the first term dominates.
    log_first = -lam + k * math.log(lam) - math.lgamma(k + 1)
    return math.exp(log_first) * (1 + lam / (k + 1))
