"""The plain rating's quick load is the schema's load, or declines and leaves it to the schema."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from backend.schemas.ratings import RatingSubmissionSchema, plain_rating
from tests.support.quick_loads import check_quick_load

SCHEMA = RatingSubmissionSchema()
TEXT = st.one_of(st.text(max_size=14), st.text(min_size=190, max_size=210),
                 st.text(min_size=495, max_size=505), st.sampled_from(
                     ["热情周到", "a\x00b", "tab\there", "line\nbreak", "\ud800", "", "\u200d"]))
VALUES = st.one_of(st.none(), st.booleans(), st.integers(-5, 105), st.floats(0, 10),
                   TEXT, st.lists(TEXT, max_size=12), st.dictionaries(TEXT, st.integers()))
BODIES = st.one_of(
    st.dictionaries(st.sampled_from(["score", "tags", "comment", "stamp"]), VALUES),
    st.dictionaries(st.sampled_from(["score", "tags", "comment", "stamp", "ratings",
                                     "followup", "opened_at", "evil"]), VALUES),
    st.fixed_dictionaries({"score": st.integers(-2, 102)},
                          optional={"tags": st.lists(TEXT, max_size=11), "comment": TEXT,
                                    "stamp": TEXT}),
    VALUES)


@settings(max_examples=600)
@given(BODIES)
def test_the_quick_load_is_the_schemas_or_declines(body):
    check_quick_load(plain_rating, SCHEMA, body)


def test_what_raters_send_is_plain():
    for body in ({"score": 9}, {"score": 8, "tags": ["热情周到", "办事高效"]},
                 {"score": 10, "tags": [], "comment": "很好", "stamp": "s" * 60},
                 {"score": 7, "comment": None}):
        assert plain_rating(body) == SCHEMA.load(body)
    for body in ({"score": True}, {"score": 9.0}, {"score": 9, "tags": ["a\x00"]},
                 {"score": 9, "stamp": None}, {"score": 9, "opened_at": 1}, [9]):
        assert plain_rating(body) is None
