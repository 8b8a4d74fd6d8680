"""The campaign API, and a 民主测评 end to end over HTTP: create, print, collect, remind, close."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from backend.models import Campaign, CampaignRater, Delivery, Rating
from backend.services.campaigns.progress import send_reminders
from backend.services.invitations.deliveries import MessageSettings, Senders, relay_due
from backend.wiring import sealer, token_codec, vault
from tests.integration.test_campaigns import PHONES, TEAM, RecordingSms, team
from tests.support.release import release_all

TZ = ZoneInfo("Asia/Shanghai")
SCOPE = "campaigns:write"


@pytest.fixture
def headers(make_key):
    return make_key(SCOPE)


def assignment(code: str, group: str, targets=TEAM, phone: str | None = None) -> dict:
    """Return one assignment of the request body."""
    rater = {"code": code, "name": f"评价人{code}"} | ({"phone": phone} if phone else {})
    return {"rater": rater, "group": group, "targets": list(targets)}


def body(**changes) -> dict:
    """Return the contract's example body: seven raters over a five-person team."""
    closes = (datetime.now(UTC) + timedelta(days=10)).astimezone(TZ).isoformat()
    return {"code": "2026-Q4-XZ", "name": "城关镇领导班子2026年第四季度民主测评",
            "template": "democratic_appraisal", "period": "2026-Q4", "closes_at": closes,
            "assignments": [assignment("S1", "superior", phone=PHONES["S1"]),
                            assignment("L1", "peer", TEAM[:3]),
                            assignment("L2", "peer", TEAM[:3]),
                            assignment("L3", "peer", TEAM[:3]),
                            assignment("B1", "subordinate"),
                            assignment("B2", "subordinate", phone=PHONES["B2"]),
                            assignment("D1", "representative")]} | changes


@pytest.fixture
def created(client, session, headers):
    """Create the standard campaign; return its ballots by rater code."""
    team(session)
    response = client.post("/api/v1/campaigns", json=body(), headers=headers)
    assert response.status_code == 201, response.json
    return {b["rater_code"]: b for b in response.json["ballots"]}


def rate(client, token: str, scores: dict, tags=("作风务实",)):
    """Submit a ballot through the public rating API."""
    ratings = [{"target": code, "score": score, "tags": list(tags) if score else []}
               for code, score in scores.items()]
    return client.post(f"/api/v1/invitations/{token}/rating", json={"ratings": ratings})


def test_create_needs_the_campaigns_scope(client, session, make_key):
    team(session)
    assert client.post("/api/v1/campaigns", json=body()).status_code == 401
    other = make_key("events:write")
    assert client.post("/api/v1/campaigns", json=body(), headers=other).status_code == 403


def test_create_answers_one_ballot_per_rater_and_a_duplicate_code_is_409(client, headers,
                                                                         created):
    assert sorted(created) == ["B1", "B2", "D1", "L1", "L2", "L3", "S1"]
    ballot = created["S1"]
    assert ballot["url"] == f"https://ssp.example.cn/r/{ballot['token']}"
    again = client.post("/api/v1/campaigns", json=body(), headers=headers)
    assert again.status_code == 409 and again.json["code"] == 409


def test_bad_assignments_are_422_naming_item_and_field(client, session, headers):
    team(session)
    bad = body(assignments=[assignment("R1", "peer", ["L1", "NOPE"]),
                            assignment("R2", "alien"), assignment("R1", "peer")])
    response = client.post("/api/v1/campaigns", json=bad, headers=headers)
    assert response.status_code == 422
    errors = response.json["errors"]["assignments"]
    assert "NOPE" in errors["0"]["targets"]
    assert "alien" in errors["1"]["group"]
    assert "第 1 项" in errors["2"]["rater"]["code"]


@pytest.mark.parametrize(("changes", "field"), [
    ({"closes_at": "2020-01-01T00:00:00+08:00"}, "closes_at"),
    ({"assignments": []}, "assignments"),
    ({"period": "2026-13"}, "period"),
    ({"template": "no_such_template"}, "template"),
])
def test_bad_campaigns_are_422_naming_the_field(client, session, headers, changes, field):
    team(session)
    response = client.post("/api/v1/campaigns", json=body(**changes), headers=headers)
    assert response.status_code == 422 and field in response.json["errors"]


def test_ballot_shows_targets_in_order_without_the_rater(client, created):
    shown = client.get(f"/api/v1/invitations/{created['L2']['token']}")
    assert shown.status_code == 200
    assert shown.json["kind"] == "ballot"
    assert [t["code"] for t in shown.json["targets"]] == ["L1", "L3"]
    assert shown.json["template"]["allow_abstain"] is True


def test_ballot_missing_a_target_or_rating_one_twice_is_422(client, created):
    token = created["S1"]["token"]
    missing = rate(client, token, dict.fromkeys(TEAM[:4], 8))
    assert missing.status_code == 422 and "L5" in missing.json["errors"]["ratings"]
    twice = client.post(f"/api/v1/invitations/{token}/rating", json={"ratings": [
        {"target": code, "score": 8} for code in (*TEAM, "L1")]})
    assert twice.status_code == 422 and "两次" in twice.json["errors"]["ratings"]
    assert rate(client, token, dict.fromkeys(TEAM, 8)).status_code == 201


def test_ballot_rating_one_official_twice_names_the_duplicate_not_the_one_left_out(client,
                                                                                  created):
    token = created["S1"]["token"]
    doubled = client.post(f"/api/v1/invitations/{token}/rating", json={"ratings": [
        {"target": code, "score": 8} for code in (*TEAM[:4], TEAM[0])]})
    message = doubled.json["errors"]["ratings"]
    assert doubled.status_code == 422 and f"重复：{TEAM[0]}" in message and "缺少" not in message


def test_ballot_page_header_says_democratic_appraisal(client, created):
    page = client.get(f"/r/{created['S1']['token']}").get_data(as_text=True)
    assert '<span class="brand-sub">民主测评</span>' in page and "政务服务评价" not in page


def test_list_show_extend_and_cancel(client, headers, created):
    listed = client.get("/api/v1/campaigns?status=open", headers=headers)
    assert [c["code"] for c in listed.json["items"]] == ["2026-Q4-XZ"]
    assert listed.json["items"][0]["invited"] == 7
    later = (datetime.now(UTC) + timedelta(days=20)).isoformat()
    extended = client.post("/api/v1/campaigns/2026-Q4-XZ/extend", json={"closes_at": later},
                           headers=headers)
    assert extended.status_code == 200, extended.json
    earlier = client.post("/api/v1/campaigns/2026-Q4-XZ/extend",
                          json={"closes_at": datetime.now(UTC).isoformat()}, headers=headers)
    assert earlier.status_code == 422 and "closes_at" in earlier.json["errors"]
    cancelled = client.post("/api/v1/campaigns/2026-Q4-XZ/cancel", headers=headers)
    assert cancelled.status_code == 200 and cancelled.json["revoked"] == 7
    assert client.get("/api/v1/campaigns/NOPE", headers=headers).status_code == 404
    assert rate(client, created["S1"]["token"], dict.fromkeys(TEAM, 8)).status_code == 410


def test_roster_upload_adds_raters_or_reports_rows(client, headers, created, session):
    good = "评价人编码,姓名,群体,评价对象\nR9,新人,下级,L1、L2\n".encode()
    bad = "评价人编码,姓名,群体,评价对象\nR8,甲,外星人,L1\nS1,乙,上级,L1\n".encode()
    refused = client.post("/api/v1/campaigns/2026-Q4-XZ/roster", headers=headers,
                          data={"file": (io.BytesIO(bad), "bad.csv")})
    assert refused.status_code == 422
    assert set(refused.json["errors"]["rows"]) == {"2", "3"}
    added = client.post("/api/v1/campaigns/2026-Q4-XZ/roster", headers=headers,
                        data={"file": (io.BytesIO(good), "good.csv")})
    assert added.status_code == 200 and added.json["created"] == 1
    assert added.json["ballots"][0]["rater_code"] == "R9"
    assert session.scalar(select(func.count()).select_from(CampaignRater)) == 8


def test_slips_pdf_is_served_for_open_ballots(client, headers, created):
    response = client.get("/api/v1/campaigns/2026-Q4-XZ/slips.pdf", headers=headers)
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert response.data.startswith(b"%PDF") and b"/FontFile2" in response.data
    assert "2026-Q4-XZ-slips.pdf" in response.headers["Content-Disposition"]


def submit_five(client, created) -> None:
    """Five raters answer, one of them abstaining on an official they do not know."""
    assert rate(client, created["S1"]["token"], dict.fromkeys(TEAM, 9)).status_code == 201
    for code in ("L1", "L2", "L3"):
        others = [t for t in TEAM[:3] if t != code]
        assert rate(client, created[code]["token"], dict.fromkeys(others, 8)).status_code == 201
    abstaining = dict.fromkeys(TEAM[:4], 7) | {"L5": None}
    assert rate(client, created["B1"]["token"], abstaining).status_code == 201


def test_an_organisation_department_runs_a_democratic_appraisal_end_to_end(
        client, session, headers, created):
    pdf = client.get("/api/v1/campaigns/2026-Q4-XZ/slips.pdf", headers=headers)
    assert pdf.status_code == 200
    submit_five(client, created)
    assert rate(client, created["S1"]["token"], dict.fromkeys(TEAM, 9)).status_code == 409

    shown = client.get("/api/v1/campaigns/2026-Q4-XZ", headers=headers).json
    assert (shown["invited"], shown["responded"]) == (7, 0)  # answers wait for their batch
    release_all()
    shown = client.get("/api/v1/campaigns/2026-Q4-XZ", headers=headers).json
    assert (shown["invited"], shown["responded"]) == (7, 5)
    groups = shown["groups"]
    assert groups["peer"] == groups["peer"] | {"status": "ok", "invited": 3, "responded": 3,
                                               "rate": 1.0}
    assert groups["subordinate"] == {"status": "insufficient", "invited": 2, "responded": 1,
                                     "min_n": 3}
    assert groups["representative"]["status"] == "insufficient"
    waiting = client.get("/api/v1/campaigns/2026-Q4-XZ/non-responders", headers=headers).json
    assert waiting["items"] == [
        {"rater_code": "D1", "name": "评价人D1", "group": "representative"},
        {"rater_code": "B2", "name": "评价人B2", "group": "subordinate"}]

    campaign = session.scalar(select(Campaign))
    sms = RecordingSms()
    web = client.application
    senders = Senders(token_codec(web), vault(web), MessageSettings("https://ssp.example.cn"),
                      sms=sms, sealer=sealer(web))
    for hours in (25, 49, 73, 97):  # daily runs; max_reminders is 2
        send_reminders(session, sealer(web), vault(web),
                       campaign.created_at + timedelta(hours=hours))
        relay_due(session, senders, campaign.created_at + timedelta(hours=hours))
    assert [phone for phone, _ in sms.sent] == [PHONES["B2"], PHONES["B2"]]  # D1 has no phone

    closed = client.post("/api/v1/campaigns/2026-Q4-XZ/close", headers=headers)
    assert closed.status_code == 200 and closed.json["revoked"] == 2
    assert closed.json["status"] == "closed" and closed.json["accepting"] is False
    late = rate(client, created["B2"]["token"], dict.fromkeys(TEAM, 5))
    assert late.status_code == 410 and late.json["status"] == "revoked"

    by_group = dict(session.execute(select(Rating.rater_group, func.count())
                                    .group_by(Rating.rater_group)).all())
    assert by_group == {"superior": 5, "peer": 6, "subordinate": 4}  # L5 abstention not stored
    assert len(set(session.scalars(select(Rating.batch_at)))) == 1  # one batch, one time
    assert len(set(session.scalars(select(Rating.month)))) == 1
    assert session.scalar(select(func.count()).select_from(Delivery)
                          .where(Delivery.status == "sent")) == 2


def test_campaign_routes_are_documented(client):
    paths = client.get("/api/openapi.json").json["paths"]
    for path in ("/api/v1/campaigns", "/api/v1/campaigns/{code}",
                 "/api/v1/campaigns/{code}/close", "/api/v1/campaigns/{code}/slips.pdf"):
        assert path in paths
