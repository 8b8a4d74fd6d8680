"""Redis out of reach: what is stored in the outbox still goes out, what is not is a clean 503.

Redis is "down" for an app whose REDIS_URL names a closed port; "back" is an app on the same
database with the real Redis, whose cron tick and RQ worker then do their work.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from rq import SimpleWorker
from sqlalchemy import select

from backend.extensions import db, redis_connection
from backend.models import Delivery, ServiceEvent
from backend.services.demo.seed import seed
from tests.fakes import FakeSmsGateway
from workers import jobs
from workers.cron import slot_id, tick
from workers.queues import QUEUES
from workers.schedule import PERIODIC_JOBS

pytestmark = pytest.mark.redis
DOWN = "redis://127.0.0.1:1/0"
PHONE = "13800138000"


@pytest.fixture
def sms():
    with FakeSmsGateway() as fake:
        yield fake


def event(external_id: str = "SP-DOWN-1") -> dict:
    """Return a service event to be sent by SMS."""
    occurred = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()
    return {"source": "erp", "external_id": external_id, "cadre_code": "C001",
            "event_type": "approval", "occurred_at": occurred,
            "recipient": {"phone": PHONE}, "channels": ["sms"]}


def run_worker(app) -> None:
    """Run an RQ worker of the app until its queues are empty."""
    saved = dict(jobs._state)
    jobs.use_app(app)
    try:
        with app.app_context():
            worker = SimpleWorker(list(QUEUES), connection=redis_connection(app))
            worker.work(burst=True)
    finally:
        jobs._state.update(saved)


def test_an_sms_event_is_stored_while_redis_is_down_and_sent_when_it_is_back(
        make_app, make_key, redis_url, sms, session):
    seed(session)
    key = make_key("events:write", sources=["erp"])
    down = make_app(REDIS_URL=DOWN, SMS_GATEWAY_URL=sms.send_url)
    body = event()
    first = down.test_client().post("/api/v1/events", json=body, headers=key)
    again = down.test_client().post("/api/v1/events", json=body, headers=key)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json == first.json
    session.rollback()
    (delivery,) = session.scalars(select(Delivery)).all()
    assert delivery.status == "pending" and sms.messages == []
    back = make_app(REDIS_URL=redis_url, SMS_GATEWAY_URL=sms.send_url)
    relay = next(job for job in PERIODIC_JOBS if job.name == "deliveries-relay")
    now = datetime.now(UTC)  # the test's other run may have claimed this minute's slot
    slot = slot_id(relay, relay.slot(now, ZoneInfo(back.config["TIMEZONE"])))
    redis_connection(back).delete(f"ssp:{slot}")
    assert tick(back, now, jobs=[relay])
    run_worker(back)
    session.rollback()
    assert session.get(Delivery, delivery.id).status == "sent"
    assert [m["to"] for m in sms.messages] == [PHONE]


def test_a_batch_with_sms_events_is_answered_while_redis_is_down(make_app, make_key, session):
    seed(session)
    down = make_app(REDIS_URL=DOWN)
    response = down.test_client().post(
        "/api/v1/events/batch", json={"events": [event("B-1"), event("B-2")]},
        headers=make_key("events:write", sources=["erp"]))
    assert response.status_code == 200
    assert [r["status"] for r in response.json["results"]] == [201, 201]
    session.rollback()
    assert len(session.scalars(select(ServiceEvent)).all()) == 2


def test_publication_is_a_503_with_the_error_body_while_redis_is_down(make_app, make_key):
    down = make_app(REDIS_URL=DOWN)
    period = datetime.now(UTC).strftime("%Y-%m")
    response = down.test_client().post("/api/v1/scores/publish", json={"period": period},
                                       headers=make_key("scores:publish"))
    assert response.status_code == 503
    assert set(response.json) == {"code", "message"} and response.json["code"] == 503


def test_a_replay_is_answered_while_redis_is_down(make_app, make_key):
    down = make_app(REDIS_URL=DOWN)
    response = down.test_client().post("/api/v1/push/replay", json={},
                                       headers=make_key("scores:publish"))
    assert response.status_code == 200


def test_any_redis_failure_that_escapes_a_view_is_a_503_with_the_error_body(make_app):
    down = make_app(REDIS_URL=DOWN)

    @down.get("/api/v1/test-redis")
    def uses_redis():
        redis_connection(down).ping()

    response = down.test_client().get("/api/v1/test-redis")
    assert response.status_code == 503 and response.json["code"] == 503
    assert response.headers["Retry-After"]
    with down.app_context():
        db.session.execute(select(1))  # the session was rolled back, not left broken
