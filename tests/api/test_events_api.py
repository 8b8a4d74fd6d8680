"""Service events become one-time invitations: idempotent, throttled, per-item in batches."""

from datetime import UTC, datetime, timedelta
from urllib.parse import urlparse

import pytest
from sqlalchemy import func, select

from backend.models import Delivery, Invitation, ServiceEvent
from backend.services.demo.seed import seed


@pytest.fixture
def auth(make_key, session):
    seed(session)
    return make_key("events:write", sources=["approval-system"])


OCCURRED = (datetime.now(UTC) - timedelta(hours=1)).isoformat()


def event(**changes) -> dict:
    body = {"source": "approval-system", "external_id": "SP-2026-000123", "cadre_code": "C001",
            "event_type": "approval", "occurred_at": OCCURRED,
            "recipient": {"phone": "13800138000"}, "channels": ["sms", "qr"]}
    return {**body, **changes}


def count(session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


def test_event_creates_an_invitation_with_short_links(client, auth, session):
    response = client.post("/api/v1/events", json=event(), headers=auth)
    assert response.status_code == 201, response.json
    body = response.json
    assert body["throttled"] is False
    invitation = body["invitation"]
    assert invitation["url"] == f"https://ssp.example.cn/r/{invitation['token']}"
    assert len(invitation["url"]) < 80
    assert invitation["qr_png"] == invitation["url"] + "/qr.png"
    assert invitation["qr_svg"] == invitation["url"] + "/qr.svg"
    assert len(invitation["mp_scene"]) <= 32
    expires = datetime.fromisoformat(invitation["expires_at"])
    assert expires.utcoffset() == timedelta(hours=8)
    assert timedelta(days=6, hours=23) < expires - datetime.now(UTC) <= timedelta(days=7)
    assert (count(session, ServiceEvent), count(session, Invitation)) == (1, 1)


def test_sms_channel_writes_an_outbox_row_with_the_phone_encrypted(client, auth, session):
    client.post("/api/v1/events", json=event(), headers=auth)
    (delivery,) = session.scalars(select(Delivery))
    assert delivery.channel == "sms"
    assert "13800138000" not in (delivery.contact_enc or "")
    stored = session.scalar(select(Invitation))
    assert stored.phone_hash and "13800138000" not in stored.phone_hash


def test_same_event_again_answers_200_with_the_same_body(client, auth, session):
    first = client.post("/api/v1/events", json=event(), headers=auth)
    again = client.post("/api/v1/events", json=event(), headers=auth)
    assert again.status_code == 200
    assert again.json == first.json
    assert count(session, ServiceEvent) == 1


def test_same_event_id_with_different_content_is_409(client, auth):
    client.post("/api/v1/events", json=event(), headers=auth)
    response = client.post("/api/v1/events", json=event(cadre_code="C002"), headers=auth)
    assert response.status_code == 409
    assert response.json["code"] == 409


def test_recipient_with_an_open_invitation_is_throttled(client, auth, session):
    first = client.post("/api/v1/events", json=event(), headers=auth).json
    second = client.post("/api/v1/events", json=event(external_id="SP-2"), headers=auth)
    assert second.status_code == 201
    assert second.json["throttled"] is True
    assert second.json["invitation"] == first["invitation"]
    assert second.json["event_id"] != first["event_id"]
    assert count(session, Invitation) == 1 and count(session, Delivery) == 1


def test_throttling_is_per_official(client, auth):
    client.post("/api/v1/events", json=event(), headers=auth)
    other = client.post("/api/v1/events", json=event(external_id="SP-3", cadre_code="C002"),
                        headers=auth)
    assert other.json["throttled"] is False


def test_used_or_revoked_invitation_does_not_throttle(client, auth, session):
    first = client.post("/api/v1/events", json=event(), headers=auth).json
    rated = client.post(f"/api/v1/invitations/{first['invitation']['token']}/rating",
                        json={"score": 8})
    assert rated.status_code == 201
    again = client.post("/api/v1/events", json=event(external_id="SP-4"), headers=auth)
    assert again.json["throttled"] is False
    session.scalar(select(Invitation).order_by(Invitation.id.desc())).revoked_at = \
        datetime.now(UTC)
    session.commit()
    third = client.post("/api/v1/events", json=event(external_id="SP-5"), headers=auth)
    assert third.json["throttled"] is False


def test_events_without_recipient_are_never_throttled(client, auth, session):
    for n in range(3):
        body = event(external_id=f"Q-{n}", recipient={}, channels=["qr"])
        assert client.post("/api/v1/events", json=body, headers=auth).json["throttled"] is False
    assert count(session, Delivery) == 0


@pytest.mark.parametrize(("changes", "field"), [
    ({"cadre_code": "NOBODY"}, "cadre_code"),
    ({"event_type": "karaoke"}, "event_type"),
    ({"occurred_at": (datetime.now(UTC) + timedelta(hours=2)).isoformat()}, "occurred_at"),
    ({"occurred_at": (datetime.now(UTC) - timedelta(days=90)).isoformat()}, "occurred_at"),
    ({"occurred_at": "2026-11-21T09:30:00"}, "occurred_at"),
    ({"recipient": {"phone": "12345"}}, "recipient"),
    ({"recipient": {}, "channels": ["sms"]}, "channels"),
    ({"recipient": {"phone": "13800138000"}, "channels": ["wechat"]}, "channels"),
    ({"channels": ["pigeon"]}, "channels"),
    ({"channels": []}, "channels"),
    ({"source": None}, "source"),
])
def test_bad_event_is_422_naming_the_field(client, auth, session, changes, field):
    response = client.post("/api/v1/events", json=event(**changes), headers=auth)
    assert response.status_code == 422, response.json
    assert field in response.json["errors"]
    assert count(session, ServiceEvent) == 0 and count(session, Invitation) == 0


def test_inactive_cadre_is_refused(client, auth, session):
    from backend.models import Cadre

    session.scalar(select(Cadre).where(Cadre.code == "C001")).active = False
    session.commit()
    response = client.post("/api/v1/events", json=event(), headers=auth)
    assert response.status_code == 422 and "cadre_code" in response.json["errors"]


def test_events_need_the_events_scope(client, make_key, session):
    seed(session)
    response = client.post("/api/v1/events", json=event(), headers=make_key("directory:write"))
    assert response.status_code == 403


def test_event_under_a_source_of_another_client_is_403_in_chinese(client, auth, session):
    response = client.post("/api/v1/events", json=event(source="tax-system"), headers=auth)
    assert response.status_code == 403
    assert "tax-system" in response.json["message"] and "approval-system" in \
        response.json["message"]
    assert "source" in response.json["errors"]
    assert count(session, ServiceEvent) == 0


def test_a_client_cannot_replay_or_take_another_clients_idempotency_key(client, auth,
                                                                       make_key, session):
    first = client.post("/api/v1/events", json=event(), headers=auth)
    assert first.status_code == 201
    other = make_key("events:write", sources=["tax-system"])
    for body in (event(), event(cadre_code="C002")):
        response = client.post("/api/v1/events", json=body, headers=other)
        assert response.status_code == 403 and "invitation" not in response.json
    assert count(session, ServiceEvent) == 1


def test_a_client_may_post_under_each_of_its_sources(client, make_key, session):
    seed(session)
    both = make_key("events:write", sources=["approval-system", "hall-tablet"])
    for n, source in enumerate(("approval-system", "hall-tablet")):
        response = client.post("/api/v1/events", headers=both,
                               json=event(source=source, external_id=f"S-{n}"))
        assert response.status_code == 201, response.json


def test_batch_item_under_another_source_gets_its_own_403_and_the_others_proceed(
        client, auth, session):
    items = [event(external_id="M-1"), event(external_id="M-2", source="tax-system"),
             event(external_id="M-3", cadre_code="C002")]
    results = client.post("/api/v1/events/batch", json={"events": items},
                          headers=auth).json["results"]
    assert [r["status"] for r in results] == [201, 403, 201]
    assert "tax-system" in results[1]["message"] and "source" in results[1]["errors"]
    assert count(session, ServiceEvent) == 2


def test_batch_reports_each_item_and_one_bad_item_fails_nothing_else(client, auth, session):
    items = [event(external_id="B-1"), event(external_id="B-2", cadre_code="NOBODY"),
             "not an object", event(external_id="B-3", cadre_code="C003",
                                    recipient={"openid": "o_abc"}, channels=["wechat"])]
    response = client.post("/api/v1/events/batch", json={"events": items}, headers=auth)
    assert response.status_code == 200
    results = response.json["results"]
    assert [r["index"] for r in results] == [0, 1, 2, 3]
    assert [r["status"] for r in results] == [201, 422, 422, 201]
    assert "cadre_code" in results[1]["errors"]
    assert results[0]["invitation"]["url"].startswith("https://ssp.example.cn/r/")
    assert count(session, ServiceEvent) == 2


def test_batch_results_are_already_in_the_documented_shape(client, auth, session):
    """The batch answers without dumping its results through the schema: they must be what
    the schema's dump would make of them, for every kind of result."""
    from backend.schemas.events import EventBatchResultSchema

    client.post("/api/v1/events", json=event(external_id="D-0"), headers=auth)
    items = [event(external_id="D-1"), event(external_id="D-0"),
             event(external_id="D-0", cadre_code="C002"), event(external_id="D-2",
                                                                 cadre_code="NOBODY"),
             event(external_id="D-3", source="tax-system"), 7, {"source": None},
             event(external_id="D-4", recipient={"openid": "o_1"}, channels=["wechat"])]
    body = client.post("/api/v1/events/batch", json={"events": items}, headers=auth).json
    assert [r["status"] for r in body["results"]] == [201, 200, 409, 422, 403, 422, 422, 201]
    assert EventBatchResultSchema().dump(body) == body


def test_batch_repeats_and_throttles_within_itself(client, auth, session):
    items = [event(external_id="R-1"), event(external_id="R-1"),
             event(external_id="R-1", cadre_code="C002"), event(external_id="R-2")]
    results = client.post("/api/v1/events/batch", json={"events": items},
                          headers=auth).json["results"]
    assert [r["status"] for r in results] == [201, 200, 409, 201]
    assert results[1]["invitation"] == results[0]["invitation"]
    assert results[3]["throttled"] is True
    assert results[3]["invitation"]["token"] == results[0]["invitation"]["token"]
    assert count(session, Invitation) == 1


def test_batch_replays_events_stored_earlier(client, auth):
    first = client.post("/api/v1/events", json=event(), headers=auth).json
    results = client.post("/api/v1/events/batch", json={"events": [event()]},
                          headers=auth).json["results"]
    assert results[0]["status"] == 200
    assert results[0]["invitation"] == first["invitation"]


def test_batch_over_1000_items_is_413(client, auth, session):
    items = [event(external_id=f"X-{n}") for n in range(1001)]
    response = client.post("/api/v1/events/batch", json={"events": items}, headers=auth)
    assert response.status_code == 413
    assert count(session, ServiceEvent) == 0


def test_full_batch_of_1000_is_written(client, auth, session):
    items = [event(external_id=f"F-{n}", recipient={"phone": f"139{n:08d}"})
             for n in range(1000)]
    response = client.post("/api/v1/events/batch", json={"events": items}, headers=auth)
    statuses = {r["status"] for r in response.json["results"]}
    assert statuses == {201}
    tokens = {urlparse(r["invitation"]["url"]).path for r in response.json["results"]}
    assert len(tokens) == 1000
    assert count(session, Delivery) == 1000
