"""The headline (SCORING.md "Headline") and the peer standing, with exact expected values."""

from decimal import Decimal
from fractions import Fraction

from backend.scoring import (
    Scheme,
    composite,
    headline,
    headline_document,
    score_document,
    score_group,
    standing,
)

SCHEME = Scheme()


def groups_of(histograms):
    return {name: score_group(histograms.get(name, {}), {}, rule, SCHEME)
            for name, rule in SCHEME.groups.items()}


def test_fifty_recipient_ratings_alone_give_the_recipient_index():
    # 50 recipients: 10 sevens, 30 eights, 10 tens. k = floor(50 * 0.05) = 2, so the two
    # lowest sevens and the two highest tens go: kept 8 sevens, 30 eights, 8 tens = 46 scores.
    groups = groups_of({"recipient": {7: 10, 8: 30, 10: 10}})
    total = composite(groups, SCHEME)
    assert total.status == "insufficient"  # 35 of 100 weight is below the 50% coverage
    kept_sum = 8 * 7 + 30 * 8 + 8 * 10
    expected = Decimal(round(Fraction(kept_sum * 10, 46) * 100)) / 100  # 376 / 46 * 10
    assert Fraction(kept_sum * 10, 46) * 100 % 1 != Fraction(1, 2)  # no tie to worry about
    assert headline(groups, total).kind == "recipient_index"
    assert headline(groups, total).score_100 == expected == Decimal("81.74")


def test_the_index_rounds_halves_up_like_the_composite():
    # 12 recipients: six 8s and six 9s, k = floor(0.6) = 0: mean 8.5 -> 85.00.
    groups = groups_of({"recipient": {8: 6, 9: 6}})
    assert headline(groups, composite(groups, SCHEME)).score_100 == Decimal("85.00")
    # n = 88, k = 4: kept 31 eights and 49 nines, mean 689 / 80 = 8.6125 -> 86.125, a half
    # cent exactly, rounded up to 86.13 (banker's rounding would give 86.12).
    groups = groups_of({"recipient": {1: 4, 8: 31, 9: 49, 10: 4}})
    assert groups["recipient"].trimmed_mean == Fraction(689, 80)
    assert headline(groups, composite(groups, SCHEME)).score_100 == Decimal("86.13")


def test_an_ok_composite_is_the_headline():
    histograms = {"recipient": {8: 10}, "representative": {6: 3}, "peer": {9: 3}}
    groups = groups_of(histograms)
    total = composite(groups, SCHEME)
    # Weights 35, 20, 15 renormalised over 70 (coverage 0.70 >= 0.5): 10 * (35*8 + 20*6 +
    # 15*9) / 70 = 10 * 535 / 70 = 76.428571... -> 76.43.
    assert total.status == "ok"
    assert headline(groups, total).kind == "composite"
    assert headline(groups, total).score_100 == total.score_100 == Decimal("76.43")


def test_without_the_composite_or_recipients_the_headline_is_insufficient():
    groups = groups_of({"recipient": {9: 9}, "superior": {8: 1}})  # 9 < 10; superior 15%
    value = headline(groups, composite(groups, SCHEME))
    assert value.kind == "insufficient" and value.score_100 is None
    assert headline_document(value) == {"kind": "insufficient"}


def test_every_score_document_carries_its_headline():
    groups = groups_of({"recipient": {7: 10, 8: 30, 10: 10}})
    document = score_document("C001", "2026-Q4", SCHEME, groups, composite(groups, SCHEME),
                              [], "sha256:x", None, "2026-12-01T00:00:00+08:00")
    assert document["headline"] == {"kind": "recipient_index", "score_100": 81.74}


def test_standing_counts_peers_below_and_half_the_ties():
    value = standing(Decimal("80.00"), [Decimal("70"), Decimal("80.00"), 90.0, 60.5, 79.99])
    assert (value.peers, value.below, value.ties) == (5, 3, 1)
    assert value.percentile == Fraction(2 * 3 + 1, 2 * 5)  # 0.7


def test_standing_is_withheld_among_too_few_peers():
    assert standing(Decimal(80), [Decimal(70)] * 4).percentile is None
    assert standing(Decimal(80), [Decimal(70)] * 4, min_peers=4).percentile == 1
