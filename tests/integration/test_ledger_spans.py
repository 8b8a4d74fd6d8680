"""`ledger verify` in several processes says exactly what the single walk says, tampered or not.

The spans only ever speed up a ledger that verifies: any fault in a span or at a seam sends
verify back to the single walk. These tests bend the ledger at and around the seams and
compare both answers.
"""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest

from backend.services.ledger import chain as ledger
from backend.services.ledger.verify import recorded_checkpoints, walk_in_parallel
from backend.services.ledger.verify import verify as verify_in
from backend.wiring import sealer
from tests.integration.test_ledger import tamper
from tests.support.ledger import DAY1, make_ratings

TZ = ZoneInfo("Asia/Shanghai")
DAYS, PER_DAY = 6, 3  # two spans: entries 1-9 (days 1-3) and 10-18 (days 4-6)


def six_days(session) -> None:
    """Release three ratings a day for six days and checkpoint every day."""
    for n in range(DAYS):
        make_ratings(session, PER_DAY, DAY1 + timedelta(days=n))
    ledger.checkpoint_days(session, DAY1 + timedelta(days=DAYS), TZ)


def both(session, spans: int = 2) -> tuple:
    """Return (single walk, `spans` processes), each as comparable values."""
    def outcome(result):
        return (result.ok, result.entries, result.checkpoints, result.seq, result.rating_id,
                result.reason, result.message())
    return (outcome(ledger.verify(session, sealer())),
            outcome(verify_in(session, sealer(), workers=spans, min_entries=0)))


SINGLE = "SQLite has one walk: spans are PostgreSQL's (its server-side cursors, its cores)"


def on_postgres(session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def test_an_intact_ledger_is_walked_in_spans_with_the_same_answer(app, session):
    if not on_postgres(session):
        pytest.skip(SINGLE)
    six_days(session)
    single, two = both(session)
    assert single == two == both(session, spans=3)[1] and single[:3] == (True, 18, 6)
    walk = walk_in_parallel(session, sealer(), recorded_checkpoints(session), 2, 0)
    assert walk is not None  # the spans themselves verified it, not the fallback
    assert (walk.expected, walk.closed_days, walk.failure) == (19, 6, None)


SEAM = "(SELECT day FROM ledger_checkpoints ORDER BY day LIMIT 1 OFFSET 2)"
TAMPERINGS = {
    "rating edited in the second span": "UPDATE ratings SET score = 1 WHERE id = "
                                        "(SELECT rating_id FROM ledger_entries WHERE seq = 14)",
    "first entry of a span removed": "DELETE FROM ledger_entries WHERE seq = 10",
    "last entry before a seam removed": "DELETE FROM ledger_entries WHERE seq = 9",
    "checkpoint of the day before a seam removed":
        f"DELETE FROM ledger_checkpoints WHERE day = {SEAM}",
    "checkpoint of the last day removed (an open day)":
        "DELETE FROM ledger_checkpoints WHERE day = (SELECT max(day) FROM ledger_checkpoints)",
    "a span's first day moved back across the seam":
        f"UPDATE ledger_entries SET day = {SEAM} WHERE seq BETWEEN 10 AND 12",
    "a checkpoint's range moved into the other span":
        "UPDATE ledger_checkpoints SET first_seq = 2 WHERE day = "
        "(SELECT max(day) FROM ledger_checkpoints)",
    "a chain hash at the seam rewritten":
        f"UPDATE ledger_entries SET chain_hash = '{'ab' * 32}' WHERE seq = 9",
    "a leaf rewritten in the first span": "UPDATE ledger_entries SET leaf_hash = "
                                          f"'{'cd' * 32}' WHERE seq = 5",
}


@pytest.mark.parametrize("name", TAMPERINGS)
def test_a_bent_ledger_gets_the_single_walks_answer_from_the_spans(app, session, name):
    if not on_postgres(session):
        pytest.skip(SINGLE)
    six_days(session)
    tamper(session, TAMPERINGS[name])
    single, spans = both(session)
    assert single == spans
    # A day without a checkpoint at the end is one not checkpointed yet: the walk accepts it.
    assert single[0] is ("open day" in name), single
