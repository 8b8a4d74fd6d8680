"""First openings for the delivery funnel: a person's opening counts once, a scanner's never."""

import re
import threading
import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event as sa_event
from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.extensions import db
from backend.models import Invitation, InvitationOpen
from backend.services.opens import insert_open, opened_time
from backend.services.transactions import begin_write
from tests.support.invitations import issue

FORGED = "x" * 20 + "." + "y" * 27


@pytest.fixture
def invitation(app):
    return issue()[0]


def opens(session) -> list[InvitationOpen]:
    session.commit()  # a fresh snapshot: the requests wrote through their own transactions
    return list(session.scalars(select(InvitationOpen)))


def open_page(client, token: str) -> tuple[str, str]:
    """Open the page like a browser; return its beacon URL and CSRF token."""
    html = client.get(f"/r/{token}").get_data(as_text=True)
    beacon = re.search(r'data-opened-url="([^"]+)"', html)[1]
    return beacon, re.search(r'name="csrf_token" value="([^"]+)"', html)[1]


def beacon(client, token: str):
    """Open the page and send its beacon, as the page's script does."""
    url, csrf = open_page(client, token)
    return client.post(url, data={"csrf_token": csrf})


def hour_of(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def test_page_carries_the_beacon_address_of_its_own_link(client, invitation):
    url, _ = open_page(client, invitation["token"])
    assert url == f"/r/{invitation['token']}/opened"


def test_a_plain_get_of_the_page_records_nothing(client, invitation, session):
    for _ in range(3):  # link scanners and prefetchers fetch the page but run no script
        assert client.get(f"/r/{invitation['token']}").status_code == 200
    assert opens(session) == []


def test_the_beacon_records_one_opening_to_the_hour(client, invitation, session):
    before = datetime.now(UTC)
    response = beacon(client, invitation["token"])
    assert response.status_code == 204 and response.get_data() == b""
    (opened,) = opens(session)
    assert opened.invitation_id == session.scalar(select(Invitation.id))
    assert opened.opened_at in {hour_of(before), hour_of(datetime.now(UTC))}
    assert response.headers["Cache-Control"] == "no-store"


def test_a_second_beacon_adds_no_row_and_keeps_the_first_time(client, invitation, session):
    assert beacon(client, invitation["token"]).status_code == 204
    (first,) = opens(session)
    first.opened_at = first.opened_at - timedelta(hours=5)
    session.commit()
    earlier = first.opened_at
    assert beacon(client, invitation["token"]).status_code == 204
    assert beacon(client, invitation["mp_scene"]).status_code == 204
    assert [row.opened_at for row in opens(session)] == [earlier]


def test_opening_never_consumes_the_link(client, invitation, session):
    assert beacon(client, invitation["token"]).status_code == 204
    assert session.scalar(select(Invitation.used_at)) is None
    assert client.get(f"/r/{invitation['token']}").status_code == 200


def test_forged_beacons_are_404_without_any_sql(client, invitation):
    _, csrf = open_page(client, invitation["token"])
    tampered = invitation["token"][:-5] + ("A" if invitation["token"][-5] != "A" else "g") \
        + invitation["token"][-4:]
    statements = []

    def count(*_args):
        statements.append(1)

    sa_event.listen(db.engine, "before_cursor_execute", count)
    try:
        for forged in (FORGED, tampered, invitation["token"] + "x"):
            with_csrf = client.post(f"/r/{forged}/opened", data={"csrf_token": csrf})
            without = client.post(f"/r/{forged}/opened")
            assert (with_csrf.status_code, without.status_code) == (404, 404), forged
    finally:
        sa_event.remove(db.engine, "before_cursor_execute", count)
    assert statements == []


def test_a_beacon_without_the_pages_csrf_token_records_nothing(app, client, invitation, session):
    _, stolen = open_page(app.test_client(), invitation["token"])  # another browser's token
    open_page(client, invitation["token"])
    assert client.post(f"/r/{invitation['token']}/opened").status_code == 400
    response = client.post(f"/r/{invitation['token']}/opened", data={"csrf_token": stolen})
    assert response.status_code == 400 and response.get_data() == b""
    assert opens(session) == []


def test_a_beacon_for_a_used_link_records_nothing_new(client, invitation, session):
    url, csrf = open_page(client, invitation["token"])
    rated = client.post(f"/api/v1/invitations/{invitation['token']}/rating", json={"score": 8})
    assert rated.status_code == 201
    (recorded,) = opens(session)
    assert client.post(url, data={"csrf_token": csrf}).status_code == 409
    assert opens(session) == [recorded]


def test_the_mini_program_read_records_the_opening_once(client, invitation, session):
    for token in (invitation["mp_scene"], invitation["mp_scene"], invitation["token"]):
        assert client.get(f"/api/v1/invitations/{token}").status_code == 200
    (opened,) = opens(session)
    assert opened.opened_at.minute == opened.opened_at.second == 0
    assert session.scalar(select(Invitation.used_at)) is None


def test_a_closed_invitation_read_by_the_api_records_nothing(client, session):
    (expired,) = issue(1)
    session.scalar(select(Invitation)).expires_at = datetime.now(UTC) - timedelta(minutes=1)
    session.commit()
    assert client.get(f"/api/v1/invitations/{expired['token']}").status_code == 410
    assert opens(session) == []


def test_a_form_submission_without_any_opening_records_one(client, invitation, session):
    html = client.get(f"/r/{invitation['token']}").get_data(as_text=True)  # no script ran
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)"[^>]*?value="([^"]*)"', html))
    response = client.post(f"/r/{invitation['token']}",
                           data={**fields, "score-C001": "9", "tags-C001": ["热情周到"]})
    assert response.status_code == 200
    (opened,) = opens(session)
    assert opened.opened_at == session.scalar(select(Invitation.used_at))  # no finer


def test_an_api_submission_without_any_opening_records_one(client, invitation, session):
    rated = client.post(f"/api/v1/invitations/{invitation['token']}/rating", json={"score": 7})
    assert rated.status_code == 201
    (opened,) = opens(session)
    assert opened.opened_at == session.scalar(select(Invitation.used_at))


def test_a_submission_keeps_an_earlier_opening(client, invitation, session):
    assert beacon(client, invitation["token"]).status_code == 204
    (first,) = opens(session)
    first.opened_at = earlier = first.opened_at - timedelta(hours=3)
    session.commit()
    rated = client.post(f"/api/v1/invitations/{invitation['token']}/rating", json={"score": 7})
    assert rated.status_code == 201
    assert [row.opened_at for row in opens(session)] == [earlier]


def test_a_refused_submission_records_no_opening(client, invitation, session):
    response = client.post(f"/api/v1/invitations/{invitation['token']}/rating",
                           json={"score": 11})
    assert response.status_code == 422
    assert opens(session) == []


def test_racing_first_openings_leave_one_row_and_the_first_wins(app, invitation, session):
    invitation_id = session.scalar(select(Invitation.id))
    session.commit()
    first_hour = hour_of(datetime.now(UTC)) - timedelta(hours=2)
    first, second = Session(db.engine), Session(db.engine)
    failures: list[BaseException] = []

    def later() -> None:
        try:
            begin_write(second)
            insert_open(second, invitation_id, first_hour + timedelta(hours=1))
            second.commit()
        except BaseException as exc:  # reported to the test's thread below
            failures.append(exc)

    try:
        begin_write(first)
        insert_open(first, invitation_id, first_hour)
        racer = threading.Thread(target=later)
        racer.start()
        time.sleep(0.3)  # the second writer now waits for the first one's lock
        first.commit()
        racer.join(timeout=15)
    finally:
        first.close()
        second.close()
    assert not racer.is_alive() and failures == []
    assert [row.opened_at for row in opens(session)] == [first_hour]


def test_opening_times_are_no_finer_than_the_time_of_use():
    now = datetime(2026, 11, 21, 17, 42, 13, 5, tzinfo=UTC)  # 01:42 the next day in Shanghai
    shanghai = ZoneInfo("Asia/Shanghai")
    assert opened_time("event", now, shanghai) == datetime(2026, 11, 21, 17, tzinfo=UTC)
    assert opened_time("ballot", now, shanghai) == datetime(2026, 11, 22, tzinfo=shanghai)
