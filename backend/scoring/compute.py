"""Per-group scores, the weighted composite and the flags of one official and period."""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction

from .histogram import Histogram, sorted_counts
from .interval import interval_of
from .rates import share_of
from .scheme import GroupRule, Scheme
from .trim import trim_count, trim_pairs

OK = "ok"
INSUFFICIENT = "insufficient"
FLAG_ORDER = ("not_excellent_eligible", "warning_talk", "reassignment_review", "low_sample")


@dataclass(frozen=True)
class GroupScore:
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
    pairs = sorted_counts(hist)  # validated once; the helpers below take the pairs
    _check_scale(pairs, scheme)
    n = sum(count for _, count in pairs)
    if n < rule.min_n:
        # Below the minimum sample nothing derived may leak: it could identify raters.
        return GroupScore(status=INSUFFICIENT, n=n)
    k = trim_count(n, rule.trim, rule.trim_min_each_side)
    kept = trim_pairs(pairs, n, k)
    return GroupScore(
        status=OK,
        n=n,
        k=k,
        trimmed_mean=Fraction(sum(s * c for s, c in kept), n - 2 * k),
        ci95=interval_of(pairs, n, rule.trim, k),
        satisfaction=share_of(pairs, n, lambda score: score >= scheme.satisfied_min),
        dissatisfaction=share_of(pairs, n, lambda score: score <= scheme.dissatisfied_max),
        tags={tag: count for tag, count in sorted(tag_counts.items()) if count > 0},
    )


@functools.lru_cache(maxsize=256)  # a scheme's few weights and thresholds, asked per official
def exact(value: Decimal | int) -> Fraction:
    """Return a scheme number (a Decimal or int) as an exact Fraction."""
    return Fraction(value)


def composite(groups: Mapping[str, GroupScore], scheme: Scheme) -> Composite:
    """Combine the ok groups of the scheme with renormalised weights into score_100."""
    total = sum((exact(rule.weight) for rule in scheme.groups.values()), Fraction(0))
    ok = {
        name: exact(rule.weight)
        for name, rule in scheme.groups.items()
        if name in groups and groups[name].status == OK
    }
    ok_weight = sum(ok.values(), Fraction(0))
    coverage = ok_weight / total if total else Fraction(0)
    if ok_weight == 0:
        return Composite(status=INSUFFICIENT, score_100=None, coverage=coverage)
    weights = {name: weight / ok_weight for name, weight in ok.items()}
    if coverage < exact(scheme.min_weight_coverage):
        return Composite(INSUFFICIENT, None, weights, coverage)
    value = 10 * sum(weights[name] * _mean_of(groups[name]) for name in weights)
    return Composite(OK, round_half_up(value, 2), weights, coverage)


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
    scaled = abs(value) * 10**places
    units = math.floor(scaled + Fraction(1, 2))
    return Decimal(-units if value < 0 else units).scaleb(-places)


def _mean_of(group: GroupScore) -> Fraction:
    assert group.trimmed_mean is not None, "an ok group always has a trimmed mean"
    return group.trimmed_mean


def _check_scale(pairs: list[tuple[int, int]], scheme: Scheme) -> None:
    for score, _ in pairs:
        if not scheme.scale_min <= score <= scheme.scale_max:
            raise ValueError(
                f"score {score} outside the scale {scheme.scale_min}..{scheme.scale_max}"
            )
