import numpy as np
import pytest
import scipy.stats
from hypothesis import given, settings
from hypothesis import strategies as st

from backend.scoring import t_ppf

QUANTILES = (0.9, 0.95, 0.975, 0.995)


def test_t_quantile_matches_scipy_for_every_df_up_to_ten_thousand():
    dfs = np.arange(1, 10_001)
    expected = scipy.stats.t.ppf(0.975, dfs)
    ours = np.array([t_ppf(0.975, int(df)) for df in dfs])
    assert np.max(np.abs(ours - expected) / expected) < 1e-10


@settings(max_examples=200, deadline=None)
@given(df=st.integers(min_value=1, max_value=2000), q=st.sampled_from(QUANTILES))
def test_t_quantile_matches_scipy_for_sampled_df_and_levels(df, q):
    assert t_ppf(q, df) == pytest.approx(scipy.stats.t.ppf(q, df), rel=1e-10)


@pytest.mark.parametrize("q", [1e-9, 0.025, 0.1, 0.3, 0.7, 0.999999])
@pytest.mark.parametrize("df", [1, 2, 3, 7, 30, 500, 9999])
def test_t_quantile_matches_scipy_in_both_tails(q, df):
    assert t_ppf(q, df) == pytest.approx(scipy.stats.t.ppf(q, df), rel=1e-10)


def test_t_quantile_is_zero_at_the_median_and_antisymmetric():
    assert t_ppf(0.5, 5) == 0.0
    # 0.125 and 0.875 are exact binary fractions, so both calls target the same tail.
    assert t_ppf(0.125, 12) == -t_ppf(0.875, 12)


@pytest.mark.parametrize(("q", "df"), [(0.0, 5), (1.0, 5), (0.5, 0)])
def test_t_quantile_rejects_impossible_arguments(q, df):
    with pytest.raises(ValueError):
        t_ppf(q, df)
