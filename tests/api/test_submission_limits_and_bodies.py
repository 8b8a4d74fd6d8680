"""The submission endpoints count their own limits and read their own bodies.

POST /api/v1/invitations/{token}/rating and POST /r/{token} are served without Flask-Limiter's
decorator and flask-smorest's argument parsing. Played as an attacker would, nothing differs:
the same limits per link and address and per guessing address (shared with the endpoints
Flask-Limiter still serves), the same 429 with Retry-After, in memory, in Redis and with the
storage down; the same 422 (and 400, 415) for every hostile body as the ordinary
`@blp.arguments` parsing gives; and the same OpenAPI description as the decorators doing
their work would produce.
"""

from __future__ import annotations

import json
import uuid

import pytest
from flask import Flask
from flask.views import MethodView
from flask_smorest import Api
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backend import http_errors
from backend.api.mp_auth import OPTIONAL_MP_SECURITY
from backend.api.openapi import OperationIds
from backend.api.parsing import Blueprint
from backend.app import openapi_settings
from backend.extensions import limiter
from backend.schemas.ratings import (
    TOKEN_PATH,
    ClosedInvitationSchema,
    RatingSubmissionSchema,
    ReceiptSchema,
)
from tests.support.invitations import issue

LIMIT = 3
BUSY = {"code": 429, "message": "请求过于频繁，请稍后再试"}
DEAD_REDIS = "redis://127.0.0.1:1/0"  # nothing listens on port 1
RATING_PATH = "/api/v1/invitations/{token}/rating"


def forged(n: int) -> str:
    """Return a well-formed token whose signature does not verify, one per n."""
    return f"{n:020d}." + "y" * 27


def address() -> str:
    """Return an address no other test has used (Redis keeps counts between tests)."""
    number = uuid.uuid4().int
    return f"10.{number % 250}.{number // 250 % 250}.{number // 62500 % 250 + 1}"


def client_at(app, remote: str):
    """Return a test client whose requests come from `remote`."""
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = remote
    return client


@pytest.fixture(params=["memory", "redis"])
def limited(request, make_app):
    """An app allowing LIMIT requests per key and minute, counted in memory or in Redis."""
    storage = "memory://" if request.param == "memory" else request.getfixturevalue("redis_url")
    app = make_app(RATELIMIT_PUBLIC=f"{LIMIT}/minute", RATELIMIT_STORAGE_URI=storage)
    with app.app_context():
        limiter.reset()
    return app


def rate(client, token: str, body=None):
    """Post a rating through the API."""
    return client.post(RATING_PATH.format(token=token), json=body or {"score": 9})


def assert_busy(response) -> int:
    """Check a 429 is the one every limited endpoint gives; return its Retry-After."""
    assert response.status_code == 429, response.get_data(as_text=True)
    seconds = int(response.headers["Retry-After"])
    assert 1 <= seconds <= 61  # Flask-Limiter rounds the window's end up a second
    return seconds


def test_the_api_refuses_a_link_and_address_past_the_limit(limited):
    first, second = issue(2, prefix=f"L{uuid.uuid4().hex[:6]}")
    here = client_at(limited, address())
    statuses = [rate(here, first["token"]).status_code for _ in range(LIMIT)]
    assert statuses == [201] + [409] * (LIMIT - 1)
    refused = rate(here, first["token"])
    assert_busy(refused)
    assert refused.json == BUSY and refused.mimetype == "application/json"
    assert rate(here, first["token"], body={"score": "x"}).status_code == 429  # before parsing
    # The same link from another address, and another link from this one, are not refused.
    assert rate(client_at(limited, address()), first["token"]).status_code == 409
    assert rate(here, second["token"]).status_code == 201


def test_guessing_through_the_api_spends_the_budget_the_other_endpoints_share(limited):
    guesser = client_at(limited, address())
    assert [rate(guesser, forged(n)).status_code for n in range(LIMIT)] == [404] * LIMIT
    by_api = guesser.post(RATING_PATH.format(token=forged(99)), json={"score": 9})
    by_page = guesser.get(f"/r/{forged(98)}")  # still served by Flask-Limiter's decorator
    by_read = guesser.get(f"/api/v1/invitations/{forged(97)}")
    assert abs(assert_busy(by_api) - assert_busy(by_read)) <= 1
    assert_busy(by_page)
    assert by_api.json == by_read.json == BUSY
    # And the other way round: guesses on the pages leave the submission nothing.
    other = client_at(limited, address())
    assert [other.get(f"/r/{forged(n)}").status_code for n in range(LIMIT)] == [404] * LIMIT
    assert_busy(rate(other, forged(50)))
    assert rate(client_at(limited, address()), forged(51)).status_code == 404


def test_the_form_refuses_a_link_and_address_past_the_limit(limited):
    import re

    (link,) = issue(1, prefix=f"F{uuid.uuid4().hex[:6]}")
    here = client_at(limited, address())
    html = here.get(f"/r/{link['token']}").get_data(as_text=True)
    hidden = dict(re.findall(r'<input type="hidden" name="([^"]+)"[^>]*?value="([^"]*)"', html))
    form = {**hidden, "score-C001": "9"}
    statuses = [here.post(f"/r/{link['token']}", data=form).status_code for _ in range(LIMIT)]
    assert statuses == [200] + [409] * (LIMIT - 1)
    refused = here.post(f"/r/{link['token']}", data=form)
    assert_busy(refused)
    assert "请求过于频繁" in refused.get_data(as_text=True) and refused.mimetype == "text/html"
    assert rate(here, link["token"]).status_code == 429  # the API shares the key


def test_limits_hold_in_memory_while_the_storage_is_down(make_app):
    down = make_app(RATELIMIT_STORAGE_URI=DEAD_REDIS, RATELIMIT_PUBLIC=f"{LIMIT}/minute")
    guesser = client_at(down, address())
    assert [rate(guesser, forged(n)).status_code for n in range(LIMIT)] == [404] * LIMIT
    refused = rate(guesser, forged(LIMIT))
    assert_busy(refused)
    assert refused.json == BUSY
    assert guesser.get(f"/api/v1/invitations/{forged(0)}").status_code == 429  # shared


# Bodies: what the ordinary flask-smorest parsing answers, the submission answers.

def reference_app() -> Flask:
    """An app reading the rating body as every other operation does: `@blp.arguments`."""
    app = Flask("reference")
    app.config.update(openapi_settings(), TESTING=True, MAX_CONTENT_LENGTH=2 * 1024 * 1024)
    api = Api(app, spec_kwargs={"extra_plugins": [OperationIds()]})
    blp = Blueprint("invitations", __name__, url_prefix="/api/v1",
                    description="评价：凭链接令牌或小程序 scene 读取邀请并提交评价")

    @blp.route("/invitations/<string:token>/rating", parameters=TOKEN_PATH)
    class RatingResource(MethodView):
        @blp.doc(security=OPTIONAL_MP_SECURITY)
        @blp.arguments(RatingSubmissionSchema())
        @blp.response(201, ReceiptSchema)
        @blp.alt_response(404, description="链接无效")
        @blp.alt_response(409, schema=ClosedInvitationSchema, description="已评价")
        @blp.alt_response(410, schema=ClosedInvitationSchema, description="已过期或已撤销")
        def post(self, data, token):
            """Submit the rating; the link is used up by the first successful submission."""
            return {"receipt": "parsed"}

    api.register_blueprint(blp)
    http_errors.init_app(app)
    return app


@pytest.fixture(scope="module")
def reference():
    return reference_app().test_client()


@pytest.fixture
def link(app):
    return issue(1, prefix=f"B{uuid.uuid4().hex[:6]}")[0]


def answers(client, token: str, data: bytes, content_type: str | None) -> tuple:
    """Post a raw body; return the status and the JSON answer."""
    headers = {"Content-Type": content_type} if content_type else {}
    response = client.post(RATING_PATH.format(token=token), data=data, headers=headers)
    return response.status_code, response.get_json(silent=True)


JSON = "application/json"
HOSTILE = [
    (b"", JSON), (b"", None), (b"score=9", "application/x-www-form-urlencoded"),
    (b'{"score": 9}', "text/plain"), (b"{", JSON), (b"\xff\xfe", JSON), (b"[" * 100_000, JSON),
    (b"[" * 40 + b"]" * 40, JSON), (b"1" + b"0" * 5000, JSON),
    (b'{"score": 1' + b"0" * 5000 + b"}", JSON),
    (b"[]", JSON), (b'"score"', JSON), (b"null", JSON), (b"9", JSON), (b"{}", JSON),
    (b'{"score": "9"}', JSON), (b'{"score": 9.5}', JSON), (b'{"score": true}', JSON),
    (b'{"score": 101}', JSON), (b'{"score": -1}', JSON), (b'{"score": NaN}', JSON),
    (b'{"score": Infinity}', JSON), (b'{"score": null}', JSON),
    (b'{"score": 1, "score": "x"}', JSON),
    (b'{"tags": "abc"}', JSON), (b'{"tags": [1]}', JSON), (b'{"tags": [""]}', JSON),
    (json.dumps({"tags": ["x" * 500]}).encode(), JSON),
    (json.dumps({"tags": ["a"] * 60}).encode(), JSON),
    (b'{"score": 9, "comment": "\\u0000"}', JSON), (b'{"score": 9, "comment": "\\ud800"}', JSON),
    (json.dumps({"score": 9, "comment": "字" * 5000}).encode(), JSON),
    (b'{"score": 9, "comment": 5}', JSON), (b'{"followup": {"consent": "yes"}}', JSON),
    (b'{"followup": []}', JSON), (b'{"followup": {"phone": "123"}}', JSON),
    (b'{"followup": {"consent": true, "phone": "1380013800\\u0000"}}', JSON),
    (b'{"ratings": []}', JSON), (b'{"ratings": [{}]}', JSON), (b'{"ratings": "x"}', JSON),
    (b'{"ratings": [{"target": "C001", "score": 5, "tags": [], "x": 1}]}', JSON),
    (b'{"ratings": [{"target": "../../x", "score": 5}]}', JSON),
    (json.dumps({"ratings": [{"target": "C001", "score": 5}] * 5000}).encode(), JSON),
    (b'{"stamp": 5}', JSON), (json.dumps({"stamp": "x" * 10_000}).encode(), JSON),
    (b'{"opened_at": -1}', JSON), (json.dumps({"opened_at": 2**60}).encode(), JSON),
    (b'{"opened_at": 1.5}', JSON), (b'{"foo": 1}', JSON), (b'{"\\u0000": 1}', JSON),
    (b'{"score": 9}' + b" " * 3 * 1024 * 1024, JSON),
]


def test_a_hostile_body_gets_the_answer_of_the_ordinary_parsing(app, client, reference):
    # One link per body, issued together: one app and table reset for all of them.
    links = issue(len(HOSTILE), prefix=f"H{uuid.uuid4().hex[:6]}")
    for (data, content_type), link in zip(HOSTILE, links, strict=True):
        expected = answers(reference, link["token"], data, content_type)
        got = answers(client, link["token"], data, content_type)
        if expected[0] == 201:  # accepted by the schema: the submission's own rules decide
            assert got[0] in (201, 409, 422), data[:80]
            assert (got[1] or {}).get("message") != expected[1], data[:80]
        else:
            assert got == expected, data[:80]


FIELDS = ("score", "tags", "comment", "followup", "ratings", "stamp", "opened_at", "x")
VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**64), 2**64) | st.floats(allow_nan=False)
    | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.sampled_from(("target", "score", "tags", "consent", "phone", "y")),
                      inner, max_size=4),
    max_leaves=12)


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(body=st.dictionaries(st.sampled_from(FIELDS), VALUES, max_size=5) | VALUES)
def test_any_json_body_the_schema_refuses_is_refused_alike(client, app, reference, body):
    token = forged(7).replace("0", "1")  # parsing comes before the link is looked at
    expected = answers(reference, token, json.dumps(body).encode(), JSON)
    got = answers(client, token, json.dumps(body).encode(), JSON)
    if expected[0] == 201:
        assert got[0] == 404  # parsed, then the forged link is refused
    else:
        assert got == expected


def test_the_document_describes_the_operation_as_the_decorators_would(client):
    reference = reference_app().test_client().get("/api/openapi.json").json
    document = client.get("/api/openapi.json").json
    path = "/api/v1/invitations/{token}/rating"
    assert document["paths"][path] == reference["paths"][path]
    for name, schema in reference["components"]["schemas"].items():
        assert document["components"]["schemas"][name] == schema, name
    assert reference["paths"][path]["post"]["requestBody"]  # the reference is not empty
