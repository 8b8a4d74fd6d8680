"""Bulk inserts: rows written by COPY or one JSON parameter read back as they were given."""

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.extensions import db
from backend.models import WebhookMessage
from backend.storage.bulk import EncodedJSON, copy_rows, delete_ids, existing, insert_rows

T0 = datetime(2026, 10, 5, 8, 30, tzinfo=UTC)


def message(n: int, payload) -> dict:
    return {"webhook_id": f"msg_{n}", "type": "score.published", "period": None,
            "status": "pending", "payload": payload, "attempts": 0,
            "next_attempt_at": T0 + timedelta(seconds=n), "created_at": T0}


def stored(session) -> dict[str, tuple]:
    rows = session.scalars(select(WebhookMessage).order_by(WebhookMessage.webhook_id))
    return {r.webhook_id: (r.payload, r.next_attempt_at, r.period) for r in rows}


def test_copied_rows_read_back_as_given(app, session):
    payload = {"名称": "干部\t一\n\\", "n": [1, 2.5, None], "ok": True}
    copy_rows(session, WebhookMessage.__table__, [
        message(1, payload), message(2, EncodedJSON('{"a": "引号\\"", "b": [1e-05]}'))])
    session.commit()
    assert stored(session) == {
        "msg_1": (payload, T0 + timedelta(seconds=1), None),
        "msg_2": ({"a": "引号\"", "b": [1e-05]}, T0 + timedelta(seconds=2), None)}


def test_copy_skips_rows_whose_unique_value_exists(app, session):
    copy_rows(session, WebhookMessage.__table__, [message(1, {"v": 1})])
    copy_rows(session, WebhookMessage.__table__, [message(1, {"v": 2}), message(2, {"v": 2}),
                                                  message(2, {"v": 9})],
              skip_conflicts_on="webhook_id")  # of two rows with one id, the first is kept
    copy_rows(session, WebhookMessage.__table__, [message(3, {"v": 3})],
              skip_conflicts_on="webhook_id")
    session.commit()
    assert {k: v[0] for k, v in stored(session).items()} == {
        "msg_1": {"v": 1}, "msg_2": {"v": 2}, "msg_3": {"v": 3}}


def test_delete_ids_deletes_exactly_the_ids_given(app, session):
    copy_rows(session, WebhookMessage.__table__, [message(n, {"v": n}) for n in range(1, 1203)])
    session.commit()
    ids = dict(session.execute(select(WebhookMessage.webhook_id, WebhookMessage.id)).all())
    doomed = [ids[f"msg_{n}"] for n in range(1, 1203) if n % 3 != 0]  # 802: past one IN chunk
    delete_ids(session, WebhookMessage.__table__.c.id, doomed)
    delete_ids(session, WebhookMessage.__table__.c.id, [])
    session.commit()
    assert set(stored(session)) == {f"msg_{n}" for n in range(3, 1203, 3)}


def test_a_row_stored_meanwhile_by_another_transaction_is_skipped_too(app, session):
    """The lookup misses an id another transaction has not yet committed: the COPY waits for
    it, fails on the unique constraint, and the rows go in through the staging table."""
    if session.get_bind().dialect.name != "postgresql":
        pytest.skip("SQLite has one writer: nothing is stored meanwhile")
    other = db.engine.connect()
    other_session = Session(bind=other)
    copy_rows(other_session, WebhookMessage.__table__, [message(1, {"by": "other"})])
    failures = []

    def copy_in_this_session():
        try:
            with app.app_context():
                copy_rows(session, WebhookMessage.__table__,
                          [message(1, {"by": "this"}), message(2, {"by": "this"})],
                          skip_conflicts_on="webhook_id")
                session.commit()
        except Exception as error:  # reported below, in the test's thread
            failures.append(error)

    worker = threading.Thread(target=copy_in_this_session)
    worker.start()
    worker.join(0.5)
    assert worker.is_alive()  # waiting for the other transaction's msg_1
    other_session.commit()
    worker.join(10)
    other_session.close()
    other.close()
    assert not worker.is_alive() and not failures
    assert {k: v[0] for k, v in stored(session).items()} == {
        "msg_1": {"by": "other"}, "msg_2": {"by": "this"}}


def test_encoded_json_goes_in_as_is_with_one_json_parameter_too(app, session):
    insert_rows(session, WebhookMessage.__table__, [message(1, EncodedJSON('{"x": [1, 2]}'))])
    session.commit()
    assert stored(session)["msg_1"][0] == {"x": [1, 2]}


def test_existing_tells_which_values_a_unique_column_holds(app, session):
    copy_rows(session, WebhookMessage.__table__, [message(1, {}), message(2, {})])
    column = WebhookMessage.__table__.c.webhook_id
    assert existing(session, column, ["msg_2", "msg_3", "msg_1"]) == {"msg_1", "msg_2"}
    assert existing(session, column, []) == set()
