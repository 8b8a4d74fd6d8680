"""Per-group scores, the weighted composite and the flags of one official and period."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from typing import NamedTuple

from .histogram import Histogram, sorted_counts
from .interval import interval_from_sums
from .scheme import GroupRule, Scheme
from .trim import trim_count, trimmed_sums

OK = "ok"
INSUFFICIENT = "insufficient"
FLAG_ORDER = ("not_excellent_eligible", "warning_talk", "reassignment_review", "low_sample")


class GroupScore(NamedTuple):
    """The published result of one rater group; only n when the sample is too small."""

    status: str
    n: int
    k: int | None = None
    trimmed_mean: Fraction | None = None
    ci95: tuple[float, float] | None = None
    satisfaction: Fraction | None = None
    dissatisfaction: Fraction | None = None
    tags: dict[str, int] | None = None


@dataclass(frozen=True)
class Composite:
    """The weighted score over ok groups, rounded only here, at publication."""

    status: str
    score_100: Decimal | None
    weights: dict[str, Fraction] = field(default_factory=dict)
    coverage: Fraction = Fraction(0)


def score_group(
    hist: Histogram, tag_counts: Mapping[str, int], rule: GroupRule, scheme: Scheme
) -> GroupScore:
    """Score one rater group from its histogram and tag counts."""
    return score_pairs(sorted_counts(hist), tag_counts, rule, scheme)


def score_pairs(
    pairs: list[tuple[int, int]], tag_counts: Mapping[str, int], rule: GroupRule, scheme: Scheme
) -> GroupScore:
    """Score one rater group from validated, sorted (score, count) pairs and tag counts."""
    n = satisfied = dissatisfied = 0
    low, high = scheme.scale_min, scheme.scale_max
    satisfied_min, dissatisfied_max = scheme.satisfied_min, scheme.dissatisfied_max
    for score, count in pairs:  # one pass: the scale check, n and both rates' counts
        if not low <= score <= high:
            raise ValueError(f"score {score} outside the scale {low}..{high}")
        n += count
        if score >= satisfied_min:
            satisfied += count
        if score <= dissatisfied_max:
            dissatisfied += count
    if n < rule.min_n:
        # Below the minimum sample nothing derived may leak: it could identify raters.
        return GroupScore(status=INSUFFICIENT, n=n)
    k = trim_count(n, rule.trim, rule.trim_min_each_side)
    sums = trimmed_sums(pairs, n, k)  # integers; each published number is one exact ratio
    return GroupScore(
        status=OK,
        n=n,
        k=k,
        trimmed_mean=Fraction(sums.total, sums.kept),
        ci95=interval_from_sums(sums, n, rule.trim, k),
        satisfaction=Fraction(satisfied, n),
        dissatisfaction=Fraction(dissatisfied, n),
        tags={tag: count for tag, count in sorted(tag_counts.items()) if count > 0},
    )


@functools.lru_cache(maxsize=256)  # a scheme's few weights and thresholds, asked per official
def exact(value: Decimal | int) -> Fraction:
    """Return a scheme number (a Decimal or int) as an exact Fraction."""
    return Fraction(value)


@dataclass(frozen=True)
class Weighting:
    """The renormalised weights of one set of ok groups under one scheme."""

    coverage: Fraction
    weights: dict[str, Fraction]
    sufficient: bool


_WEIGHTINGS: dict[tuple[int, tuple[str, ...]], tuple[Scheme, Weighting]] = {}


def weighting(scheme: Scheme, ok_names: tuple[str, ...]) -> Weighting:
    """Return the weights of the ok groups renormalised to 1, remembered per scheme and set."""
    # Officials share a few dozen sets of ok groups; keyed by the scheme object's identity,
    # which stays valid because the entry holds the scheme.
    key = (id(scheme), ok_names)
    cached = _WEIGHTINGS.get(key)
    if cached is not None and cached[0] is scheme:
        return cached[1]
    total = sum((exact(rule.weight) for rule in scheme.groups.values()), Fraction(0))
    ok = {name: exact(scheme.groups[name].weight) for name in ok_names}
    ok_weight = sum(ok.values(), Fraction(0))
    coverage = ok_weight / total if total else Fraction(0)
    weights = {name: weight / ok_weight for name, weight in ok.items()} if ok_weight else {}
    result = Weighting(
        coverage, weights, ok_weight != 0 and coverage >= exact(scheme.min_weight_coverage)
    )
    if len(_WEIGHTINGS) >= 1024:
        _WEIGHTINGS.clear()
    _WEIGHTINGS[key] = (scheme, result)
    return result


def composite(groups: Mapping[str, GroupScore], scheme: Scheme) -> Composite:
    """Combine the ok groups of the scheme with renormalised weights into score_100."""
    ok_names = tuple(name for name in scheme.groups if name in groups and groups[name].status == OK)
    weighted = weighting(scheme, ok_names)
    if not weighted.weights:
        return Composite(status=INSUFFICIENT, score_100=None, coverage=weighted.coverage)
    if not weighted.sufficient:
        return Composite(INSUFFICIENT, None, dict(weighted.weights), weighted.coverage)
    # sum(w_g * mean_g) as one exact ratio of integers, rounded once.
    numerator, denominator = 0, 1
    for name, weight in weighted.weights.items():
        mean = _mean_of(groups[name])
        term_den = weight.denominator * mean.denominator
        numerator = numerator * term_den + weight.numerator * mean.numerator * denominator
        denominator *= term_den
    return Composite(
        OK,
        round_ratio_half_up(10 * numerator, denominator, 2),
        dict(weighted.weights),
        weighted.coverage,
    )


def score_flags(groups: Mapping[str, GroupScore], six_month_n: int, scheme: Scheme) -> list[str]:
    """Return the raised flags, in FLAG_ORDER."""
    raised = set()
    group = groups.get(scheme.flag_group)
    if group is not None and group.status == OK:
        sat, dissat = group.satisfaction, group.dissatisfaction
        assert sat is not None and dissat is not None
        if sat < exact(scheme.not_excellent_below):
            raised.add("not_excellent_eligible")
        if dissat > exact(scheme.warning_talk_above):
            raised.add("warning_talk")
        if dissat > exact(scheme.reassignment_above):
            raised.add("reassignment_review")
    if six_month_n < scheme.low_sample_min:
        raised.add("low_sample")
    return [flag for flag in FLAG_ORDER if flag in raised]


def round_half_up(value: Fraction, places: int) -> Decimal:
    """Round an exact value to `places` decimals, halves away from zero."""
    return round_ratio_half_up(value.numerator, value.denominator, places)


def round_ratio_half_up(numerator: int, denominator: int, places: int) -> Decimal:
    """Round numerator / denominator (denominator > 0) to `places` decimals, halves away from 0."""
    scaled = abs(numerator) * 10**places
    units = (2 * scaled + denominator) // (2 * denominator)  # floor(scaled / den + 1/2)
    return Decimal(-units if numerator < 0 else units).scaleb(-places)


def _mean_of(group: GroupScore) -> Fraction:
    assert group.trimmed_mean is not None, "an ok group always has a trimmed mean"
    return group.trimmed_mean
