"""The plain event's quick load is the schema's load, or declines and leaves it to the schema."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backend.schemas.events import EventSchema, plain_event
from tests.support.quick_loads import check_quick_load

SCHEMA = EventSchema()
ODD_TEXT = ["", " ", "a\x00b", "tab\there", "line\n", "\ud800", "\u3000", "\xa0x", "\x85",
            "审批-2026", "C001", "c.0_1-x", "-C1", "C" * 64, "C" * 65, "x" * 128, "x" * 129,
            "approval", "sms", "wechat", "qr", "SMS", "13800138000", "+86 138-0013-8000",
            "0086 13800138000", "12800138000", "1380013800", "13800138000\n", "oAbc_-9",
            "o" * 129, "2026-11-21T09:30:00+08:00", "2026-11-21T09:30:00", "2026-11-21",
            "2026-11-21T09:30:00Z", "2026-11-21 09:30:00.123456-05:30", "2026-13-01T00:00Z",
            "２０２６-11-21T09:30:00+08:00", "2026-11-21T09:30:00+25:00"]
TEXT = st.one_of(st.text(max_size=10), st.sampled_from(ODD_TEXT))
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-3, 3), st.floats(0, 1), TEXT)
VALUES = st.one_of(SCALARS, st.lists(SCALARS, max_size=4), st.dictionaries(TEXT, SCALARS))
CHANNELS = st.lists(st.sampled_from(["sms", "wechat", "qr", "SMS", "", 1, None]), max_size=4)
RECIPIENT = st.one_of(
    st.fixed_dictionaries({}, optional={"phone": TEXT, "openid": TEXT}),
    st.dictionaries(st.sampled_from(["phone", "openid", "email"]), VALUES), VALUES)
NEAR_PLAIN = st.fixed_dictionaries(
    {"source": st.one_of(st.sampled_from(["approval-system", "bench"]), TEXT),
     "external_id": TEXT, "cadre_code": st.one_of(st.just("C00001"), TEXT),
     "event_type": st.one_of(st.just("approval"), TEXT), "occurred_at": TEXT,
     "channels": st.one_of(CHANNELS, VALUES)},
    optional={"recipient": RECIPIENT, "evil": VALUES})
VALID = {"source": "approval-system", "external_id": "SP-2026-000123", "cadre_code": "C001",
         "event_type": "approval", "occurred_at": "2026-11-21T09:30:00+08:00",
         "recipient": {"phone": "13800138000"}, "channels": ["sms", "qr"]}
FIELDS = ["source", "external_id", "cadre_code", "event_type", "occurred_at", "channels",
          "recipient", "extra"]
# Per field, values at and across its rules' edges.
EDGES = {
    "source": ["C" * 64, "C" * 65, "-C1", "c.0_1-x", "审批", "a b", ""],
    "cadre_code": ["C" * 64, "C" * 65, "_C", "C\n", "Ｃ1", None],
    "external_id": ["x" * 128, "x" * 129, " ", " x ", "x\ty", "\u3000", "a\x85"],
    "event_type": ["e" * 40, "e" * 41, "", " ", "e\n", "e\ud800", "审批"],
    "occurred_at": ["2026-11-21T09:30:00", "2026-11-21", "2026-11-21T09:30:00Z", "20261121T0930Z",
                    "2026-11-21T09:30:00.5+08:00", "2026-11-21T24:00:00+08:00", 1763688600],
    "channels": [[], ["sms"] * 3, ["sms"] * 4, ["qr", "QR"], "qr", [["qr"]], ["qr", None]],
    "recipient": [{}, None, [], {"phone": None}, {"openid": "o" * 128}, {"openid": "o" * 129},
                  {"openid": "o\n"}, {"phone": "1380013800"}, {"phone": 13800138000},
                  {"phone": "+86 138-0013-8000"}, {"phone": "13800138000", "x": 1}],
    "extra": [1, None],
}
FIELDS = list(EDGES)
# A valid event with one field changed (or dropped): each rule met alone, at its edges.
CHANGED = st.sampled_from(FIELDS).flatmap(lambda name: st.one_of(
    st.builds(lambda value: VALID | {name: value}, st.sampled_from(EDGES[name])),
    st.builds(lambda value: VALID | {name: value}, VALUES),
    st.just({k: v for k, v in VALID.items() if k != name})))
BODIES = st.one_of(
    CHANGED, CHANGED, CHANGED,
    NEAR_PLAIN,
    st.dictionaries(st.sampled_from(FIELDS), VALUES),
    VALUES)


@settings(max_examples=1500)
@given(BODIES)
def test_the_quick_load_is_the_schemas_or_declines(body):
    check_quick_load(plain_event, SCHEMA, body)


@pytest.mark.parametrize(("name", "value"), [
    (name, value) for name, values in EDGES.items() for value in values])
def test_each_edge_is_loaded_as_the_schema_loads_it_or_declined(name, value):
    check_quick_load(plain_event, SCHEMA, VALID | {name: value})


def event(**changes):
    return {k: v for k, v in (VALID | changes).items() if v is not ...}


def test_what_business_systems_send_is_plain():
    for body in (event(), event(recipient=...), event(recipient={}, channels=["qr"]),
                 event(recipient={"openid": "oAbc_-9", "phone": "+86 138-0013-8000"},
                       channels=["wechat", "sms", "qr"]),
                 event(external_id="审批 2026/11 第 3 号", occurred_at="2026-11-21T01:30:00Z")):
        assert plain_event(body) == SCHEMA.load(body)
    for body in (event(occurred_at="2026-11-21T09:30:00"), event(recipient=None),
                 event(channels=[]), event(channels="sms"), event(cadre_code=None),
                 event(external_id=" "), event(event_type="a\tb"), event(source=...),
                 event(recipient={"phone": "13800138000", "email": "x"}), event(extra=1),
                 event(recipient={"phone": "138001380001"}), [event()]):
        assert plain_event(body) is None
