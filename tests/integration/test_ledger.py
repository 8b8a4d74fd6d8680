"""The rating ledger: batches, daily roots, proofs, and every kind of tampering named."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from sqlalchemy import select, text

from backend.extensions import db
from backend.ledger_cli import ledger_cli
from backend.models import LedgerCheckpoint, LedgerEntry, ScoreSnapshot
from backend.services import ledger
from backend.services.exclusions import change_status
from backend.services.merkle import GENESIS
from tests.support.ledger import DAY1, fold, make_ratings, mth

TZ = ZoneInfo("Asia/Shanghai")
DAY2 = DAY1 + timedelta(days=1)
DAY3 = DAY1 + timedelta(days=2)
LATER = DAY3 + timedelta(hours=6)


def sequenced(session, count: int, at: datetime = DAY1, batch: int = 5000) -> list[int]:
    """Make ratings and append them at `at`; return their ids."""
    ids = make_ratings(session, count)
    assert ledger.append_pending(session, at, TZ, batch) == count
    return ids


def entries(session) -> list[LedgerEntry]:
    return list(session.scalars(select(LedgerEntry).order_by(LedgerEntry.seq)))


def tamper(session, sql: str, **params) -> None:
    """Change the database behind the services' back (foreign keys off, as an intruder)."""
    session.commit()
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SET LOCAL session_replication_role = replica"))
        session.execute(text(sql), params)
        session.commit()
        return
    raw = db.engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute("PRAGMA foreign_keys = OFF")
        cursor.execute(sql, params)  # sqlite3 takes :name parameters itself
        cursor.execute("PRAGMA foreign_keys = ON")
    finally:
        raw.close()


def test_the_sequencer_appends_pending_ratings_in_batches_in_id_order(app, session):
    ids = sequenced(session, 11, batch=4)
    chain = GENESIS
    for n, entry in enumerate(entries(session), start=1):
        chain = hashlib.sha256((chain + entry.leaf_hash).encode()).hexdigest()
        assert (entry.seq, entry.rating_id, entry.chain_hash) == (n, ids[n - 1], chain)
        assert entry.day.isoformat() == "2026-11-18"
    assert ledger.append_pending(session, DAY1, TZ, 4) == 0


def test_an_intact_ledger_verifies_and_the_command_exits_0(app, session, runner):
    sequenced(session, 5)
    sequenced(session, 3, at=DAY2)
    assert [c.day.isoformat() for c in ledger.checkpoint_days(session, DAY3, TZ)] == [
        "2026-11-18", "2026-11-19"]
    result = ledger.verify(session, LATER)
    assert result.ok and (result.entries, result.checkpoints) == (8, 2)
    shown = runner.invoke(ledger_cli, ["verify"])
    assert shown.exit_code == 0, shown.output
    assert "账本完整" in shown.output


def test_each_finished_day_gets_one_stable_merkle_root(app, session):
    sequenced(session, 6)
    sequenced(session, 2, at=DAY2)
    (first,) = ledger.checkpoint_days(session, DAY2, TZ)  # 19 Nov is not over yet
    leaves = [e.leaf_hash for e in entries(session) if e.day == first.day]
    assert (first.first_seq, first.last_seq, first.count) == (1, 6, 6)
    assert first.root == mth(leaves).hex()
    assert first.chain_hash == entries(session)[5].chain_hash
    root = first.root
    assert [c.count for c in ledger.checkpoint_days(session, DAY3, TZ)] == [2]
    assert ledger.checkpoint_days(session, LATER, TZ) == []
    assert session.get(LedgerCheckpoint, first.day).root == root
    assert ledger.anchor(ledger.latest_checkpoint(session)).startswith("2026-11-19:")


def test_a_batch_after_a_closed_day_never_lands_in_that_day(app, session):
    sequenced(session, 2)
    ledger.checkpoint_days(session, DAY2, TZ)
    make_ratings(session, 1)
    ledger.append_pending(session, DAY1 + timedelta(hours=1), TZ)  # a worker's slow clock
    assert entries(session)[-1].day.isoformat() == "2026-11-19"
    assert ledger.verify(session, LATER).ok


def test_excluding_a_rating_leaves_the_ledger_intact(app, session):
    ids = sequenced(session, 3)
    change_status(session, ids[1], True, "恶意评价", "auditor", DAY2)
    assert ledger.verify(session, LATER).ok


def test_inclusion_proofs_verify_with_an_independent_merkle_computation(app, session):
    ids = sequenced(session, 7)
    (checkpoint,) = ledger.checkpoint_days(session, DAY2, TZ)
    leaves = [e.leaf_hash for e in entries(session)]
    assert checkpoint.root == mth(leaves).hex()
    proofs = ledger.proofs(session, ids)
    assert [p["index"] for p in proofs] == list(range(7))
    for proof in proofs:
        assert proof["leaf_hash"] == leaves[proof["index"]]
        assert proof["checkpoint"] == {"day": "2026-11-18", "root": checkpoint.root, "size": 7}
        assert fold(proof["leaf_hash"], proof["proof"]) == checkpoint.root
    assert [s["side"] for s in proofs[6]["proof"]] == ["left", "left"]  # (4, 5), then 0..3


@pytest.mark.parametrize("size", [1, 2, 5, 8, 13])
def test_proofs_hold_for_every_tree_shape(app, session, size):
    ids = sequenced(session, size)
    (checkpoint,) = ledger.checkpoint_days(session, DAY2, TZ)
    for proof in ledger.proofs(session, ids[::2]):
        assert fold(proof["leaf_hash"], proof["proof"]) == checkpoint.root


def test_unchecked_ratings_have_no_proof_yet(app, session):
    ids = sequenced(session, 2)
    assert ledger.proofs(session, ids) is None
    assert ledger.proofs(session, make_ratings(session, 1)) is None


def assert_named(runner, session, seq: int, rating_id: int | None, reason: str) -> None:
    """Verify names the first bad entry, and the command exits 1 with its number."""
    result = ledger.verify(session, LATER)
    assert (result.ok, result.seq, result.rating_id, result.reason) == (
        False, seq, rating_id, reason), result.message()
    shown = runner.invoke(ledger_cli, ["verify"])
    assert shown.exit_code == 1
    assert f"#{seq}" in shown.output and reason in shown.output


def test_an_altered_score_is_named(app, session, runner):
    ids = sequenced(session, 6)
    ledger.checkpoint_days(session, DAY2, TZ)
    tamper(session, "UPDATE ratings SET score = 10 WHERE id = :id", id=ids[3])
    assert_named(runner, session, 4, ids[3], "altered")


def test_a_deleted_rating_is_named(app, session, runner):
    ids = sequenced(session, 6)
    tamper(session, "DELETE FROM ratings WHERE id = :id", id=ids[2])
    assert_named(runner, session, 3, ids[2], "deleted")


def test_a_rating_inserted_below_the_chain_is_named(app, session, runner):
    ids = make_ratings(session, 5)
    tamper(session, "DELETE FROM ratings WHERE id = :id", id=ids[2])  # leave a hole
    assert ledger.append_pending(session, DAY1, TZ) == 4
    ledger.checkpoint_days(session, DAY2, TZ)
    make_ratings(session, 1, score=10, ids=[ids[2]])  # slipped in later, under an old id
    assert ledger.append_pending(session, DAY2, TZ) == 0  # below the closed day: never sequenced
    assert_named(runner, session, 3, ids[2], "inserted")


def test_a_rating_whose_entry_was_removed_is_named_as_inserted(app, session, runner):
    ids = sequenced(session, 6)
    tamper(session, "DELETE FROM ledger_entries WHERE rating_id = :id", id=ids[3])
    assert_named(runner, session, 4, ids[3], "inserted")


def test_a_late_commit_under_a_lower_id_is_pending_then_appended(app, session):
    ids = make_ratings(session, 4)
    tamper(session, "DELETE FROM ratings WHERE id = :id", id=ids[1])
    ledger.append_pending(session, DAY1, TZ)
    make_ratings(session, 1, ids=[ids[1]])  # its transaction committed after the batch
    assert ledger.verify(session, DAY1 + timedelta(minutes=1)).ok  # not settled: pending
    assert ledger.append_pending(session, DAY1 + timedelta(minutes=1), TZ) == 1
    assert entries(session)[-1].rating_id == ids[1]
    assert ledger.verify(session, LATER).ok


def test_swapped_entries_are_named_as_reordered(app, session, runner):
    ids = sequenced(session, 6)
    tamper(session, "UPDATE ledger_entries SET rating_id = -rating_id WHERE seq IN (2, 5)")
    tamper(session, "UPDATE ledger_entries SET rating_id = :a WHERE rating_id = :b",
           a=ids[4], b=-ids[1])
    tamper(session, "UPDATE ledger_entries SET rating_id = :a WHERE rating_id = :b",
           a=ids[1], b=-ids[4])
    assert_named(runner, session, 2, ids[4], "reordered")


def test_a_rewritten_chain_still_fails_its_checkpoint(app, session, runner):
    sequenced(session, 4)
    ledger.checkpoint_days(session, DAY2, TZ)
    tamper(session, "UPDATE ledger_checkpoints SET root = :root", root="ab" * 32)
    assert_named(runner, session, 1, None, "checkpoint")


def test_scores_carry_the_latest_checkpoint(app, session):
    from workers.jobs.scores import run_publication

    sequenced(session, 3)
    ledger.checkpoint_days(session, DAY2, TZ)
    run_publication("2026-11")
    documents = session.scalars(select(ScoreSnapshot.document)).all()
    expected = ledger.anchor(ledger.latest_checkpoint(session))
    assert documents and {d["ledger_checkpoint"] for d in documents} == {expected}
    day, root, chain = expected.split(":")
    assert (day, len(root), len(chain)) == ("2026-11-18", 64, 64)


def test_the_sequencer_lock_never_blocks_a_submission(app, session):
    if session.get_bind().dialect.name != "postgresql":
        pytest.skip("SQLite has one writer by design")
    holder = sa.create_engine(db.engine.url)
    with holder.connect() as conn, conn.begin():
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": ledger.LOCK_KEY})
        assert make_ratings(session, 1)  # a rating insert does not wait for the ledger
    holder.dispose()
