"""Histogram-based scoring agrees with a direct sort-and-slice reference and with scipy."""

import math
from decimal import Decimal
from fractions import Fraction

import numpy as np
import pytest
import scipy.stats
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy.stats import mstats

from backend.scoring import (
    dissatisfaction,
    histogram_from_scores,
    satisfaction,
    trim_count,
    trimmed_mean,
    tukey_mclaughlin_ci,
    winsorized_variance,
)

PROPORTIONS = ["0", "0.05", "0.1", "0.2", "0.25", "0.35", "0.45"]
samples = st.lists(st.integers(min_value=1, max_value=10), max_size=400)
proportions = st.sampled_from(PROPORTIONS)
positive_proportions = st.sampled_from(PROPORTIONS[1:])


def reference_k(n, p):
    return math.floor(n * Fraction(p))


def reference_trimmed_mean(xs, k):
    kept = sorted(xs)[k : len(xs) - k]
    return Fraction(sum(kept), len(kept))


def reference_winsorized_variance(xs, k):
    ordered = sorted(xs)
    n = len(ordered)
    winsorized = [ordered[k]] * k + ordered[k : n - k] + [ordered[n - k - 1]] * k
    mean = Fraction(sum(winsorized), n)
    return sum((x - mean) ** 2 for x in winsorized) / (n - 1)


def reference_ci(xs, p, k):
    n = len(xs)
    se = math.sqrt(reference_winsorized_variance(xs, k)) / ((1 - 2 * float(p)) * math.sqrt(n))
    half = scipy.stats.t.ppf(0.975, n - 2 * k - 1) * se
    mean = float(reference_trimmed_mean(xs, k))
    return mean - half, mean + half


@settings(max_examples=150, deadline=None)
@given(xs=samples, p=proportions)
def test_trimmed_mean_from_histogram_matches_sorting_the_sample(xs, p):
    assume(xs)
    k = trim_count(len(xs), p)
    assert k == reference_k(len(xs), p)
    assert trimmed_mean(histogram_from_scores(xs), k) == reference_trimmed_mean(xs, k)


@settings(max_examples=150, deadline=None)
@given(xs=samples, p=proportions, m=st.integers(min_value=0, max_value=3))
def test_winsorized_variance_from_histogram_matches_sorting_the_sample(xs, p, m):
    assume(len(xs) >= 2)
    k = trim_count(len(xs), p, m)
    expected = reference_winsorized_variance(xs, k)
    assert winsorized_variance(histogram_from_scores(xs), k) == expected


@settings(max_examples=150, deadline=None)
@given(xs=samples, p=proportions, m=st.integers(min_value=0, max_value=3))
def test_interval_matches_the_reference_tukey_mclaughlin_formula(xs, p, m):
    k = trim_count(len(xs), p, m)
    interval = tukey_mclaughlin_ci(histogram_from_scores(xs), p, k)
    if len(xs) - 2 * k - 1 < 1:
        assert interval is None
        return
    assert interval == pytest.approx(reference_ci(xs, p, k), rel=1e-10, abs=1e-10)
    assert interval[0] <= float(trimmed_mean(histogram_from_scores(xs), k)) <= interval[1]


@settings(max_examples=150, deadline=None)
@given(xs=samples, low=st.integers(min_value=1, max_value=10))
def test_rates_count_every_valid_score_untrimmed(xs, low):
    assume(xs)
    hist = histogram_from_scores(xs)
    assert satisfaction(hist, low) == Fraction(sum(x >= low for x in xs), len(xs))
    assert dissatisfaction(hist, low) == Fraction(sum(x <= low for x in xs), len(xs))


@settings(max_examples=150, deadline=None)
@given(xs=samples, p=positive_proportions)
def test_trimmed_mean_equals_scipy_trim_mean_where_float_truncation_agrees(xs, p):
    assume(xs)
    k = trim_count(len(xs), p)
    # scipy cuts int(p * n) in binary floating point; compare only where that is exact.
    assume(int(float(p) * len(xs)) == k)
    expected = scipy.stats.trim_mean(np.array(xs, dtype=float), float(p))
    assert float(trimmed_mean(histogram_from_scores(xs), k)) == pytest.approx(expected, rel=1e-12)


@settings(max_examples=150, deadline=None)
@given(xs=samples, p=positive_proportions)
def test_interval_equals_scipy_trimmed_mean_ci(xs, p):
    n = len(xs)
    k = trim_count(n, p)
    assume(n - 2 * k - 1 >= 1 and int(float(p) * n) == k)
    expected = mstats.trimmed_mean_ci(np.array(xs, dtype=float), limits=(float(p), float(p)))
    ours = tukey_mclaughlin_ci(histogram_from_scores(xs), p, k)
    assert ours == pytest.approx(tuple(expected), rel=1e-9, abs=1e-9)


def test_exact_trim_differs_from_scipy_where_float_truncation_is_wrong():
    # floor(0.35 * 180) is 63, but scipy computes int(62.99999...) = 62.
    xs = [1] * 60 + [4] * 10 + [6] * 40 + [9] * 30 + [10] * 40
    assert len(xs) == 180
    k = trim_count(180, "0.35")
    assert k == 63
    ours = trimmed_mean(histogram_from_scores(xs), k)
    assert ours == reference_trimmed_mean(xs, 63)
    assert scipy.stats.trim_mean(xs, 0.35) == pytest.approx(float(reference_trimmed_mean(xs, 62)))
    assert float(ours) != pytest.approx(scipy.stats.trim_mean(xs, 0.35))


def test_interval_is_omitted_without_degrees_of_freedom():
    assert tukey_mclaughlin_ci({7: 1}, "0.05", 0) is None
    assert tukey_mclaughlin_ci({}, "0.05", 0) is None
    assert tukey_mclaughlin_ci({1: 1, 9: 2}, "0.45", 1) is None


def test_interval_of_identical_scores_has_zero_width():
    assert tukey_mclaughlin_ci({8: 12}, Decimal("0.05"), 0) == (8.0, 8.0)
