"""The worked examples of docs/scoring.md are what the scoring code computes."""

import doctest
from pathlib import Path

DOC = Path(__file__).resolve().parents[3] / "docs" / "scoring.md"


def test_every_worked_example_of_the_scoring_document_is_computed_by_the_code():
    result = doctest.testfile(str(DOC), module_relative=False, report=True,
                              optionflags=doctest.ELLIPSIS)
    assert result.attempted > 40
    assert result.failed == 0
