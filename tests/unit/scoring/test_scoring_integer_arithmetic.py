"""Integer arithmetic gives the same bits as exact Fractions, rounded once at the end."""

import math
from decimal import Decimal
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from backend.scoring import (
    OK,
    GroupRule,
    Scheme,
    canonical_histograms,
    composite,
    histogram_from_scores,
    round_half_up,
    score_group,
    t_ppf,
)

PROPORTIONS = ["0", "0.05", "0.1", "0.2", "0.35", "0.45"]
samples = st.lists(st.integers(min_value=1, max_value=10), min_size=1, max_size=300)
rules = st.builds(
    GroupRule,
    min_n=st.integers(min_value=1, max_value=12),
    weight=st.sampled_from([Decimal(0), Decimal(15), Decimal("20.5"), Decimal(35)]),
    trim=st.sampled_from([Decimal(p) for p in PROPORTIONS]),
    trim_min_each_side=st.integers(min_value=0, max_value=3),
)


def fraction_group(xs: list[int], rule: GroupRule) -> dict:
    """Recompute a group with Fractions only, from the sorted sample (the former engine)."""
    x, n, p = sorted(xs), len(xs), Fraction(rule.trim)
    k = math.floor(n * p)
    if n >= 2 * rule.trim_min_each_side + 1:
        k = max(k, rule.trim_min_each_side)
    kept = x[k : n - k]
    mean = Fraction(sum(kept), len(kept))
    interval = None
    if n >= 2 and n - 2 * k - 1 >= 1:
        winsorized = [x[k]] * k + kept + [x[n - k - 1]] * k
        w_mean = Fraction(sum(winsorized), n)
        variance = sum((v - w_mean) ** 2 for v in winsorized) / (n - 1)
        se = math.sqrt(variance / ((1 - 2 * p) ** 2 * n))
        half = Fraction(t_ppf(0.975, n - 2 * k - 1) * se)
        interval = (float(mean - half), float(mean + half))
    return {"k": k, "mean": mean, "interval": interval,
            "satisfaction": Fraction(sum(v >= 7 for v in x), n),
            "dissatisfaction": Fraction(sum(v <= 4 for v in x), n)}


@settings(max_examples=300, deadline=None)
@given(xs=samples, rule=rules)
def test_group_numbers_equal_the_fraction_computation_bit_for_bit(xs, rule):
    group = score_group(histogram_from_scores(xs), {}, rule, Scheme())
    if len(xs) < rule.min_n:
        assert group.status != OK and group.n == len(xs)
        return
    expected = fraction_group(xs, rule)
    assert (group.k, group.trimmed_mean) == (expected["k"], expected["mean"])
    assert group.ci95 == expected["interval"]  # the same floats, not merely close ones
    assert group.satisfaction == expected["satisfaction"]
    assert group.dissatisfaction == expected["dissatisfaction"]


@settings(max_examples=200, deadline=None)
@given(data=st.dictionaries(st.sampled_from(list(Scheme().groups)), samples, max_size=5))
def test_composite_equals_the_fraction_sum_rounded_half_up_once(data):
    scheme = Scheme()
    groups = {name: score_group(histogram_from_scores(data.get(name, [])), {}, rule, scheme)
              for name, rule in scheme.groups.items()}
    result = composite(groups, scheme)
    ok = {name: Fraction(rule.weight) for name, rule in scheme.groups.items()
          if groups[name].status == OK}
    total = sum(ok.values(), Fraction(0))
    if not total or total / sum(Fraction(r.weight) for r in scheme.groups.values()) < Fraction(
            scheme.min_weight_coverage):
        assert result.score_100 is None
        return
    exact = 10 * sum(w / total * groups[name].trimmed_mean for name, w in ok.items())
    assert result.score_100 == round_half_up(exact, 2)
    assert result.weights == {name: w / total for name, w in ok.items()}


def test_halves_round_up_in_integer_rounding():
    assert round_half_up(Fraction(86125, 1000), 2) == Decimal("86.13")
    assert round_half_up(Fraction(-86125, 1000), 2) == Decimal("-86.13")
    assert round_half_up(Fraction(1, 3), 2) == Decimal("0.33")


def test_digest_of_validated_pairs_keeps_the_published_canonical_form():
    assert canonical_histograms({"peer": {10: 1, 2: 3, 0: 0}, "superior": {}}) == (
        '{"peer":{"10":1,"2":3}}')
