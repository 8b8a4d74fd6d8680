from decimal import ROUND_FLOOR, Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backend.scoring import trim_count, trimmed_mean, winsorized_variance

proportions = st.decimals(min_value=0, max_value=Decimal("0.4999"), places=4)


def test_trim_count_uses_exact_decimal_arithmetic():
    assert trim_count(180, "0.35") == 63
    assert int(180 * 0.35) == 62  # the binary floating-point trap this avoids


@settings(max_examples=300, deadline=None)
@given(n=st.integers(min_value=0, max_value=10**6), p=proportions)
def test_trim_count_is_the_exact_floor_of_n_times_p(n, p):
    assert trim_count(n, p) == (n * p).to_integral_value(ROUND_FLOOR)
    assert trim_count(n, str(p)) == trim_count(n, p)


def test_float_truncation_differs_from_the_exact_floor_somewhere():
    differing = [
        (n, p)
        for p in ("0.05", "0.1", "0.2", "0.35", "0.45")
        for n in range(1, 1001)
        if int(n * float(p)) != trim_count(n, p)
    ]
    assert (180, "0.35") in differing


def test_trim_count_refuses_binary_floats_and_out_of_range_proportions():
    with pytest.raises(TypeError):
        trim_count(100, 0.05)
    with pytest.raises(ValueError):
        trim_count(100, "0.5")
    with pytest.raises(ValueError):
        trim_count(100, "-0.01")


@pytest.mark.parametrize(
    ("n", "m", "expected"),
    [(10, 2, 2), (5, 2, 2), (4, 2, 0), (3, 2, 0), (100, 2, 5), (0, 1, 0), (3, 1, 1)],
)
def test_minimum_trim_applies_only_when_enough_scores_remain(n, m, expected):
    assert trim_count(n, "0.05", min_each_side=m) == expected


def test_trimmed_mean_drops_k_scores_from_each_end():
    assert trimmed_mean({1: 1, 5: 2, 6: 1, 10: 1}, 1) == Fraction(16, 3)
    assert trimmed_mean({7: 3}, 1) == 7


def test_winsorized_variance_replaces_each_end_by_the_nearest_kept_score():
    # 1 5 5 6 10 winsorized at 1 is 5 5 5 6 6: mean 27/5, variance (3*4 + 2*9)/25/4.
    assert winsorized_variance({1: 1, 5: 2, 6: 1, 10: 1}, 1) == Fraction(30, 100)


def test_trimming_everything_is_an_error():
    with pytest.raises(ValueError):
        trimmed_mean({3: 2}, 1)
    with pytest.raises(ValueError):
        trimmed_mean({}, 0)
