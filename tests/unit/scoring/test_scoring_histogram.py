import pytest

from backend.scoring import histogram_from_scores, merge_histograms, sample_size


def test_histogram_counts_each_score_in_ascending_order():
    assert list(histogram_from_scores([9, 3, 9, 10, 3, 9]).items()) == [(3, 2), (9, 3), (10, 1)]


def test_merging_adds_counts_and_drops_zeros():
    merged = merge_histograms([{7: 2, 8: 0}, {7: 1, 10: 4}, {}])
    assert merged == {7: 3, 10: 4}
    assert 8 not in merged


def test_sample_size_sums_the_counts():
    assert sample_size({1: 2, 5: 0, 10: 3}) == 5
    assert sample_size({}) == 0


def test_negative_counts_are_rejected():
    with pytest.raises(ValueError, match="negative count"):
        sample_size({3: -1})


def test_non_integer_scores_are_rejected():
    with pytest.raises(TypeError):
        histogram_from_scores([7.5])
    with pytest.raises(TypeError):
        histogram_from_scores([True])
