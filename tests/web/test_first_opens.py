"""First openings for the delivery funnel: a person's opening counts once, a scanner's never.

An opening is a keyed tag of the link (no invitation is named) and, for event links, a sealed
item that the release job adds to the funnel's counter of its local day.
"""

import re
import threading
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event as sa_event
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend import wiring
from backend.extensions import db
from backend.models import FunnelCount, Invitation, OpenTag, PendingItem, UseTag
from backend.services.ratings import opens as openings
from tests.support.invitations import issue
from tests.support.release import release_all

FORGED = "x" * 20 + "." + "y" * 27
TZ = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def invitation(app):
    return issue()[0]


def opens(session) -> int:
    """Count the recorded first openings (tags), after the requests' own transactions."""
    session.commit()
    return session.scalar(select(func.count()).select_from(OpenTag))


def pending(session, kind: str) -> int:
    return session.scalar(select(func.count()).select_from(PendingItem)
                          .where(PendingItem.kind == kind))


def funnel(session) -> tuple[int, int]:
    """Return (opened, rated) of today's funnel counters, after a release."""
    release_all()
    today = datetime.now(UTC).astimezone(TZ).date()
    row = session.execute(select(func.sum(FunnelCount.opened), func.sum(FunnelCount.rated))
                          .where(FunnelCount.day == today)).one()
    return int(row[0] or 0), int(row[1] or 0)


def open_page(client, token: str) -> tuple[str, str]:
    """Open the page like a browser; return its beacon URL and CSRF token."""
    html = client.get(f"/r/{token}").get_data(as_text=True)
    beacon = re.search(r'data-opened-url="([^"]+)"', html)[1]
    return beacon, re.search(r'name="csrf_token" value="([^"]+)"', html)[1]


def beacon(client, token: str):
    """Open the page and send its beacon, as the page's script does."""
    url, csrf = open_page(client, token)
    return client.post(url, data={"csrf_token": csrf})


def test_page_carries_the_beacon_address_of_its_own_link(client, invitation):
    url, _ = open_page(client, invitation["token"])
    assert url == f"/r/{invitation['token']}/opened"


def test_a_plain_get_of_the_page_records_nothing(client, invitation, session):
    for _ in range(3):  # link scanners and prefetchers fetch the page but run no script
        assert client.get(f"/r/{invitation['token']}").status_code == 200
    assert opens(session) == 0 and funnel(session) == (0, 0)


def test_the_beacon_records_one_opening_as_a_tag_that_names_no_invitation(client, invitation,
                                                                          session):
    response = beacon(client, invitation["token"])
    assert response.status_code == 204 and response.get_data() == b""
    assert response.headers["Cache-Control"] == "no-store"
    token = session.scalar(select(Invitation.token))
    tag = session.scalar(select(OpenTag.tag))
    assert tag == wiring.sealer().tags("open", token)[0] and token not in tag
    assert pending(session, "open") == 1
    assert funnel(session) == (1, 0)


def test_a_second_beacon_records_nothing_more(client, invitation, session):
    for token in (invitation["token"], invitation["token"], invitation["mp_scene"]):
        assert beacon(client, token).status_code == 204
    assert opens(session) == 1 and pending(session, "open") == 1
    assert funnel(session) == (1, 0)


def test_opening_never_consumes_the_link(client, invitation, session):
    assert beacon(client, invitation["token"]).status_code == 204
    assert session.scalar(select(func.count()).select_from(UseTag)) == 0
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
    assert opens(session) == 0


def test_a_beacon_for_a_used_link_records_nothing_new(client, invitation, session):
    url, csrf = open_page(client, invitation["token"])
    rated = client.post(f"/api/v1/invitations/{invitation['token']}/rating", json={"score": 8})
    assert rated.status_code == 201
    assert opens(session) == 1
    assert client.post(url, data={"csrf_token": csrf}).status_code == 409
    assert opens(session) == 1 and funnel(session) == (1, 1)


def test_the_mini_program_read_records_the_opening_once(client, invitation, session):
    for token in (invitation["mp_scene"], invitation["mp_scene"], invitation["token"]):
        assert client.get(f"/api/v1/invitations/{token}").status_code == 200
    assert opens(session) == 1 and pending(session, "open") == 1
    assert session.scalar(select(func.count()).select_from(UseTag)) == 0


def test_a_closed_invitation_read_by_the_api_records_nothing(client, session):
    (expired,) = issue(1)
    session.scalar(select(Invitation)).expires_at = datetime.now(UTC) - timedelta(minutes=1)
    session.commit()
    assert client.get(f"/api/v1/invitations/{expired['token']}").status_code == 410
    assert opens(session) == 0


def test_a_form_submission_without_any_opening_records_one(client, invitation, session):
    html = client.get(f"/r/{invitation['token']}").get_data(as_text=True)  # no script ran
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)"[^>]*?value="([^"]*)"', html))
    response = client.post(f"/r/{invitation['token']}",
                           data={**fields, "score-C001": "9", "tags-C001": ["热情周到"]})
    assert response.status_code == 200
    assert opens(session) == 1 and funnel(session) == (1, 1)


def test_an_api_submission_without_any_opening_records_one(client, invitation, session):
    rated = client.post(f"/api/v1/invitations/{invitation['token']}/rating", json={"score": 7})
    assert rated.status_code == 201
    assert opens(session) == 1 and pending(session, "open") == 1
    assert funnel(session) == (1, 1)


def test_a_submission_after_an_opening_counts_the_opening_once(client, invitation, session):
    assert beacon(client, invitation["token"]).status_code == 204
    rated = client.post(f"/api/v1/invitations/{invitation['token']}/rating", json={"score": 7})
    assert rated.status_code == 201
    assert opens(session) == 1 and pending(session, "open") == 1
    assert funnel(session) == (1, 1)


def test_a_refused_submission_records_no_opening(client, invitation, session):
    response = client.post(f"/api/v1/invitations/{invitation['token']}/rating",
                           json={"score": 11})
    assert response.status_code == 422
    assert opens(session) == 0 and pending(session, "rating") == 0


def test_racing_first_openings_leave_one_tag_and_one_count(app, invitation, session):
    invitation_id = session.scalar(select(Invitation.id))
    session.commit()
    barrier, failures = threading.Barrier(2), []

    def note() -> None:
        with app.app_context():
            own = Session(db.engine)
            try:
                invitation_row = own.get(Invitation, invitation_id)
                barrier.wait(timeout=10)
                openings.note_open(own, wiring.sealer(), invitation_row, datetime.now(UTC), TZ)
            except BaseException as exc:  # reported to the test's thread below
                failures.append(exc)
            finally:
                own.close()

    racers = [threading.Thread(target=note) for _ in range(2)]
    for racer in racers:
        racer.start()
    for racer in racers:
        racer.join(timeout=30)
    assert failures == []
    assert opens(session) == 1 and pending(session, "open") == 1
