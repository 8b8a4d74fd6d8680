import hashlib
import json
from decimal import Decimal
from fractions import Fraction

from backend.scoring import (
    INSUFFICIENT,
    OK,
    Composite,
    GroupScore,
    Scheme,
    histogram_digest,
    score_document,
)

HISTOGRAMS = {"recipient": {10: 3, 7: 2, 9: 1}, "peer": {8: 4}}


def test_insertion_order_does_not_change_the_digest():
    reordered = {"peer": {8: 4}, "recipient": {9: 1, 7: 2, 10: 3}}
    assert histogram_digest(reordered) == histogram_digest(HISTOGRAMS)
    assert histogram_digest(HISTOGRAMS).startswith("sha256:")


def test_zero_counts_and_empty_groups_are_ignored():
    padded = {"recipient": {10: 3, 7: 2, 9: 1, 1: 0}, "peer": {8: 4}, "superior": {}}
    padded["subordinate"] = {5: 0}
    assert histogram_digest(padded) == histogram_digest(HISTOGRAMS)


def test_changing_one_count_changes_the_digest():
    changed = {"recipient": {10: 3, 7: 2, 9: 2}, "peer": {8: 4}}
    assert histogram_digest(changed) != histogram_digest(HISTOGRAMS)


def test_digest_hashes_the_documented_canonical_json():
    canonical = json.dumps(
        {"peer": {"8": 4}, "recipient": {"10": 3, "7": 2, "9": 1}},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    expected = "sha256:" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    assert histogram_digest(HISTOGRAMS) == expected


def test_score_document_renders_the_contract_shape():
    groups = {
        "recipient": GroupScore(
            OK,
            54,
            2,
            Fraction(43, 5),
            (8.3, 8.9),
            Fraction(91, 100),
            Fraction(1, 25),
            {"热情周到": 31},
        ),
        "peer": GroupScore(INSUFFICIENT, 2),
    }
    result = Composite(OK, Decimal("86.00"), {"recipient": Fraction(1)}, Fraction(35, 100))
    document = score_document(
        "C001", "2026-Q4", Scheme(), groups, result, ["low_sample"], "sha256:ab", "cp-1", "T"
    )
    assert document == {
        "cadre_code": "C001",
        "period": "2026-Q4",
        "scheme": {"id": "default", "version": 1},
        "groups": {
            "recipient": {
                "status": "ok",
                "n": 54,
                "k": 2,
                "trimmed_mean": 8.6,
                "ci95": [8.3, 8.9],
                "satisfaction": 0.91,
                "dissatisfaction": 0.04,
                "tags": {"热情周到": 31},
            },
            "peer": {"status": "insufficient", "n": 2},
        },
        "composite": {"status": "ok", "score_100": 86.0, "weights": {"recipient": 1.0}},
        "headline": {"kind": "composite", "score_100": 86.0},
        "flags": ["low_sample"],
        "digest": "sha256:ab",
        "ledger_checkpoint": "cp-1",
        "computed_at": "T",
    }
    json.dumps(document, sort_keys=True, ensure_ascii=False)


def test_insufficient_composite_omits_the_score():
    result = Composite(INSUFFICIENT, None, {}, Fraction(0))
    document = score_document("C1", "2026", Scheme(), {}, result, [], "sha256:x", None, "T")
    assert document["composite"] == {"status": "insufficient", "weights": {}}
