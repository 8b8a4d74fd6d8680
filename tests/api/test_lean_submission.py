"""The lean submission path answers exactly as the Flask view does, and hands it all else.

Played against the view itself (the same app with the lean layer stepped over): the same
201, body and headers; every refusal handed on and answered by the view, with a count taken
before it never counted twice; the address behind a trusted proxy, not the proxy's; the
metrics and the request id as the view would leave them.
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select
from werkzeug.test import Client

from backend.extensions import db, limiter
from backend.lean_submission import LeanSubmission
from backend.models import PendingItem
from backend.wiring import sealer
from tests.support.invitations import issue

RATING_PATH = "/api/v1/invitations/{token}/rating"


class Counting:
    """The WSGI callable behind the lean layer, counting the requests handed to it."""

    def __init__(self, then):
        self.then, self.calls = then, 0

    def __call__(self, environ, start_response):
        self.calls += 1
        return self.then(environ, start_response)


def lean_layer(app) -> LeanSubmission:
    """Return the app's lean layer (under the proxy fix when there is one)."""
    layer = app.wsgi_app
    while not isinstance(layer, LeanSubmission):
        layer = layer.app
    return layer


@pytest.fixture
def lean_app(make_app):
    """An app of its own, its rate limiter's storage live.

    The limiter is one per process: an app whose storage was down (another test's) leaves it
    on the memory fallback until a later check finds the storage back, and while it is there
    the lean path leaves every submission to the view (Flask-Limiter counts it).
    """
    return live(make_app())


def live(app):
    """Take the process's rate limiter off the memory fallback another test left it on."""
    limiter._storage_dead = False  # Flask-Limiter keeps no public switch
    return app


@pytest.fixture
def lean_client(lean_app):
    return lean_app.test_client()


@pytest.fixture
def handed_on(lean_app) -> Counting:
    """Count what the lean layer hands on to Flask."""
    layer = lean_layer(lean_app)
    counting = Counting(layer.then)
    layer.then = counting
    yield counting
    layer.then = counting.then


def view_client(app) -> Client:
    """Return a client of the Flask app behind the lean layer (the view answers all)."""
    return Client(lean_layer(app).then, response_wrapper=app.response_class)


def post(client, token: str, body=None, **kwargs):
    return client.post(RATING_PATH.format(token=token), json=body or {"score": 9}, **kwargs)


def test_lean_answer_is_the_views_answer(lean_app, lean_client, handed_on):
    with lean_app.app_context():
        first, second = (link["token"] for link in issue(2))
    lean = post(lean_client, first, {"score": 8, "tags": ["热情周到"], "comment": "好"})
    assert handed_on.calls == 0, "the lean path answered"
    view = post(view_client(lean_app), second, {"score": 8, "tags": ["热情周到"], "comment": "好"})
    assert (lean.status_code, view.status_code) == (201, 201)
    assert re.fullmatch(r'\{"receipt":"[0-9a-f]{32}"\}\n', lean.get_data(as_text=True))
    assert len(lean.get_data()) == len(view.get_data())

    def headers(response):
        return {name: (value if name != "X-Request-ID" else "id")
                for name, value in response.headers.items()}

    assert headers(lean) == headers(view)
    assert lean.headers["Cache-Control"] == "no-store"
    assert "Strict-Transport-Security" in lean.headers  # PUBLIC_BASE_URL is https here


def test_refusals_are_handed_to_the_view(lean_app, lean_client, handed_on):
    with lean_app.app_context():
        used, fresh = (link["token"] for link in issue(2))
    assert post(lean_client, used).status_code == 201
    cases = [
        (post(lean_client, used), 409, "该链接已评价"),  # read by the lean path, then the view
        (post(lean_client, used[:-3] + "abc"), 404, None),  # forged
        (post(lean_client, fresh, {"score": 11}), 422, None),  # out of range: the schema's error
        (post(lean_client, fresh, {"score": 8, "tags": ["不存在的标签"]}), 422, None),  # template's
        (lean_client.post(RATING_PATH.format(token=fresh), data="{",
                          content_type="application/json"), 400, "请求体不是有效的 JSON"),
        (lean_client.post(RATING_PATH.format(token=fresh), data="score=8"), 415, None),
    ]
    for response, status, message in cases:
        assert response.status_code == status, response.get_data(as_text=True)
        body = response.get_json()
        assert body["code"] == status
        if message:
            assert body["message"] == message
    assert handed_on.calls == len(cases)
    assert post(lean_client, fresh).status_code == 201  # none of it touched the fresh link
    assert handed_on.calls == len(cases)


def test_field_errors_match_the_view(lean_app, lean_client):
    with lean_app.app_context():
        (token,) = (link["token"] for link in issue(1))
    hostile = [{"score": True}, {"score": "9"}, {"score": 9, "tags": "x"},
               {"score": 9, "comment": "长" * 2001}, {"score": 9, "evil": 1}, [9], "9",
               {"score": 9, "stamp": 7}, {"score": 9, "opened_at": -1}]
    for body in hostile:
        lean, view = post(lean_client, token, body), post(view_client(lean_app), token, body)
        assert lean.status_code == view.status_code == 422, body
        assert lean.get_json() == view.get_json()
    assert post(lean_client, token).status_code == 201  # nothing above used the link


def test_a_count_taken_is_not_taken_again(make_app):
    """Three per link and address: a refusal after the lean count does not count twice."""
    app = live(make_app(RATELIMIT_PUBLIC="3/minute"))
    with app.app_context():
        limiter.reset()
        (token,) = (link["token"] for link in issue(1, prefix="limit"))
    layer = lean_layer(app)
    counting = Counting(layer.then)
    layer.then = counting
    client = app.test_client()
    assert post(client, token).status_code == 201
    assert post(client, token).status_code == 409  # counted by the lean path, answered by view
    assert post(client, token).status_code == 409
    busy = post(client, token)
    assert busy.status_code == 429
    assert int(busy.headers["Retry-After"]) >= 1
    assert counting.calls == 3
    other = app.test_client()
    other.environ_base["REMOTE_ADDR"] = "10.9.8.7"  # the limit is per link and address
    assert post(other, token).status_code == 409


def test_the_address_behind_a_trusted_proxy_is_kept(make_app):
    app = make_app(TRUSTED_PROXIES=1)
    with app.app_context():
        (token,) = (link["token"] for link in issue(1, prefix="proxy"))
    client = app.test_client()
    response = post(client, token, headers={"X-Forwarded-For": "203.0.113.9",
                                            "User-Agent": "测评终端/1.0"})
    assert response.status_code == 201
    with app.app_context():
        keys = sealer()
        payloads = [keys.open(sealed) for sealed in db.session.scalars(
            select(PendingItem.sealed).where(PendingItem.kind == "rating"))]
        signals = payloads[0]["signals"]
        assert signals["ip_hash"] == keys.signal("ip", "203.0.113.9")
        assert signals["agent_hash"] == keys.signal("agent", "测评终端/1.0")
        db.session.remove()


def test_credentials_go_to_the_view(lean_app, lean_client, handed_on):
    with lean_app.app_context():
        (token,) = (link["token"] for link in issue(1))
    response = post(lean_client, token, headers={"Authorization": "Bearer forged"})
    assert response.status_code == 401  # the view resolves (and refuses) the session
    assert handed_on.calls == 1


def metric(lean_client, line: str) -> float:
    """Return the value of one exposed series (0 when absent)."""
    text = lean_client.get("/metrics").get_data(as_text=True)
    found = re.search(re.escape(line) + r" ([0-9.e+]+)", text)
    return float(found.group(1)) if found else 0.0


def test_metrics_and_request_id(lean_app, lean_client, handed_on):
    with lean_app.app_context():
        (token,) = (link["token"] for link in issue(1))
    rule = next(r for r in lean_app.url_map.iter_rules()
                if r.endpoint == "invitations.RatingResource")
    series = ('ssp_ratings_accepted_total{kind="event"}',
              f'ssp_http_requests_total{{endpoint="{rule.rule}",method="POST",status="201"}}',
              f'ssp_http_request_duration_seconds_count{{endpoint="{rule.rule}",method="POST"}}')
    before = [metric(lean_client, line) for line in series]
    calls = handed_on.calls
    response = post(lean_client, token, headers={"X-Request-ID": "lean-0001"})
    assert response.status_code == 201 and handed_on.calls == calls
    assert response.headers["X-Request-ID"] == "lean-0001"
    assert [metric(lean_client, line) - was for line, was in zip(series, before, strict=True)] == [
        1.0, 1.0, 1.0]
