"""Student t quantiles in pure Python; within ~1e-13 of scipy for df up to 10^4."""

from __future__ import annotations

import functools
import math
from statistics import NormalDist

_CF_EPS = 1e-16
_CF_MAX_ITER = 100_000
_TINY = 1e-300
_NEWTON_TOL = 1e-14
_NEWTON_MAX_ITER = 200
# Stirling series coefficients for log Gamma: B_2k / (2k (2k - 1)).
_STIRLING = (1 / 12, -1 / 360, 1 / 1260, -1 / 1680, 1 / 1188, -691 / 360360)


@functools.lru_cache(maxsize=4096)  # publication asks for the same few df again and again
def t_ppf(q: float, df: int) -> float:
    """Return the q-quantile of Student's t distribution with df degrees of freedom."""
    if not 0.0 < q < 1.0:
        raise ValueError(f"q must be in (0, 1), got {q}")
    if df <= 0:
        raise ValueError(f"df must be positive, got {df}")
    if q == 0.5:
        return 0.0
    # 1 - q is exact for q in [0.5, 1) (Sterbenz), so the tail target loses nothing.
    tail = 1.0 - q if q > 0.5 else q
    t = _solve_upper_tail(tail, df)
    return t if q > 0.5 else -t


def t_sf(t: float, df: int) -> float:
    """Return P(T > t) for t >= 0, Student's t with df degrees of freedom."""
    if t < 0:
        raise ValueError("t_sf is defined here for t >= 0 only")
    ratio = t * t / df
    # y = t^2 / (df + t^2) and x = 1 - y are both formed without cancellation.
    y = ratio / (1.0 + ratio)
    x = 1.0 / (1.0 + ratio)
    return 0.5 * _betainc(df / 2.0, 0.5, x, y)


def _solve_upper_tail(tail: float, df: int) -> float:
    # Newton on P(T > t) = tail, kept inside a shrinking bracket; bisect when Newton leaves it.
    lo, hi = 0.0, math.inf
    t = _initial_guess(tail, df)
    for _ in range(_NEWTON_MAX_ITER):
        excess = t_sf(t, df) - tail
        if excess == 0.0:
            return t
        if excess > 0.0:
            lo = t
        else:
            hi = t
        density = _pdf(t, df)
        nxt = t + excess / density if density > 0.0 else math.nan
        if not lo < nxt < hi:
            nxt = 2.0 * t if math.isinf(hi) else 0.5 * (lo + hi)
        if abs(nxt - t) <= _NEWTON_TOL * abs(nxt):
            return nxt
        t = nxt
    return t


def _initial_guess(tail: float, df: int) -> float:
    if df == 1:
        return math.tan(math.pi * (0.5 - tail))
    if df == 2:
        return (1.0 - 2.0 * tail) / math.sqrt(2.0 * tail * (1.0 - tail))
    z = NormalDist().inv_cdf(1.0 - tail)
    # Cornish-Fisher expansion of t in powers of 1/df around the normal quantile.
    g1 = (z**3 + z) / 4
    g2 = (5 * z**5 + 16 * z**3 + 3 * z) / 96
    g3 = (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / 384
    return max(z + g1 / df + g2 / df**2 + g3 / df**3, 1e-3)


def _pdf(t: float, df: int) -> float:
    log_norm = -_log_beta(0.5, df / 2.0) - 0.5 * math.log(df)
    return math.exp(log_norm - (df + 1) / 2.0 * math.log1p(t * t / df))


def _betainc(a: float, b: float, x: float, y: float) -> float:
    """Return the regularized incomplete beta I_x(a, b), given x and y = 1 - x accurately."""
    if x <= 0.0:
        return 0.0
    if y <= 0.0:
        return 1.0
    log_x = math.log1p(-y) if x > 0.5 else math.log(x)
    log_y = math.log1p(-x) if y > 0.5 else math.log(y)
    front = math.exp(a * log_x + b * log_y - _log_beta(a, b))
    # The continued fraction converges fast only left of the mode; use symmetry otherwise.
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _beta_cf(a, b, x) / a
    return 1.0 - front * _beta_cf(b, a, y) / b


def _beta_cf(a: float, b: float, x: float) -> float:
    # Modified Lentz evaluation of the incomplete beta continued fraction.
    c, d = 1.0, _nonzero(1.0 - (a + b) * x / (a + 1.0))
    d = 1.0 / d
    h = d
    for m in range(1, _CF_MAX_ITER):
        m2 = 2 * m
        for coef in (
            m * (b - m) * x / ((a + m2 - 1.0) * (a + m2)),
            -(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1.0)),
        ):
            d = 1.0 / _nonzero(1.0 + coef * d)
            c = _nonzero(1.0 + coef / c)
            h *= d * c
        if abs(d * c - 1.0) < _CF_EPS:
            return h
    raise ArithmeticError("incomplete beta continued fraction did not converge")


def _nonzero(value: float) -> float:
    return value if abs(value) >= _TINY else _TINY


def _log_beta(a: float, b: float) -> float:
    small, large = min(a, b), max(a, b)
    if large < 10.0:
        return math.lgamma(small) + math.lgamma(large) - math.lgamma(a + b)
    # lgamma(large) - lgamma(large + small) by Stirling, avoiding the cancellation of two
    # huge log-gammas that would cost ~1e-11 relative accuracy at df = 10^4.
    total = large + small
    ratio = (
        -(large - 0.5) * math.log1p(small / large)
        - small * math.log(total)
        + small
        + _stirling_tail(large)
        - _stirling_tail(total)
    )
    return math.lgamma(small) + ratio


def _stirling_tail(x: float) -> float:
    inv_sq = 1.0 / (x * x)
    acc = 0.0
    for coef in reversed(_STIRLING):
        acc = acc * inv_sq + coef
    return acc / x
