"""Sessions that end and sign-in without enumeration, tried with saved cookies and many addresses.

Each session test signs in, saves the cookie, does what should end the session (sign out, a new
password, disabling the user, idleness, age) and replays the saved cookie in a fresh client.
"""

from __future__ import annotations

import re
import statistics
import time
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from backend.console.auth import LOGIN_FAILED, attempt_of, throttle
from backend.extensions import db, limiter
from backend.models import AuditEntry, ConsoleSession
from backend.models.types import utcnow
from backend.services.accounts import console_sessions
from tests.console.world import PASSWORD, USERS, csrf_of, https_client, sign_in

NEW_PASSWORD = "brand-new-password-2026"


def from_address(app, address: str):
    """Return an https client whose requests come from `address`."""
    client = https_client(app)
    client.environ_base["REMOTE_ADDR"] = address
    return client


def saved_cookie(client) -> str:
    """Return the value of the client's session cookie."""
    return client.get_cookie("session", domain="localhost").value


def replay(app, cookie: str):
    """Open the overview with nothing but a saved session cookie."""
    thief = https_client(app)
    thief.set_cookie("session", cookie, domain="localhost")
    return thief.get("/console/"), thief.get("/console/api/overview")


def assert_dead(app, cookie: str) -> None:
    """Check that a saved cookie no longer opens anything."""
    page, api = replay(app, cookie)
    assert page.status_code == 302 and "/console/login" in page.headers["Location"]
    assert api.status_code == 401


def assert_alive(app, cookie: str) -> None:
    page, api = replay(app, cookie)
    assert (page.status_code, api.status_code) == (200, 200)


def signed_in_cookie(app, role: str = "viewer", address: str = "10.1.0.1") -> tuple:
    """Sign in as a role; return the client and its saved cookie."""
    client = from_address(app, address)
    assert sign_in(client, USERS.get(role, role)).status_code == 302
    return client, saved_cookie(client)


def test_a_copied_cookie_dies_at_sign_out(app, world):
    client, cookie = signed_in_cookie(app)
    assert_alive(app, cookie)
    token = csrf_of(client.get("/console/").get_data(as_text=True))
    assert client.post("/console/logout", data={"csrf_token": token}).status_code == 302
    assert_dead(app, cookie)


def test_a_new_password_ends_every_session_of_that_user_only(app, world, runner):
    _, first = signed_in_cookie(app, address="10.1.0.1")
    _, second = signed_in_cookie(app, address="10.1.0.2")
    _, other = signed_in_cookie(app, "org_admin")
    result = runner.invoke(args=["admin", "set-password", USERS["viewer"], "--password",
                                 NEW_PASSWORD])
    assert result.exit_code == 0, result.output
    assert_dead(app, first)
    assert_dead(app, second)
    assert_alive(app, other)
    assert sign_in(from_address(app, "10.1.0.3"), USERS["viewer"], NEW_PASSWORD
                   ).status_code == 302


def test_disabling_a_user_ends_their_sessions_for_good(app, world, runner):
    _, cookie = signed_in_cookie(app)
    assert runner.invoke(args=["admin", "disable", USERS["viewer"]]).exit_code == 0
    assert_dead(app, cookie)
    assert sign_in(from_address(app, "10.1.0.4"), USERS["viewer"]).status_code == 401
    assert runner.invoke(args=["admin", "enable", USERS["viewer"]]).exit_code == 0
    assert_dead(app, cookie)  # enabling again does not bring an ended session back
    assert sign_in(from_address(app, "10.1.0.5"), USERS["viewer"]).status_code == 302
    actions = db.session.scalars(select(AuditEntry.action).where(
        AuditEntry.actor == "cli")).all()
    assert actions == ["user.disable", "user.enable"]


def age_sessions(**back: timedelta) -> None:
    """Move every session's clocks back by the given amounts."""
    now = utcnow()
    db.session.execute(update(ConsoleSession).values(
        **{column: now - amount for column, amount in back.items()}))
    db.session.commit()


def test_a_session_idle_for_30_minutes_ends(app, world):
    _, cookie = signed_in_cookie(app)
    age_sessions(seen_at=timedelta(minutes=29))
    assert_alive(app, cookie)  # and the visit moved the idle clock
    (seen,) = db.session.scalars(select(ConsoleSession.seen_at)).all()
    assert utcnow() - seen < timedelta(minutes=1)
    age_sessions(seen_at=timedelta(minutes=30, seconds=1))
    assert_dead(app, cookie)


def test_a_session_ends_12_hours_after_sign_in_however_busy(app, world):
    _, cookie = signed_in_cookie(app)
    age_sessions(created_at=timedelta(hours=11, minutes=59), seen_at=timedelta(0))
    assert_alive(app, cookie)
    age_sessions(created_at=timedelta(hours=12, seconds=1), seen_at=timedelta(0))
    assert_dead(app, cookie)


def test_the_database_holds_only_a_digest_of_the_cookies_secret(app, world):
    _, cookie = signed_in_cookie(app)
    payload = app.session_interface.get_signing_serializer(app).loads(cookie)
    (row,) = db.session.scalars(select(ConsoleSession)).all()
    assert row.id == console_sessions.session_id(payload["sid"]) != payload["sid"]


def attempt(app, username: str, password: str, address: str):
    """POST one sign-in from an address; return (response, seconds the POST took)."""
    client = from_address(app, address)
    token = csrf_of(client.get("/console/login").get_data(as_text=True))
    started = time.perf_counter()
    response = client.post("/console/login", data={"username": username, "password": password,
                                                   "csrf_token": token})
    return response, time.perf_counter() - started


def lock_out(app, username: str, address: str) -> None:
    """Fail five times on an account from one address."""
    for _ in range(5):
        assert attempt(app, username, "wrong-password-x", address)[0].status_code == 401


def page_text(response, username: str) -> str:
    """Return a sign-in answer without what differs by request (form token, name typed)."""
    html = response.get_data(as_text=True)
    return re.sub(r'name="csrf_token" value="[^"]+"', "", html).replace(username, "NAME")


def test_unknown_wrong_and_throttled_get_the_same_answer(app, world):
    lock_out(app, USERS["viewer"], "10.2.0.1")
    throttled, _ = attempt(app, USERS["viewer"], PASSWORD, "10.2.0.1")
    wrong, _ = attempt(app, USERS["org_admin"], "not-the-password", "10.2.0.2")
    unknown, _ = attempt(app, "nobody-at-all", PASSWORD, "10.2.0.3")
    assert throttled.status_code == wrong.status_code == unknown.status_code == 401
    assert LOGIN_FAILED in page_text(wrong, USERS["org_admin"])
    assert (page_text(throttled, USERS["viewer"]) == page_text(wrong, USERS["org_admin"])
            == page_text(unknown, "nobody-at-all"))
    assert {c.split("=")[0] for c in throttled.headers.getlist("Set-Cookie")} == {
        c.split("=")[0] for c in unknown.headers.getlist("Set-Cookie")}


@pytest.mark.slow
def test_unknown_wrong_and_throttled_take_the_same_time(app, world):
    lock_out(app, USERS["viewer"], "10.3.0.1")
    timings = {"throttled": [], "wrong": [], "unknown": []}
    for n in range(9):  # interleaved, so the machine's load falls on every kind alike
        timings["throttled"].append(attempt(app, USERS["viewer"], PASSWORD, "10.3.0.1")[1])
        timings["wrong"].append(attempt(app, USERS["org_admin"], f"wrong-{n}", "10.3.0.2")[1])
        timings["unknown"].append(attempt(app, f"nobody-{n}", PASSWORD, "10.3.0.3")[1])
    medians = {kind: statistics.median(values) for kind, values in timings.items()}
    assert max(medians.values()) < 1.5 * min(medians.values()), medians


def test_five_failures_close_the_account_to_that_address_only(app, world):
    lock_out(app, USERS["viewer"], "10.4.0.1")
    assert attempt(app, USERS["viewer"], PASSWORD, "10.4.0.1")[0].status_code == 401
    assert attempt(app, USERS["viewer"], PASSWORD, "10.4.0.2")[0].status_code == 302
    with app.test_request_context(environ_base={"REMOTE_ADDR": "10.4.0.1"}):
        opens_at = throttle().lock_ends(attempt_of(USERS["viewer"]))
    assert 14 * 60 < opens_at - time.time() <= 15 * 60
    limiter.reset()  # the fifteen minutes have passed
    assert attempt(app, USERS["viewer"], PASSWORD, "10.4.0.1")[0].status_code == 302


def test_strangers_everywhere_cannot_lock_the_user_out_of_their_own_browser(app, world):
    own = from_address(app, "10.5.0.1")
    assert sign_in(own, USERS["viewer"]).status_code == 302
    assert own.get_cookie("ssp_console_device", domain="localhost", path="/console/")
    token = csrf_of(own.get("/console/").get_data(as_text=True))
    own.post("/console/logout", data={"csrf_token": token})
    for n in range(32):  # more failures than the account allows from unknown browsers
        attempt(app, USERS["viewer"], f"guess-{n}", f"10.6.{n}.1")
    assert attempt(app, USERS["viewer"], PASSWORD, "10.7.0.1")[0].status_code == 401
    assert sign_in(own, USERS["viewer"]).status_code == 302


def test_an_address_trying_many_names_is_answered_429(app, world):
    for n in range(20):
        assert attempt(app, f"name-{n}", "wrong-password-x", "10.8.0.1")[0].status_code == 401
    refused, _ = attempt(app, USERS["viewer"], PASSWORD, "10.8.0.1")
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
    assert "登录失败次数过多" in refused.get_data(as_text=True)
    assert attempt(app, USERS["viewer"], PASSWORD, "10.8.0.2")[0].status_code == 302


def test_failed_sign_ins_are_in_the_audit_trail(app, world):
    attempt(app, "nobody-at-all", "x" * 12, "10.9.0.1")
    attempt(app, USERS["viewer"], "wrong-password-x", "10.9.0.2")
    entries = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "login.failed")
                                 .order_by(AuditEntry.id)).all()
    assert [(e.actor, e.details["reason"], e.address) for e in entries] == [
        ("nobody-at-all", "unknown_user", "10.9.0.1"),
        (USERS["viewer"], "wrong_password", "10.9.0.2")]
