"""Sealed payloads open to what was sealed, under any listed key, and refuse any alteration."""

from __future__ import annotations

import base64
import pickle
from datetime import date

import pytest

from backend.services.sealing.seal import Sealer, SealError

RATING = {"kind": "event", "rows": [{"cadre_id": 12, "score": 8, "tags": ["热情周到"],
                                     "comment": "窗口\"排队\"\\快", "receipt_hash": "a" * 64}],
          "signals": {"ip_hash": "b" * 64, "openid_hash": None, "seconds_on_page": 41.5},
          "extremes": [1, 10], "stamped": False, "phone": None, "big": 2 ** 62}


def test_a_sealed_payload_opens_to_itself():
    sealer = Sealer(["first-key-0123456789abcdef"])
    assert sealer.open(sealer.seal(RATING)) == RATING


def test_two_seals_of_one_payload_differ_and_name_only_the_key():
    sealer = Sealer(["first-key-0123456789abcdef"])
    one, two = sealer.seal(RATING), sealer.seal(RATING)
    assert one != two  # a fresh nonce each time: equal ratings cannot be told apart
    assert one.split(".")[:2] == two.split(".")[:2] == ["s1", sealer.seal_keys.ids[0]]


def test_an_older_key_still_opens_and_a_dropped_key_does_not():
    old = Sealer(["old-key-0123456789abcdef"])
    sealed = old.seal(RATING)
    assert Sealer(["new-key-0123456789abcdef", "old-key-0123456789abcdef"]).open(sealed) == RATING
    with pytest.raises(SealError):
        Sealer(["new-key-0123456789abcdef"]).open(sealed)


def test_any_altered_byte_is_refused():
    sealer = Sealer(["first-key-0123456789abcdef"])
    version, key_id, encoded = sealer.seal(RATING).split(".")
    raw = bytearray(base64.urlsafe_b64decode(encoded))
    for position in (0, 12, len(raw) // 2, len(raw) - 1):  # nonce, body, tag
        bent = bytearray(raw)
        bent[position] ^= 1
        with pytest.raises(SealError):
            sealer.open(f"{version}.{key_id}.{base64.urlsafe_b64encode(bytes(bent)).decode()}")


def test_values_json_lacks_are_sealed_as_their_text():
    sealer = Sealer(["first-key-0123456789abcdef"])
    assert sealer.open(sealer.seal({"day": date(2026, 12, 6), 3: "x"})) == {
        "day": "2026-12-06", "3": "x"}


def test_a_sealer_sent_to_a_worker_process_seals_and_opens_as_before():
    sealer = Sealer(["first-key-0123456789abcdef", "old-key-0123456789abcdef"])
    copy = pickle.loads(pickle.dumps(sealer))  # noqa: S301 (our own bytes)
    assert copy.open(sealer.seal(RATING)) == sealer.open(copy.seal(RATING)) == RATING
    assert copy.tags("use", "t") == sealer.tags("use", "t")
