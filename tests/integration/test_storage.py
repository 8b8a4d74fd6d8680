"""The storage interface: both implementations give the same answers, each in its own way.

Services never ask which engine they are on; they ask the storage chosen for it. These tests
hold the two implementations to one behaviour on their real databases.
"""

import threading

import pytest
from sqlalchemy import create_mock_engine, select
from sqlalchemy.orm import Session

from backend import create_app
from backend.extensions import db
from backend.models import Cadre, Rating, RatingCount, Unit
from backend.storage import (
    STORAGES,
    PortableStorage,
    UnsupportedDatabase,
    choose,
    storage_of,
    try_advisory_lock,
)
from backend.storage.postgres import PostgresStorage
from tests.conftest import base_config


def test_the_storage_is_chosen_by_the_database_and_others_are_refused(app, session):
    storage = storage_of(session)
    assert storage is choose(db.engine)
    expected = PostgresStorage if session.get_bind().dialect.name == "postgresql" else (
        PortableStorage)
    assert type(storage) is expected
    oracle = create_mock_engine("oracle://", executor=lambda *a, **k: None)
    with pytest.raises(UnsupportedDatabase, match="不支持的数据库：oracle"):
        choose(oracle)


def test_an_app_on_a_database_no_storage_serves_does_not_start(tmp_path, monkeypatch):
    """create_app chooses the storage: without one for the engine, it refuses to start."""
    monkeypatch.delitem(STORAGES, "sqlite")
    with pytest.raises(UnsupportedDatabase, match="DATABASE_URL 须指向"):
        create_app(base_config(f"sqlite:///{tmp_path / 'app.db'}"))


def test_drawn_ids_follow_the_highest_and_never_repeat(app, session):
    storage = storage_of(session)
    column = Rating.__table__.c.id
    assert storage.next_ids(session, column, 0) == []
    first = storage.next_ids(session, column, 5)
    assert first == [1, 2, 3, 4, 5]  # an empty table, its sequence (if any) reset
    if storage.concurrent:  # a sequence: drawn ids are spent even if never stored
        second = storage.next_ids(session, column, 3)
        assert second[0] > first[-1]
    session.rollback()


def officials(session, n: int) -> list[int]:
    unit = Unit(code="U1", name="单位", category="township")
    cadres = [Cadre(code=f"C{i}", name=f"干部{i}", unit=unit, position="科长") for i in range(n)]
    session.add_all(cadres)
    session.flush()
    return [c.id for c in cadres]


def test_added_counts_sum_with_stored_ones_and_create_missing_rows(app, session):
    storage = storage_of(session)
    keys = ("cadre_id", "month", "rater_group", "score")
    row = {"cadre_id": officials(session, 1)[0], "month": "2026-10", "rater_group": "public"}
    storage.add_counts(session, RatingCount, keys, ["count"],
                       [{**row, "score": 9, "count": 2}, {**row, "score": 3, "count": 1}])
    storage.add_counts(session, RatingCount, keys, ["count"],
                       [{**row, "score": 9, "count": 5}, {**row, "score": 10, "count": -1}])
    session.commit()
    stored = dict(session.execute(select(RatingCount.score, RatingCount.count)).all())
    assert stored == {3: 1, 9: 7, 10: -1}


def test_lists_collected_per_group_come_back_as_lists(app, session):
    storage = storage_of(session)
    keys = ("cadre_id", "month", "rater_group", "score")
    one, two = officials(session, 2)
    storage.add_counts(session, RatingCount, keys, ["count"], [
        {"cadre_id": c, "month": "2026-10", "rater_group": "public", "score": s, "count": 1}
        for c, s in [(one, 9), (one, 7), (two, 10)]])
    rows = session.execute(select(RatingCount.cadre_id,
                                  storage.collect(RatingCount.score).label("scores"))
                           .group_by(RatingCount.cadre_id).order_by(RatingCount.cadre_id)).all()
    assert [(c, sorted(s)) for c, s in rows] == [(one, [7, 9]), (two, [10])]


def test_work_beside_the_caller_returns_its_result_and_its_error(app, session):
    storage = storage_of(session)
    session.commit()
    threads = []

    def count(own: Session) -> int:
        threads.append(threading.current_thread())
        return own.scalar(select(RatingCount.cadre_id).limit(1)) or 0

    assert storage.beside(session, count)() == 0
    assert (threads[0] is not threading.current_thread()) == storage.concurrent

    def fail(own: Session) -> None:
        raise LookupError("干部不存在")

    waiting = storage.beside(session, fail)
    with pytest.raises(LookupError, match="干部不存在"):
        waiting()


def test_an_advisory_lock_shuts_out_a_second_transaction_only_where_there_are_two(app, session):
    storage = storage_of(session)
    session.commit()
    storage.advisory_lock(session, 4242)
    with Session(db.engine) as other:
        assert try_advisory_lock(other, 4242) is (not storage.concurrent)
        other.rollback()
    session.commit()  # the lock ends with the transaction
    with Session(db.engine) as other:
        assert try_advisory_lock(other, 4242) is True
        other.rollback()
