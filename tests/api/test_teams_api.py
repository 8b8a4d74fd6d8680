"""Leadership teams over HTTP: named in campaigns, shown on ballots, refused everywhere else."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from backend.models import Cadre, ServiceEvent
from tests.integration.test_teams import TZ, township

OCCURRED = (datetime.now(UTC) - timedelta(hours=1)).isoformat()


def campaign_body(*targets: str, code: str = "2026-Q4-BZ") -> dict:
    """Return a campaign whose one superior rates the targets."""
    closes = (datetime.now(UTC) + timedelta(days=10)).astimezone(TZ).isoformat()
    return {"code": code, "name": "城关镇领导班子民主测评", "template": "democratic_appraisal",
            "period": "2026-Q4", "closes_at": closes,
            "assignments": [{"rater": {"code": "S1", "name": "评价人"}, "group": "superior",
                             "targets": list(targets)}]}


def event(cadre_code: str, external_id: str = "SP-1") -> dict:
    """Return a service event rating a target."""
    return {"source": "approval-system", "external_id": external_id, "cadre_code": cadre_code,
            "event_type": "approval", "occurred_at": OCCURRED,
            "recipient": {"phone": "13800138000"}, "channels": ["qr"]}


@pytest.fixture
def ballot(client, session, make_key) -> dict:
    """Create a campaign rating the team of XZ100 and official G1; return its ballot."""
    township(session)
    created = client.post("/api/v1/campaigns", json=campaign_body("班子:XZ100", "G1"),
                          headers=make_key("campaigns:write"))
    assert created.status_code == 201, created.json
    return created.json["ballots"][0]


def test_the_ballot_shows_the_team_and_takes_its_rating(client, ballot):
    shown = client.get(f"/api/v1/invitations/{ballot['token']}").json
    assert shown["targets"][0] == {"code": "T-XZ100", "name": "城关镇领导班子", "unit": "城关镇",
                                   "position": "领导班子", "kind": "team"}
    assert shown["targets"][1]["kind"] == "official"
    page = client.get(f"/r/{ballot['token']}").get_data(as_text=True)
    assert "城关镇领导班子" in page and "被评价领导班子" in page
    rated = client.post(f"/api/v1/invitations/{ballot['token']}/rating", json={"ratings": [
        {"target": "T-XZ100", "score": 9, "tags": []}, {"target": "G1", "score": 8}]})
    assert rated.status_code == 201, rated.json


@pytest.mark.parametrize("target", ["T-XZ100", "team:XZ100", "班子:XZ100"])
def test_a_service_event_cannot_rate_a_team(client, session, ballot, make_key, target):
    key = make_key("events:write", sources=["approval-system"])
    refused = client.post("/api/v1/events", json=event(target), headers=key)
    assert refused.status_code == 422
    assert "cadre_code" in refused.json["errors"]
    assert all("\u4e00" <= ch <= "\u9fff" for ch in refused.json["message"][:2])
    batch = client.post("/api/v1/events/batch",
                        json={"events": [event(target), event("G1", "SP-2")]}, headers=key)
    assert [r["status"] for r in batch.json["results"]] == [422, 201]
    assert session.scalar(select(func.count()).select_from(ServiceEvent)) == 1


def test_the_team_refusal_names_why(client, ballot, make_key):
    key = make_key("events:write", sources=["approval-system"])
    refused = client.post("/api/v1/events", json=event("T-XZ100"), headers=key)
    assert "领导班子只在民主测评中评价" in refused.json["errors"]["cadre_code"]


def test_the_directory_api_cannot_edit_a_team_or_take_a_team_code(client, session, ballot,
                                                                   make_key):
    key = make_key("directory:write")
    body = {"name": "冒名", "unit_code": "XZ100", "position": "干部"}
    edited = client.put("/api/v1/cadres/T-XZ100", json=body, headers=key)
    assert edited.status_code == 422 and "领导班子" in edited.json["errors"]["code"]
    taken = client.put("/api/v1/cadres/T-XZ200", json={**body, "unit_code": "XZ200"}, headers=key)
    assert taken.status_code == 422 and "留给单位" in taken.json["errors"]["code"]
    team = session.scalar(select(Cadre).where(Cadre.code == "T-XZ100"))
    assert (team.name, team.kind) == ("城关镇领导班子", "team")
    assert session.scalar(select(func.count()).select_from(Cadre)
                          .where(Cadre.code == "T-XZ200")) == 0


@pytest.mark.parametrize(("target", "expected"), [
    ("team:NOPE", "单位不存在：NOPE"),
    ("team:<b>x</b>", "评价对象应为干部编码"),
    ("team:", "评价对象应为干部编码"),
    ("班子:XZ100:XZ200", "评价对象应为干部编码"),
])
def test_bad_team_targets_are_422_in_chinese(client, session, make_key, target, expected):
    township(session)
    refused = client.post("/api/v1/campaigns", json=campaign_body(target),
                          headers=make_key("campaigns:write"))
    assert refused.status_code == 422
    assert expected in str(refused.json["errors"])
    assert session.scalar(select(func.count()).select_from(Cadre)
                          .where(Cadre.kind == "team")) == 0


def test_a_duplicate_team_under_two_spellings_is_named(client, session, make_key):
    township(session)
    refused = client.post("/api/v1/campaigns", json=campaign_body("team:XZ100", "T-XZ100"),
                          headers=make_key("campaigns:write"))
    assert refused.status_code == 422
    assert "评价对象重复：T-XZ100（team:XZ100、T-XZ100）" in str(refused.json["errors"])
