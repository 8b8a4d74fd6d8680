"""Every route of the URL map, given what an attacker sends: never a server error.

The walk reads the application's url_map, so a new route is covered by itself. Each path
parameter and each query parameter (those the OpenAPI document names, the console's filters,
and names meant to collide with path arguments or url_for's own) gets every hostile value of
tests/support/hostile.py, as every console role; each JSON body gets every field replaced by
every hostile JSON value, and hostile raw bodies; each form gets hostile fields. Every answer
must be below 500. Refused ratings must leave their link open for a valid one.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import ClassVar
from zoneinfo import ZoneInfo

import pytest
from flask import Flask, request
from sqlalchemy import select
from werkzeug.datastructures import ImmutableMultiDict

from backend.console.filters import FILTERS
from backend.extensions import db
from backend.models import Campaign
from backend.models.clients import SCOPES
from tests.console.world import (
    USERS,
    add_evidence_file,
    build_world,
    csrf_of,
    https_client,
    sign_in,
)
from tests.fakes import FakeWeChat
from tests.support.hostile import (
    QUERY_VALUES,
    TEXT_VALUES,
    Errors,
    body_mutations,
    encode,
    quoted,
)

pytestmark = pytest.mark.slow
TZ = ZoneInfo("Asia/Shanghai")
ROLES = ("anonymous", "org_admin", "unit_admin", "viewer", "auditor")
ARGUMENT = re.compile(r"<(?:[^<>]*:)?(\w+)>")
# Names that collide with path arguments, with url_for's own keywords, or mean nothing.
EXTRA_QUERY = ("fmt", "next", "_external", "_scheme", "_anchor", "unit_id", "cadre_id",
               "campaign_id", "token", "code", "x")
DEEP_ROLES = ("anonymous", "org_admin", "unit_admin", "auditor")  # unscoped, scoped, audit
SKIPPED = {"console.logout"}  # ends the walking session; its form is walked on its own


@dataclass
class Target:
    """The app under attack and the valid values its routes need."""

    app: Flask
    api: dict[str, str]
    world: object
    campaign_code: str
    receipt: str = ""
    mp_token: str = ""
    clients: dict = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)

    def csrf(self, role: str) -> str:
        """Return a CSRF token of the role's session (read once from a page with a form)."""
        if role not in self.tokens:
            self.tokens[role] = ""
            for page in ("/console/login", "/console/", "/console/audit"):
                html = self.clients[role].get(page).get_data(as_text=True)
                if 'name="csrf_token"' in html:
                    self.tokens[role] = csrf_of(html)
                    break
        return self.tokens[role]

    def fresh_token(self) -> str:
        """Report a service event through the API; return its link's token."""
        client = self.app.test_client()
        body = event_body(f"HOSTILE-{datetime.now(UTC).timestamp()}")
        response = client.post("/api/v1/events", json=body, headers=self.api)
        assert response.status_code == 201, response.get_data(as_text=True)
        return response.json["invitation"]["token"]


def event_body(external_id: str = "HOSTILE-1") -> dict:
    """Return a valid service event of the API client's own source."""
    occurred = (datetime.now(UTC) - timedelta(hours=1)).astimezone(TZ).isoformat()
    return {"source": "hostile", "external_id": external_id, "cadre_code": "C001",
            "event_type": "approval", "occurred_at": occurred,
            "recipient": {"phone": "13800138000", "openid": "o_hostile"},
            "channels": ["sms", "qr"]}


def campaign_body() -> dict:
    """Return a valid campaign over two officials of the demo county."""
    closes = (datetime.now(UTC) + timedelta(days=5)).astimezone(TZ).isoformat()
    return {"code": "HOSTILE-C", "name": "测评", "template": "democratic_appraisal",
            "period": "2026-Q4", "closes_at": closes, "max_reminders": 1,
            "assignments": [{"rater": {"code": "R1", "name": "评价人", "phone": "13800138001"},
                             "group": "peer", "targets": ["C001", "C002"]}]}


def rating_body() -> dict:
    """Return a valid rating of an event link."""
    return {"score": 9, "tags": ["热情周到"], "comment": "很好",
            "followup": {"consent": True, "phone": "13800138000"}, "opened_at": 1}


BODIES = {
    ("PUT", "/api/v1/units/<string:code>"): {"name": "某单位", "category": "township",
                                             "parent_code": None},
    ("PUT", "/api/v1/cadres/<string:code>"): {"name": "张三", "unit_code": "XZ100",
                                              "position": "科员"},
    ("POST", "/api/v1/events"): event_body(),
    ("POST", "/api/v1/events/batch"): {"events": [event_body("HOSTILE-B")]},
    ("POST", "/api/v1/campaigns"): campaign_body(),
    ("POST", "/api/v1/campaigns/<string:code>/extend"): {
        "closes_at": (datetime.now(UTC) + timedelta(days=30)).isoformat()},
    ("POST", "/api/v1/invitations/<string:token>/rating"): rating_body(),
    ("POST", "/api/v1/mp/session"): {"code": "no-such-code"},
    ("POST", "/api/v1/mp/subscriptions"): {"accepted": ["tmpl-1"]},
    ("POST", "/api/v1/scores/publish"): {"period": "2026-11"},
    ("POST", "/api/v1/push/replay"): {"period": "2026-11"},
    ("POST", "/api/v1/receipts/<string:receipt>/verdict"): {"verdict": "satisfied"},
    ("POST", "/api/v1/receipts/<string:receipt>/reports"): {"kind": "other", "text": "情况"},
}
RATING = ("POST", "/api/v1/invitations/<string:token>/rating")


@pytest.fixture
def wechat():
    with FakeWeChat(appid="wx_hostile", secret="hostile-secret") as fake:
        yield fake


@pytest.fixture
def target(make_app, wechat) -> Iterator[Target]:
    """Build the county, an API key of every scope, a mini-program session and a receipt."""
    app = make_app(WECHAT_API_BASE=wechat.base_url, WECHAT_APPID=wechat.appid,
                   WECHAT_SECRET=wechat.secret)
    with app.app_context():
        world = build_world(datetime.now(UTC))
        add_evidence_file(world, datetime.now(UTC))
        from backend.services.accounts.api_clients import create_client

        _, key = create_client(db.session, "hostile", list(SCOPES), ["hostile"])
        code = db.session.scalar(select(Campaign.code))
        db.session.commit()
        found = Target(app, {"Authorization": f"Bearer {key}"}, world, code)
        client = app.test_client()
        response = client.post(f"/api/v1/invitations/{found.fresh_token()}/rating",
                               json=rating_body())
        found.receipt = response.json["receipt"]
        login = client.post("/api/v1/mp/session",
                            json={"code": wechat.issue_login_code("o_hostile")})
        found.mp_token = login.json["session_token"]
        found.clients = {role: role_client(app, role) for role in ROLES}
        for role in ROLES:
            found.csrf(role)
        yield found
        wechat_client = app.extensions.get("wiring", {}).get("wechat")
        if wechat_client is not None:
            wechat_client.close()


def role_client(app: Flask, role: str):
    """Return a client signed in as the role (anonymous: none)."""
    client = https_client(app)
    if role != "anonymous":
        assert sign_in(client, USERS[role]).status_code == 302
    return client


def valid_arguments(target: Target, rule) -> dict[str, str]:
    """Return valid values for a rule's path arguments."""
    world = target.world
    code = {"directory.UnitResource": "XZ100", "directory.CadreResource": "C001"}.get(
        rule.endpoint, target.campaign_code)
    values = {"unit_id": world.units["XZ100"], "cadre_id": world.cadres["C001"],
              "campaign_id": world.campaign_id, "alert_id": world.alerts["C001"],
              "fmt": "csv", "action": "acknowledge", "code": code, "key": "service_event",
              "receipt": target.receipt, "case_id": 1, "step": "accept", "print_id": 1,
              "user_id": 1, "client_id": 1,
              "item_id": world.review_id, "decision": "reject", "verdict": "clear",
              "batch_id": world.batch_id, "file_id": world.evidence_id,
              "filename": "swagger-ui.css" if rule.endpoint == "ops.docs_asset" else "rating.css"}
    return {name: str(values[name]) for name in rule.arguments if name != "token"}


def path_of(rule, values: dict[str, str]) -> str:
    """Fill a rule's arguments with already-quoted values."""
    return ARGUMENT.sub(lambda m: values[m.group(1)], rule.rule)


def methods(rule) -> list[str]:
    """Return the methods a rule answers (HEAD and OPTIONS aside)."""
    return sorted(rule.methods - {"HEAD", "OPTIONS"})


def roles_for(target: Target, rule) -> tuple[str, ...]:
    """Return the roles a rule is walked as: every role for console pages behind sign-in."""
    view = target.app.view_functions[rule.endpoint]
    return ROLES if getattr(view, "console_roles", None) else ("anonymous",)


def send(target: Target, role: str, method: str, path: str, rule, query: str = ""):
    """Send one request as a role, with a valid body and credentials for the rule."""
    client = target.clients[role]
    kwargs: dict = {"query_string": query}
    if path.startswith("/api/"):
        token = target.mp_token if rule.endpoint == "mp.SubscriptionsResource" else None
        kwargs["headers"] = ({"Authorization": f"Bearer {token}"} if token else target.api)
    body = BODIES.get((method, rule.rule))
    if body is not None:
        kwargs.update(data=encode(body), content_type="application/json")
    elif rule.endpoint == "campaigns.Roster":
        kwargs.update(data={"file": (io.BytesIO(b"code,name,group,targets\n"), "r.csv")})
    elif method == "POST" and not path.startswith("/api/"):
        kwargs.update(data={"csrf_token": target.csrf(role)})
    return client.open(path, method=method, **kwargs)


def rules(app: Flask) -> list:
    """Return every rule of the app but the skipped ones."""
    return [r for r in app.url_map.iter_rules() if r.endpoint not in SKIPPED]


def test_every_path_parameter_answers_hostile_values_below_500(target):
    errors = Errors()
    for rule in rules(target.app):
        valid = {k: quoted(v) for k, v in valid_arguments(target, rule).items()}
        valid["token"] = quoted(target.fresh_token()) if "token" in rule.arguments else ""
        for name in rule.arguments:
            for value in TEXT_VALUES:
                path = path_of(rule, {**valid, name: quoted(value)})
                for role in roles_for(target, rule):
                    for method in methods(rule):
                        errors.check(send(target, role, method, path, rule),
                                     f"{role} {method} {path[:120]}")
    errors.assert_none(minimum=2000)


def documented_query(app: Flask) -> dict[tuple[str, str], list[str]]:
    """Return the query parameters the OpenAPI document names, by (method, rule)."""
    document = app.test_client().get("/api/openapi.json").json
    found = {}
    for path, operations in document["paths"].items():
        rule = re.sub(r"\{(\w+)\}", r"<string:\1>", path)
        for method, operation in operations.items():
            if isinstance(operation, dict) and "responses" in operation:
                found[(method.upper(), rule)] = [p["name"] for p in operation.get("parameters", [])
                                                 if p["in"] == "query"]
    return found


class ReadArguments(ImmutableMultiDict):
    """A request's query arguments that note which names the application reads."""

    read: ClassVar[set[str]] = set()

    def __getitem__(self, key):
        self.read.add(key)
        return super().__getitem__(key)

    def get(self, key, default=None, type=None):
        self.read.add(key)
        return super().get(key, default, type)

    def getlist(self, key, type=None):
        self.read.add(key)
        return super().getlist(key, type)

    def __contains__(self, key) -> bool:
        self.read.add(key)
        return super().__contains__(key)


def note_reads(app: Flask) -> set[str]:
    """Make the app's requests note the query names they read; return the shared set."""
    def install() -> None:
        request.__dict__["args"] = ReadArguments(request.args)

    app.before_request_funcs.setdefault(None, []).insert(0, install)
    return ReadArguments.read


def is_twin(rule) -> bool:
    """Tell whether a console rule is the export or JSON twin of a page."""
    return rule.endpoint.endswith("_export") or rule.endpoint.startswith("console.api_")


def attacked_names(target: Target, rule, method: str, role: str, path: str,
                   documented: dict) -> tuple[list[str], list[str]]:
    """Return (names walked one by one, names sent together) for a rule as a role.

    One by one: the names the document gives, and those the view reads (a plain request
    tells which) when the view is a page's own (its export and JSON twins build the same
    page) and the role has a scope of its own. Together: every name.
    """
    reads = ReadArguments.read
    reads.clear()
    send(target, role, method, path, rule).close()
    one_by_one = list(documented.get((method, rule.rule), []))
    if role in DEEP_ROLES and not is_twin(rule):
        one_by_one += sorted(reads - set(one_by_one))
    together = sorted({*one_by_one, *reads, *EXTRA_QUERY,
                       *(FILTERS if rule.endpoint.startswith("console.") else ())})
    return one_by_one, together


def test_every_query_parameter_answers_hostile_values_below_500(target):
    errors, documented = Errors(), documented_query(target.app)
    note_reads(target.app)
    token = quoted(target.fresh_token())
    for rule in rules(target.app):
        path = path_of(rule, {**{k: quoted(v) for k, v in valid_arguments(target, rule).items()},
                              "token": token})
        for method in methods(rule):
            for role in roles_for(target, rule):
                one_by_one, together = attacked_names(target, rule, method, role, path,
                                                      documented)
                for value in QUERY_VALUES:
                    queries = [f"{n}={quoted(value)}" for n in one_by_one]
                    queries.append("&".join(f"{n}={quoted(value)}" for n in together))
                    for query in queries:
                        errors.check(send(target, role, method, path, rule, query),
                                     f"{role} {method} {path[:80]}?{query[:80]}")
    errors.assert_none(minimum=3000)


def body_operations(app: Flask) -> list:
    """Return (method, rule) of every operation taking a JSON body, with its rule."""
    by_rule = {r.rule: r for r in app.url_map.iter_rules()}
    return [(method, by_rule[rule]) for method, rule in BODIES]


def test_every_documented_json_body_has_a_valid_example_here(target):
    document = target.app.test_client().get("/api/openapi.json").json
    with_body = {(method.upper(), re.sub(r"\{(\w+)\}", r"<string:\1>", path))
                 for path, operations in document["paths"].items()
                 for method, operation in operations.items() if method != "parameters"
                 if "application/json" in operation.get("requestBody", {}).get("content", {})}
    assert with_body == set(BODIES)


def test_every_json_body_answers_hostile_content_below_500(target):
    errors = Errors()
    for method, rule in body_operations(target.app):
        token = target.fresh_token()
        for label, body in body_mutations(BODIES[(method, rule.rule)]):
            path = path_of(rule, {**{k: quoted(v) for k, v in
                                     valid_arguments(target, rule).items()}, "token": token})
            response = post_raw(target, method, path, rule, body)
            errors.check(response, f"{method} {path[:70]} {label}")
            if (method, rule.rule) == RATING and response.status_code == 201:
                token = target.fresh_token()  # a mutation that is still valid used the link
        if (method, rule.rule) == RATING:
            assert_still_open(target, token)
    errors.assert_none(minimum=1000)


def post_raw(target: Target, method: str, path: str, rule, body: bytes):
    """Send raw bytes as a JSON body with the rule's credentials."""
    token = target.mp_token if rule.endpoint == "mp.SubscriptionsResource" else None
    headers = {"Authorization": f"Bearer {token}"} if token else target.api
    return target.clients["anonymous"].open(path, method=method, data=body, headers=headers,
                                           content_type="application/json")


def assert_still_open(target: Target, token: str) -> None:
    """Check over HTTP that a link only ever refused is open and takes a valid rating."""
    client = target.app.test_client()
    shown = client.get(f"/api/v1/invitations/{token}")
    assert shown.status_code == 200 and shown.json["status"] == "open", shown.json
    rated = client.post(f"/api/v1/invitations/{token}/rating", json=rating_body())
    assert rated.status_code == 201, rated.json


FORM_TYPE = "application/x-www-form-urlencoded"
FORMS = {
    "console.login": {"username": "org", "password": "wrong-password-1"},
    "console.unmask": {"kind": "followup", "id": "1", "reason": "回访", "next": "/console/"},
    "console.replay": {"webhook_id": "msg_" + "0" * 32},
    "console.act": {"next": "/console/alerts"},
    "console.api_act": {},
    "console.logout": {},
}


def form_fields(target: Target, rule, token: str) -> dict[str, str]:
    """Return a valid form for a console or rating-page POST route."""
    if rule.endpoint in FORMS:
        return dict(FORMS[rule.endpoint])
    html = target.clients["anonymous"].get(f"/r/{token}").get_data(as_text=True)
    names = set(re.findall(r'name="([^"]+)"', html)) - {"csrf_token"}
    return {name: "9" if name.startswith("score-") else "" for name in names}


def form_encoded(form: dict[str, str]) -> str:
    """Encode a form by hand, so lone surrogates go out as the bytes a browser could send."""
    return "&".join(f"{quoted(name)}={quoted(value)}" for name, value in form.items())


def form_roles(target: Target, rule) -> tuple[str, ...]:
    """Return the roles a form is sent as: the first that may use it, or anonymous."""
    allowed = getattr(target.app.view_functions[rule.endpoint], "console_roles", None)
    return tuple(r for r in ROLES if r in (allowed or ("anonymous",)))[:1]


def test_every_form_field_answers_hostile_values_below_500(target):
    errors, token = Errors(), target.fresh_token()
    posts = [r for r in target.app.url_map.iter_rules() if "POST" in r.methods
             and not r.rule.startswith("/api/") and r.endpoint != "console.logout"]
    for rule in posts:
        valid = form_fields(target, rule, token)
        path = path_of(rule, {**{k: quoted(v) for k, v in valid_arguments(target, rule).items()},
                              "token": quoted(token)})
        for role in form_roles(target, rule):
            client = target.clients[role]
            for name in [*valid, "csrf_token", "__unknown__"]:
                for value in QUERY_VALUES:
                    form = {**valid, "csrf_token": target.csrf(role), name: value}
                    response = client.post(path, data=form_encoded(form), headers={
                        "X-CSRFToken": target.csrf(role)}, content_type=FORM_TYPE)
                    if rule.endpoint == "rating.submit" and response.status_code == 200:
                        token = target.fresh_token()
                        path = path_of(rule, {"token": quoted(token)})
                    errors.check(response, f"{role} POST {path[:70]} {name}={value[:20]!r}")
    assert_still_open(target, token)
    errors.assert_none(minimum=300)
