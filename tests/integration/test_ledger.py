"""The rating ledger: release batches, daily roots, proofs, MACs, recounts, and every kind of
tampering named."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from sqlalchemy import select, text

from backend.cli.ledger import ledger_cli
from backend.extensions import db
from backend.models import LedgerCheckpoint, LedgerEntry, Rating, ScoreSnapshot
from backend.scoring.merkle import GENESIS, leaf_hash
from backend.services.fraud import change_status
from backend.services.ledger import chain as ledger
from backend.wiring import sealer
from tests.support.ledger import (
    DAY1,
    fold,
    make_ratings,
    mth,
    release_at,
    submit_ratings,
)
from workers.jobs.scores import run_publication

TZ = ZoneInfo("Asia/Shanghai")
DAY2 = DAY1 + timedelta(days=1)
DAY3 = DAY1 + timedelta(days=2)
LATER = DAY3 + timedelta(hours=6)


def sequenced(session, count: int, at: datetime = DAY1) -> list[int]:
    """Submit ratings and release them as one batch at `at`; return their ids."""
    return make_ratings(session, count, at)


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


def test_release_chains_a_batch_in_the_order_of_its_drawn_ids(app, session):
    ids = sequenced(session, 11)
    chain = GENESIS
    for n, entry in enumerate(entries(session), start=1):
        chain = hashlib.sha256((chain + entry.leaf_hash).encode()).hexdigest()
        assert (entry.seq, entry.rating_id, entry.chain_hash) == (n, sorted(ids)[n - 1], chain)
        assert entry.day.isoformat() == "2026-11-18"
    assert release_at(session, DAY1) == 0


def test_an_intact_ledger_verifies_and_the_command_exits_0(app, session, runner):
    sequenced(session, 5)
    sequenced(session, 3, at=DAY2)
    assert [c.day.isoformat() for c in ledger.checkpoint_days(session, DAY3, TZ)] == [
        "2026-11-18", "2026-11-19"]
    result = ledger.verify(session, sealer())
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
    make_ratings(session, 1, DAY1 + timedelta(hours=1))  # a worker's slow clock
    assert entries(session)[-1].day.isoformat() == "2026-11-19"
    assert ledger.verify(session, sealer()).ok


def test_excluding_a_rating_renews_its_mac_and_leaves_the_ledger_intact(app, session):
    ids = sequenced(session, 3)
    before = session.get(Rating, ids[1]).mac
    change_status(session, sealer(), ids[1], True, "恶意评价", "auditor", DAY2)
    assert session.get(Rating, ids[1]).mac != before
    assert ledger.verify(session, sealer()).ok


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


def assert_named(runner, session, seq: int, rating_id: int | None, reason: str) -> None:
    """Verify names the first bad entry, and the command exits 1 with its number."""
    result = ledger.verify(session, sealer())
    assert (result.ok, result.seq, result.rating_id, result.reason) == (
        False, seq, rating_id, reason), result.message()
    shown = runner.invoke(ledger_cli, ["verify"])
    assert shown.exit_code == 1
    assert f"#{seq}" in shown.output and reason in shown.output


@pytest.mark.parametrize("change", [
    "score = 10", "comment = '已篡改'", "cadre_id = cadre_id", "status = 'excluded'",
    "month = '2026-10'", "tags = '[\"伪造\"]'"])
def test_a_rating_edited_by_hand_fails_its_mac(app, session, runner, change):
    ids = sorted(sequenced(session, 6))
    ledger.checkpoint_days(session, DAY2, TZ)
    tamper(session, f"UPDATE ratings SET {change} WHERE id = :id", id=ids[3])  # noqa: S608
    if change == "cadre_id = cadre_id":
        assert ledger.verify(session, sealer()).ok  # the same content still verifies
        return
    assert_named(runner, session, 4, ids[3], "forged")


def test_an_edited_leaf_is_named_as_altered(app, session, runner):
    ids = sorted(sequenced(session, 4))
    tamper(session, "UPDATE ledger_entries SET leaf_hash = :leaf WHERE rating_id = :id",
           leaf="cd" * 32, id=ids[1])
    assert_named(runner, session, 2, ids[1], "altered")


def test_an_edited_count_is_named_with_its_cell(app, session, runner):
    sequenced(session, 4)
    tamper(session, "UPDATE rating_counts SET count = count + 500")
    result = ledger.verify(session, sealer())
    assert result.reason == "counts" and "rating_counts" in result.message()
    assert "分数 9" in result.message() and "记录为 504，重新计数为 4" in result.message()
    shown = runner.invoke(ledger_cli, ["verify"])
    assert shown.exit_code == 1 and "rating_counts" in shown.output


def test_a_count_with_no_ratings_behind_it_is_named(app, session, runner):
    sequenced(session, 2)
    cadre_id = session.scalar(select(Rating.cadre_id))
    tamper(session, "INSERT INTO rating_tag_counts (cadre_id, month, rater_group, tag, count) "
                    "VALUES (:c, '2026-11', 'recipient', '推诿扯皮', 40)", c=cadre_id)
    result = ledger.verify(session, sealer())
    assert result.reason == "counts" and "rating_tag_counts" in result.message()
    assert "标签 推诿扯皮" in result.message() and "重新计数为 0" in result.message()


def test_a_deleted_rating_is_named(app, session, runner):
    ids = sorted(sequenced(session, 6))
    tamper(session, "DELETE FROM ratings WHERE id = :id", id=ids[2])
    assert_named(runner, session, 3, ids[2], "deleted")


def test_a_rating_inserted_by_hand_is_named_even_with_a_copied_mac(app, session, runner):
    ids = sorted(sequenced(session, 5))
    tamper(session, "INSERT INTO ratings (id, cadre_id, rater_group, score, tags, comment, "
                    "template_id, event_type, batch_at, month, receipt_hash, status, mac) "
                    "SELECT id + 1000, cadre_id, rater_group, 10, tags, comment, template_id, "
                    "event_type, batch_at, month, :receipt, status, mac FROM ratings "
                    "WHERE id = :id", receipt="ef" * 32, id=ids[0])
    assert_named(runner, session, 6, ids[0] + 1000, "inserted")


def test_a_rating_chained_by_hand_still_fails_its_mac(app, session, runner):
    ids = sorted(sequenced(session, 3))
    tamper(session, "UPDATE ratings SET score = 1 WHERE id = :id", id=ids[2])
    row = session.execute(select(LedgerEntry).where(LedgerEntry.rating_id == ids[2])).scalar_one()
    rating = session.get(Rating, ids[2])
    session.refresh(rating)
    leaf = leaf_hash(rating)  # the intruder recomputes the leaf and the chain, not the MAC
    chain = hashlib.sha256((entries(session)[1].chain_hash + leaf).encode()).hexdigest()
    tamper(session, "UPDATE ledger_entries SET leaf_hash = :leaf, chain_hash = :chain "
                    "WHERE seq = :seq", leaf=leaf, chain=chain, seq=row.seq)
    assert_named(runner, session, 3, ids[2], "forged")


def test_a_rating_whose_entry_was_removed_is_named_as_inserted(app, session, runner):
    ids = sorted(sequenced(session, 6))
    tamper(session, "DELETE FROM ledger_entries WHERE rating_id = :id", id=ids[3])
    assert_named(runner, session, 4, ids[3], "inserted")


def test_swapped_entries_are_named_as_reordered(app, session, runner):
    ids = sorted(sequenced(session, 6))
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
    sequenced(session, 3)
    ledger.checkpoint_days(session, DAY2, TZ)
    run_publication("2026-11")
    documents = session.scalars(select(ScoreSnapshot.document)).all()
    expected = ledger.anchor(ledger.latest_checkpoint(session))
    assert documents and {d["ledger_checkpoint"] for d in documents} == {expected}
    day, root, chain = expected.split(":")
    assert (day, len(root), len(chain)) == ("2026-11-18", 64, 64)


def test_the_ledger_lock_never_blocks_a_submission(app, session):
    if session.get_bind().dialect.name != "postgresql":
        pytest.skip("SQLite has one writer by design")
    holder = sa.create_engine(db.engine.url)
    with holder.connect() as conn, conn.begin():
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": ledger.LOCK_KEY})
        assert submit_ratings(session, 1)  # a submission does not wait for the ledger
    holder.dispose()
