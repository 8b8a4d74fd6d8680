"""Every console route for every role: the allowed and the denied set, and unit scope.

The routes come from the app's url_map, so a new route without an entry in EXPECTED fails.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from flask import url_for

from backend.extensions import db
from backend.models import ApiClient, ConsoleUser
from backend.services.accounts.api_clients import create_client
from tests.console.world import USERS, World, add_evidence_file, csrf_of, https_client, sign_in

READERS = {"org_admin", "unit_admin", "viewer"}
ORG = {"org_admin"}
ORG_READERS = {"org_admin", "viewer"}
WRITERS = {"org_admin", "unit_admin"}
DISCIPLINE = {"discipline"}
AUDITORS = {"auditor"}
EVERYONE = {"org_admin", "unit_admin", "viewer", "auditor", "discipline"}
PUBLIC = {"anonymous", "org_admin", "unit_admin", "viewer", "auditor"}


def page(roles: set[str], *names: str) -> dict[str, set[str]]:
    """Give a page, its export and its JSON twin the same roles."""
    table = {}
    for name in names:
        table.update({f"console.{name}": roles, f"console.{name}_export": roles,
                      f"console.api_{name}": roles})
    return table


EXPECTED: dict[str, set[str]] = {
    "console.login": PUBLIC, "console.logout": PUBLIC,
    **page(READERS, "overview", "units", "unit", "officials", "official", "breakdown",
           "funnel", "campaigns", "campaign", "alerts"),
    **page(READERS | DISCIPLINE, "cases"),
    "console.case": READERS | DISCIPLINE, "console.case_step": WRITERS | DISCIPLINE,
    "console.report_contact": DISCIPLINE,
    "console.case_evidence": READERS | DISCIPLINE,
    "console.case_evidence_upload": WRITERS | DISCIPLINE,
    "console.case_notices_read": READERS | DISCIPLINE,
    "console.case_notices_contact": READERS | DISCIPLINE,
    **page(READERS, "appeals"),
    "console.appeal_file": {"unit_admin"}, "console.appeal_decide": ORG,
    **page(ORG | AUDITORS, "review"), "console.review_item": ORG | AUDITORS,
    "console.review_decide": ORG,
    **page(ORG, "feedback", "non_responders"), "console.unmask": ORG,
    **page(ORG_READERS, "scores"), "console.replay": ORG, "console.scores_publish": ORG,
    "console.scores_replay": ORG, "console.push": ORG_READERS, "console.push_export": ORG_READERS,
    "console.campaign_new": ORG, "console.campaign_roster": ORG, "console.campaign_print": ORG,
    "console.campaign_print_status": ORG, "console.campaign_print_pdf": ORG,
    "console.campaign_action": ORG,
    "console.act": WRITERS, "console.api_act": WRITERS,
    **page(AUDITORS, "audit_trail", "ledger"), "console.audit_verify": AUDITORS,
    "console.ledger_verify": AUDITORS,
    "console.home": EVERYONE, "console.bulk": WRITERS,
    **{f"console.{name}": ORG for name in (
        "directory", "directory_import", "save_unit", "save_official", "transfer_official",
        "official_state", "users", "create_user", "reset_password", "change_role", "user_state",
        "clients", "create_client", "revoke_client")},
    **page(READERS, "official_results", "unit_results"),
    "console.official_report_pdf": READERS, "console.own_link": ORG,
    "console.report_batch_start": READERS, "console.report_batch": READERS,
    "console.report_batch_pdf": READERS,
}


@pytest.fixture
def world(world: World) -> World:
    """The county, its case with one evidence file to fetch."""
    add_evidence_file(world, datetime.now(UTC))
    return world


def console_rules(app) -> list:
    """Return every console rule of the app."""
    return [r for r in app.url_map.iter_rules() if r.endpoint.startswith("console.")]


def url_args(rule, world: World) -> dict:
    """Return values for a rule's arguments, all inside the unit admin's own unit."""
    values = {"unit_id": world.units["XZ100"], "cadre_id": world.cadres["C001"],
              "campaign_id": world.campaign_id, "alert_id": world.alerts["C001"],
              "fmt": "csv", "action": "acknowledge", "case_id": world.case_id, "step": "accept",
              "user_id": other_user(), "client_id": some_client(), "batch_id": world.batch_id,
              "item_id": world.review_id, "decision": "reject", "verdict": "clear",
              "print_id": 1, "file_id": world.evidence_id}
    if rule.endpoint == "console.user_state":
        values["action"] = "disable"
    if rule.endpoint == "console.official_state":
        values["action"] = "deactivate"
    if rule.endpoint == "console.campaign_action":
        values["action"] = "remind"
    return {name: values[name] for name in rule.arguments}


def other_user() -> int:
    """Return the id of a user none of the walks signs in as (a change to it ends no walk)."""
    return db.session.scalar(db.select(ConsoleUser.id).where(ConsoleUser.username == "village"))


def some_client() -> int:
    """Return the id of an API client, creating one the first time."""
    found = db.session.scalar(db.select(ApiClient.id).limit(1))
    return found or create_client(db.session, "walk-client", ["events:write"])[0].id


def form_for(endpoint: str, world: World) -> dict:
    """Return a valid form for a POST route."""
    return {"console.unmask": {"kind": "followup", "id": world.followup_id, "reason": "回访"},
            "console.replay": {"webhook_id": world.dead_webhook},
            "console.own_link": {"period": world.month},
            "console.report_batch_start": {"period": world.month}}.get(endpoint, {})


def client_for(app, role: str):
    """Return a client signed in as the role (anonymous: only a CSRF token in session)."""
    client = https_client(app)
    if role != "anonymous":
        assert sign_in(client, USERS[role]).status_code == 302
    return client


def token_of(client) -> str:
    """Return a CSRF token of the client's session from the first page showing a form."""
    for path in ("/console/login", "/console/", "/console/audit"):
        response = client.get(path)
        if response.status_code == 200:
            return csrf_of(response.get_data(as_text=True))
    raise AssertionError("no page with a form")


def call(client, rule, world: World, method: str):
    """Request a rule with valid arguments (and a form token for POST)."""
    with client.application.test_request_context():
        path = url_for(rule.endpoint, **url_args(rule, world))
    if method == "GET":
        return client.get(path)
    token = token_of(client)
    return client.post(path, data={"csrf_token": token, **form_for(rule.endpoint, world)},
                       headers={"X-CSRFToken": token})


def outcome(response, rule) -> str:
    """Classify a response: allowed, denied (403), login (redirect or 401), missing."""
    if response.status_code == 403:
        return "denied"
    if rule.endpoint == "console.login":  # a refused sign-in (401) is the route working
        return "allowed" if response.status_code < 500 else "error"
    if response.status_code == 401 or (response.status_code == 302 and "/console/login" in
                                       response.headers["Location"]
                                       and rule.endpoint != "console.logout"):
        return "login"
    assert response.status_code < 500, response.get_data(as_text=True)[:500]
    return "missing" if response.status_code == 404 else "allowed"


def test_every_console_route_has_an_expected_access_entry(app):
    assert {r.endpoint for r in console_rules(app)} == set(EXPECTED)


def test_the_view_guards_match_the_expected_table(app):
    from backend.console.access import access_table

    for endpoint, roles in access_table(app).items():
        if roles is None:
            assert EXPECTED[endpoint] == PUBLIC
        else:
            assert set(roles) == EXPECTED[endpoint], endpoint


@pytest.mark.parametrize("role", ["anonymous", "org_admin", "unit_admin", "viewer", "auditor"])
def test_each_role_reaches_exactly_its_routes(app, world, role):
    client = client_for(app, role)
    seen = {}
    for rule in console_rules(app):
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            if rule.endpoint == "console.logout":
                continue  # it would end the session the walk uses; checked below
            seen[(rule.endpoint, method)] = outcome(call(client, rule, world, method), rule)
    for (endpoint, method), result in seen.items():
        allowed = role in EXPECTED[endpoint]
        expected = "allowed" if allowed else ("login" if role == "anonymous" else "denied")
        assert result == expected, (endpoint, method, role)


def test_signing_out_ends_the_session(app, world):
    client = client_for(app, "org_admin")
    token = csrf_of(client.get("/console/").get_data(as_text=True))
    assert client.post("/console/logout", data={"csrf_token": token}).status_code == 302
    assert client.get("/console/").status_code == 302


def other_unit_urls(world: World) -> list[str]:
    """Return URLs of everything belonging to 青山乡 (not the unit admin's subtree)."""
    unit, cadre = world.units["XZ101"], world.cadres["C002"]
    return [f"/console/units/{unit}", f"/console/units/{unit}/export.csv",
            f"/console/api/units/{unit}", f"/console/officials/{cadre}",
            f"/console/officials/{cadre}/export.xlsx", f"/console/api/officials/{cadre}",
            f"/console/?unit={unit}", f"/console/units?unit={unit}",
            f"/console/officials?unit={unit}", f"/console/breakdown?unit={unit}",
            f"/console/funnel?unit={unit}", f"/console/alerts?unit={unit}",
            f"/console/export.xlsx?unit={unit}", f"/console/api/overview?unit={unit}",
            f"/console/units/{world.units['XZ000']}", "/console/units/999999",
            f"/console/officials/{cadre}/results", f"/console/api/officials/{cadre}/results",
            f"/console/officials/{cadre}/results/export.csv",
            f"/console/officials/{cadre}/report.pdf", f"/console/units/{unit}/results",
            f"/console/api/units/{unit}/results?sub=1",
            f"/console/report-batches/{world.other_batch_id}",
            f"/console/report-batches/{world.other_batch_id}/report.pdf",
            f"/console/appeals?unit={unit}", f"/console/api/appeals?unit={unit}"]


def test_unit_admin_gets_404_for_another_units_pages(signed_in, world):
    client = signed_in("unit_admin")
    for url in other_unit_urls(world):
        assert client.get(url).status_code == 404, url


def test_unit_admin_cannot_act_on_another_units_or_system_alerts(signed_in, world):
    client = signed_in("unit_admin")
    token = csrf_of(client.get("/console/alerts").get_data(as_text=True))
    for alert in (world.alerts["C002"], world.alerts["system"]):
        response = client.post(f"/console/alerts/{alert}/acknowledge",
                               data={"csrf_token": token})
        assert response.status_code == 404
        response = client.post(f"/console/api/alerts/{alert}/resolve",
                               headers={"X-CSRFToken": token})
        assert response.status_code == 404
        assert response.get_json()["code"] == 404


def test_unit_admin_pages_never_name_another_unit_or_its_officials(signed_in, world):
    client = signed_in("unit_admin")
    for url in ("/console/", "/console/units", "/console/officials", "/console/breakdown",
                "/console/funnel", "/console/campaigns", "/console/alerts?state=",
                "/console/api/overview", "/console/units/export.csv",
                "/console/alerts/export.csv?state="):
        text = client.get(url).get_data(as_text=True)
        for name in ("青山乡", "县行政审批服务局", "李国华", "推送多次失败"):
            assert name not in text, (url, name)
    own = client.get("/console/units").get_data(as_text=True)
    assert "城关镇人民政府" in own and "城关镇东街社区" in own


def test_unit_admin_sees_only_campaigns_rating_its_officials(app, world):
    village = client_for(app, "anonymous")
    assert sign_in(village, "village").status_code == 302
    assert "城关镇班子民主测评" not in village.get("/console/campaigns").get_data(as_text=True)
    assert village.get(f"/console/campaigns/{world.campaign_id}").status_code == 404
    town = client_for(app, "unit_admin")
    assert "城关镇班子民主测评" in town.get("/console/campaigns").get_data(as_text=True)


def test_auditor_sees_only_the_audit_pages_in_the_navigation(signed_in):
    text = signed_in("auditor").get("/console/audit").get_data(as_text=True)
    assert "查询留痕" in text and "评价账本" in text and "防刷复核" in text
    assert "监测总览" not in text and "告警" not in text and "申诉复核" not in text


def test_api_without_session_answers_401_json(app, world):
    response = https_client(app).get("/console/api/overview")
    assert response.status_code == 401
    assert response.get_json() == {"code": 401, "message": "请先登录"}


def test_unit_admin_scope_is_its_unit_and_everything_below(world):
    from sqlalchemy import select

    from backend.extensions import db
    from backend.models import ConsoleUser
    from backend.services.reports.scope import user_scope

    def scope_of(name: str):
        user = db.session.scalar(select(ConsoleUser).filter_by(username=name))
        return user_scope(db.session, user).units

    assert scope_of(USERS["unit_admin"]) == {world.units["XZ100"], world.units["XZ400"]}
    assert scope_of(USERS["org_admin"]) is None and scope_of(USERS["viewer"]) is None
