"""The requests that answered 500 when the platform was first attacked, each one by name.

The walk of test_hostile_requests.py covers them among thousands; here each is written out, with
the status it must get now and, for the validators behind them, the exact rule.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from marshmallow import ValidationError, fields
from sqlalchemy import func, select

from backend.api.parsing import nesting_exceeds
from backend.models import Cadre, Campaign, CampaignRater, ServiceEvent, Unit
from backend.models.clients import SCOPES
from backend.routing import ID_MAX
from backend.schemas.base import Schema
from backend.schemas.directory import CODE, PRINTABLE
from tests.console.world import USERS, build_world, csrf_of, https_client, sign_in
from tests.support.invitations import issue

BIG = "9" * 30


@pytest.fixture
def admin(app):
    """Return the world and a client signed in as the org admin."""
    world = build_world(datetime.now(UTC))
    client = https_client(app)
    assert sign_in(client, USERS["org_admin"]).status_code == 302
    return world, client


@pytest.mark.parametrize("path", [
    "/console/?fmt=x", "/console/units?fmt=x", "/console/officials?fmt=xlsx&page=2",
    "/console/?_external=1&_scheme=javascript", "/console/units?unit_id=1",
])
def test_console_links_keep_only_known_filters(admin, path):
    response = admin[1].get(path)
    assert response.status_code == 200
    assert "_scheme" not in response.get_data(as_text=True)


@pytest.mark.parametrize("path", [
    f"/console/units/{BIG}", f"/console/?unit={BIG}", f"/console/officials/{BIG}",
    f"/console/campaigns/{BIG}/non-responders", f"/console/units/{ID_MAX + 1}",
    f"/console/api/units/{BIG}", f"/console/officials?unit={ID_MAX + 1}",
])
def test_ids_past_the_database_integers_are_unknown(admin, path):
    assert admin[1].get(path).status_code == 404


@pytest.mark.parametrize("path", [
    "/console/officials?q=a%00b", "/console/alerts?type=a%00", "/console/push?period=2026%00",
    "/console/audit?actor=%1b[31m", "/console/officials?q=" + "x" * 2001,
])
def test_console_filters_with_control_characters_or_overlong_are_422(admin, path):
    assert admin[1].get(path).status_code == 422


def test_alert_and_unmask_ids_past_the_integers_are_404(admin):
    client = admin[1]
    token = csrf_of(client.get("/console/alerts").get_data(as_text=True))
    acted = client.post(f"/console/alerts/{BIG}/acknowledge", data={"csrf_token": token})
    unmasked = client.post("/console/unmask", data={"csrf_token": token, "kind": "followup",
                                                    "id": BIG, "reason": "回访"})
    replay = client.post("/console/push/replay", data={"csrf_token": token,
                                                       "webhook_id": "msg_\x00"})
    assert (acted.status_code, unmasked.status_code, replay.status_code) == (404, 404, 422)


@pytest.fixture
def key(make_key):
    return make_key(*SCOPES, sources=["erp"])


def test_nul_in_api_text_is_422_and_nothing_is_stored(client, session, key):
    issue(1)  # the demo directory
    before = session.scalar(select(func.count()).select_from(ServiceEvent))
    event = {"source": "erp", "external_id": "SP\x00-1", "cadre_code": "C001",
             "event_type": "approval", "occurred_at": "2026-11-21T09:30:00+08:00",
             "channels": ["qr"]}
    unit = {"name": "审批局\x00", "category": "department"}
    cadre = {"name": "李\x00明", "unit_code": "XZ100", "position": "科长"}
    answers = [client.post("/api/v1/events", json=event, headers=key),
               client.put("/api/v1/units/U-NUL", json=unit, headers=key),
               client.put("/api/v1/cadres/C-NUL", json=cadre, headers=key),
               client.get("/api/v1/campaigns/A%00B", headers=key)]
    assert [a.status_code for a in answers] == [422, 422, 422, 404]
    assert "external_id" in answers[0].json["errors"] and "name" in answers[1].json["errors"]
    assert session.scalar(select(func.count()).select_from(ServiceEvent)) == before
    assert session.scalar(select(Unit).where(Unit.code == "U-NUL")) is None
    assert session.scalar(select(Cadre).where(Cadre.code == "C-NUL")) is None


def test_a_campaign_raters_name_with_nul_is_422(client, session, key):
    issue(1)
    body = {"code": "NUL-1", "name": "测评", "template": "democratic_appraisal",
            "period": "2026-Q4", "closes_at": "2099-01-01T00:00:00+08:00",
            "assignments": [{"rater": {"code": "R1", "name": "王\x00"}, "group": "peer",
                             "targets": ["C001"]}]}
    response = client.post("/api/v1/campaigns", json=body, headers=key)
    assert response.status_code == 422
    assert response.json["errors"]["assignments"]["0"]["rater"]["name"]
    assert session.scalar(select(func.count()).select_from(Campaign)) == 0
    assert session.scalar(select(func.count()).select_from(CampaignRater)) == 0


@pytest.mark.parametrize("path", ["/api/v1/invitations/{token}/rating", "/api/v1/events/batch",
                                  "/api/v1/mp/session"])
def test_json_nested_100000_deep_is_422_before_parsing(client, key, path):
    token = issue(1)[0]["token"]
    response = client.post(path.format(token=token), data="[" * 100_000, headers=key,
                           content_type="application/json")
    assert response.status_code == 422 and "嵌套" in response.json["message"]
    assert client.get(f"/api/v1/invitations/{token}").json["status"] == "open"


@pytest.mark.parametrize("opened_at", [-10**15, 10**30, 2**53, 1.5, "1"])
def test_an_implausible_opening_time_is_422_and_the_link_stays_open(client, opened_at):
    token = issue(1)[0]["token"]
    response = client.post(f"/api/v1/invitations/{token}/rating",
                           json={"score": 9, "opened_at": opened_at})
    assert response.status_code == 422 and "opened_at" in response.json["errors"]
    assert client.post(f"/api/v1/invitations/{token}/rating", json={"score": 9}
                       ).status_code == 201


def test_an_event_link_rated_as_a_ballot_with_a_bad_item_is_422(client):
    token = issue(1)[0]["token"]
    response = client.post(f"/api/v1/invitations/{token}/rating", json={
        "score": 9, "ratings": [{"target": "C001", "score": 9}, {"target": "C9", "score": 99}]})
    assert response.status_code == 422 and "ratings" in response.json["errors"]
    assert client.post(f"/api/v1/invitations/{token}/rating", json={"score": 9}
                       ).status_code == 201


def test_a_required_body_is_required(client, key):
    bare = client.post("/api/v1/push/replay", headers=key)
    as_form = client.post("/api/v1/push/replay", headers=key, data={"period": "2026-11"})
    empty_object = client.post("/api/v1/push/replay", headers=key, json={})
    assert (bare.status_code, as_form.status_code, empty_object.status_code) == (422, 415, 200)
    assert bare.json["message"] == "缺少 JSON 请求体"


def test_a_number_of_5000_digits_is_invalid_json(client):
    token = issue(1)[0]["token"]
    response = client.post(f"/api/v1/invitations/{token}/rating", data='{"score": ' + "9" * 5000
                           + "}", content_type="application/json")
    assert response.status_code == 400 and response.json["message"] == "请求体不是有效的 JSON"


@pytest.mark.parametrize(("body", "deep"), [
    (b"[]", False), (b"[" * 32 + b"]" * 32, False), (b"[" * 33 + b"]" * 33, True),
    (b'{"a":' * 33 + b"1" + b"}" * 33, True), (b"[" * 100_000, True),
    (json.dumps({"s": "[" * 1000}).encode(), False), (b"[[1],[2],[3]]" * 20, False),
    (b'["\\"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["]', False),
    (b"[" * 20 + b"{" * 20, True),
])
def test_nesting_is_measured_without_parsing(body, deep):
    assert nesting_exceeds(body) is deep


@pytest.mark.parametrize(("value", "ok"), [
    ("李明", True), ("A B", True), ("A\n", False), ("A\x00", False), (" ", False),
    ("A\u0085", False), ("A\ud800", False), ("a\tb", False),
])
def test_a_line_of_text_is_visible_and_holds_no_control_character(value, ok):
    schema = Schema.from_dict({"name": fields.String(validate=PRINTABLE)})()
    try:
        schema.load({"name": value})
        accepted = True
    except ValidationError:
        accepted = False
    assert accepted is ok


def test_a_code_pattern_must_match_the_whole_value():
    schema = Schema.from_dict({"code": fields.String(validate=CODE)})()
    assert schema.load({"code": "C001"}) == {"code": "C001"}
    with pytest.raises(ValidationError):
        schema.load({"code": "C001\n"})
