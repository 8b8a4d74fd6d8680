import copy
from decimal import ROUND_HALF_EVEN, Decimal
from fractions import Fraction

import pytest

from backend.scoring import (
    DEFAULT_SCHEME_DICT,
    INSUFFICIENT,
    OK,
    GroupScore,
    Scheme,
    composite,
    round_half_up,
    scheme_from_dict,
    score_flags,
    score_group,
)

SCHEME = Scheme()
# n = 88, k = floor(88 * 0.05) = 4: the kept 80 scores are 31 eights and 49 nines, mean 8.6125.
HALF_CENT = {1: 4, 8: 31, 9: 49, 10: 4}


def ok(mean, satisfaction=Fraction(1), dissatisfaction=Fraction(0)):
    return GroupScore(
        status=OK,
        n=20,
        k=1,
        trimmed_mean=Fraction(mean),
        ci95=None,
        satisfaction=Fraction(satisfaction),
        dissatisfaction=Fraction(dissatisfaction),
        tags={},
    )


def insufficient(n=0):
    return GroupScore(status=INSUFFICIENT, n=n)


def score_all(histograms, scheme=SCHEME):
    return {
        name: score_group(histograms.get(name, {}), {}, rule, scheme)
        for name, rule in scheme.groups.items()
    }


def test_insufficient_group_publishes_only_its_size():
    group = score_group({9: 5}, {"热情周到": 3}, SCHEME.groups["recipient"], SCHEME)
    assert group == GroupScore(status=INSUFFICIENT, n=5)


def test_ok_group_carries_every_derived_number():
    hist = {2: 1, 7: 6, 9: 5}
    group = score_group(hist, {"耐心": 2, "拖延": 0}, SCHEME.groups["peer"], SCHEME)
    assert (group.status, group.n, group.k) == (OK, 12, 0)
    assert group.trimmed_mean == Fraction(2 + 42 + 45, 12)
    assert group.satisfaction == Fraction(11, 12)
    assert group.dissatisfaction == Fraction(1, 12)
    assert group.tags == {"耐心": 2}
    assert group.ci95 is not None and group.ci95[0] < float(group.trimmed_mean) < group.ci95[1]


def test_scores_outside_the_scale_are_refused():
    with pytest.raises(ValueError, match="outside the scale"):
        score_group({11: 3}, {}, SCHEME.groups["peer"], SCHEME)


def test_weights_are_renormalised_over_ok_groups():
    groups = {"recipient": ok(8), "peer": ok(6), "superior": insufficient(0)}
    result = composite(groups, SCHEME)
    assert result.weights == {"recipient": Fraction(7, 10), "peer": Fraction(3, 10)}
    assert result.coverage == Fraction(1, 2)
    assert result.score_100 == Decimal("74.00")


def test_composite_is_insufficient_below_the_weight_coverage():
    groups = {"superior": ok(9), "peer": ok(9), "recipient": insufficient(9)}
    result = composite(groups, SCHEME)
    assert result.status == INSUFFICIENT
    assert result.score_100 is None
    assert result.coverage == Fraction(30, 100)


def test_groups_outside_the_scheme_do_not_count():
    result = composite({"recipient": ok(8), "peer": ok(8), "visitors": ok(1)}, SCHEME)
    assert set(result.weights) == {"recipient", "peer"}
    assert result.score_100 == Decimal("80.00")


def test_score_is_rounded_half_up_only_at_the_end():
    groups = score_all({"recipient": HALF_CENT, "representative": HALF_CENT})
    assert groups["recipient"].trimmed_mean == Fraction("8.6125")
    result = composite(groups, SCHEME)
    assert result.status == OK
    assert result.score_100 == Decimal("86.13")
    # Banker's rounding, and float round(), would publish 86.12.
    assert Decimal("86.125").quantize(Decimal("0.01"), ROUND_HALF_EVEN) == Decimal("86.12")
    assert round(86.125, 2) == 86.12


def test_rounding_half_up_goes_away_from_zero():
    assert round_half_up(Fraction("0.005"), 2) == Decimal("0.01")
    assert round_half_up(Fraction("-0.005"), 2) == Decimal("-0.01")
    assert round_half_up(Fraction(1, 3), 2) == Decimal("0.33")
    assert str(round_half_up(Fraction(86), 2)) == "86.00"


def test_no_ratings_at_all_gives_an_insufficient_composite_without_dividing_by_zero():
    groups = score_all({})
    assert all(group == GroupScore(status=INSUFFICIENT, n=0) for group in groups.values())
    result = composite(groups, SCHEME)
    assert (result.status, result.score_100, result.weights) == (INSUFFICIENT, None, {})
    assert score_flags(groups, 0, SCHEME) == ["low_sample"]


def test_ok_groups_with_zero_weight_cannot_make_a_composite():
    data = copy.deepcopy(DEFAULT_SCHEME_DICT)
    data["groups"]["peer"]["weight"] = 0
    data["min_weight_coverage"] = "0"
    result = composite({"peer": ok(9)}, scheme_from_dict(data))
    assert result.status == INSUFFICIENT and result.score_100 is None


def test_threshold_flags_are_raised_in_fixed_order():
    groups = {"recipient": ok(3, satisfaction="0.2", dissatisfaction="0.6")}
    assert score_flags(groups, 10, SCHEME) == [
        "not_excellent_eligible",
        "warning_talk",
        "reassignment_review",
        "low_sample",
    ]


def test_flag_thresholds_are_strict():
    groups = {"recipient": ok(8, satisfaction="0.75", dissatisfaction="0.20")}
    assert score_flags(groups, 30, SCHEME) == []
    groups = {"recipient": ok(8, satisfaction="0.74", dissatisfaction="0.21")}
    assert score_flags(groups, 29, SCHEME) == [
        "not_excellent_eligible",
        "warning_talk",
        "low_sample",
    ]


def test_threshold_flags_need_the_flag_group_to_be_ok():
    assert score_flags({"recipient": insufficient(9), "peer": ok(1, 0, 1)}, 100, SCHEME) == []
    assert score_flags({}, 100, SCHEME) == []
