"""A score document is encoded once: canonical JSON text and its change-detection hash."""

import hashlib
import json

from hypothesis import given
from hypothesis import strategies as st

from backend.services.scores.documents import UNHASHED, encode_document

# Published floats: means and interval bounds on the scale, rates and weights in [0, 1].
NUMBERS = st.one_of(st.floats(1e-4, 100, allow_nan=False), st.just(0.0), st.integers(0, 10**6))
KEYS = st.sampled_from(["recipient", "peer", "n", "k", "ci95", "热情周到", "态度生硬", "z", "A"])
VALUES = st.recursive(st.one_of(NUMBERS, st.none(), st.booleans(), st.text(max_size=8)),
                      lambda inner: st.lists(inner, max_size=3)
                      | st.dictionaries(KEYS, inner, max_size=4), max_leaves=20)
DOCUMENTS = st.fixed_dictionaries(
    {"cadre_code": st.text(min_size=1, max_size=8), "groups": st.dictionaries(KEYS, VALUES),
     "flags": st.lists(st.sampled_from(["low_sample", "warning_talk"]), max_size=2)},
    optional={"computed_at": st.just("2026-10-05T00:00:00+00:00"),
              "ledger_checkpoint": st.one_of(st.none(), st.just("sha256:ab"))})


def standard(value) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


@given(DOCUMENTS)
def test_text_and_hash_are_the_standard_canonical_json(document):
    text, digest = encode_document(document)
    assert json.loads(text) == document
    stable = {k: v for k, v in document.items() if k not in UNHASHED}
    assert digest == hashlib.sha256(standard(stable).encode()).hexdigest()
    # The hashed keys sorted, then the unhashed ones: the standard text of each part.
    rest = {k: document[k] for k in UNHASHED if k in document}
    expected = standard(stable)
    if rest:
        expected = expected[:-1] + "," + standard(rest)[1:]
    assert text == expected


def test_the_hash_ignores_the_computation_time_and_checkpoint():
    document = {"cadre_code": "C001", "composite": {"status": "ok", "score_100": 87.25}}
    _, plain = encode_document(document)
    _, stamped = encode_document({**document, "computed_at": "2026-10-05T00:00:00+00:00",
                                  "ledger_checkpoint": "sha256:00"})
    _, changed = encode_document({**document, "cadre_code": "C002"})
    assert plain == stamped != changed


def test_tiny_rates_keep_their_value():
    text, _ = encode_document({"satisfaction": 1 / 200_000, "ci95": [-1e-7, 2.5]})
    assert json.loads(text) == {"satisfaction": 1 / 200_000, "ci95": [-1e-7, 2.5]}
