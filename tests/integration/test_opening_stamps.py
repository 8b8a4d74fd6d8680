"""The opening stamp through the public API: what counts as stamped, and what never does.

A submission is accepted with or without a valid stamp; without one it is counted unstamped
per official and day (the funnel's counters), never marked on the rating, and its time on the
page is unknown: a client's own `opened_at` is not read.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from backend.models import AbuseSignal, FunnelCount, PendingItem
from backend.services.fraud.stamps import StampCodec
from backend.wiring import stamp_codec, token_codec
from tests.support.invitations import issue
from tests.support.release import release_all


def funnel(session) -> tuple[int, int]:
    """Return (rated, unstamped) summed over the funnel's counters."""
    rated, unstamped = session.execute(select(func.sum(FunnelCount.rated),
                                              func.sum(FunnelCount.unstamped))).one()
    return rated or 0, unstamped or 0


def rate(client, token: str, **body) -> int:
    response = client.post(f"/api/v1/invitations/{token}/rating", json={"score": 8, **body})
    return response.status_code


def raw(token: str) -> str:
    return token_codec().verify(token)


def test_the_invitation_hands_out_a_stamp_that_counts_and_times_the_visit(client, session):
    (invitation,) = issue(1)
    shown = client.get(f"/api/v1/invitations/{invitation['token']}")
    assert shown.status_code == 200 and shown.json["stamp"]
    hour_ago = int((datetime.now(UTC) - timedelta(hours=1)).timestamp() * 1000)
    assert rate(client, invitation["token"], stamp=shown.json["stamp"], opened_at=hour_ago) == 201
    release_all()
    assert funnel(session) == (1, 0)
    seconds = session.scalar(select(AbuseSignal.seconds_on_page))
    assert seconds is not None and seconds < 60  # from the stamp, not the client's hour


def test_missing_forged_expired_or_borrowed_stamps_are_accepted_but_counted_unstamped(
        client, session):
    links = [i["token"] for i in issue(6, prefix="STAMP")]
    borrowed = client.get(f"/api/v1/invitations/{links[5]}").json["stamp"]
    expired = stamp_codec().issue(raw(links[2]), datetime.now(UTC) - timedelta(days=15))
    foreign = StampCodec(["a-key-the-server-never-had-012345"]).issue(raw(links[3]),
                                                                      datetime.now(UTC))
    long_ago = int((datetime.now(UTC) - timedelta(minutes=10)).timestamp() * 1000)
    bodies = [{"opened_at": long_ago}, {"stamp": "forged", "opened_at": long_ago},
              {"stamp": expired}, {"stamp": foreign}, {"stamp": borrowed}]
    for token, body in zip(links, bodies, strict=False):
        assert rate(client, token, **body) == 201, body
    release_all()
    assert funnel(session) == (5, 5)
    assert set(session.scalars(select(AbuseSignal.seconds_on_page))) == {None}


def test_a_stamp_with_its_time_rewritten_never_counts_as_stamped(client, session):
    """The attacker's try: take a real stamp and move its opening time back."""
    links = [i["token"] for i in issue(4, prefix="FORGE")]
    forgeries = []
    for token in links:
        payload, _, signature = client.get(f"/api/v1/invitations/{token}").json[
            "stamp"].rpartition(".")
        opened, digest = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        moved = base64.urlsafe_b64encode(json.dumps([opened - 120, digest]).encode()).decode()
        forgeries.append(f"{moved.rstrip('=')}.{signature}")
    forgeries[3] = forgeries[0]  # another link's rewritten stamp
    for token, stamp in zip(links, forgeries, strict=True):
        assert rate(client, token, stamp=stamp) == 201
    release_all()
    assert funnel(session) == (4, 4)


def test_an_oversized_stamp_is_refused_in_chinese_and_the_link_stays_open(client, session):
    (invitation,) = issue(1)
    response = client.post(f"/api/v1/invitations/{invitation['token']}/rating",
                           json={"score": 8, "stamp": "x" * 201})
    assert response.status_code == 422 and "stamp" in response.json["errors"]
    assert any("\u4e00" <= ch <= "\u9fff" for ch in json.dumps(
        response.json["errors"]["stamp"], ensure_ascii=False))
    assert session.scalar(select(func.count()).select_from(PendingItem)) == 0
    assert rate(client, invitation["token"]) == 201


def test_the_openapi_document_describes_the_stamp(client):
    document = client.get("/api/openapi.json").json
    schemas = document["components"]["schemas"]
    view = next(v for k, v in schemas.items() if k.startswith("InvitationView"))
    submission = next(v for k, v in schemas.items() if k.startswith("RatingSubmission"))
    assert "打开凭证" in view["properties"]["stamp"]["description"]
    assert submission["properties"]["stamp"]["maxLength"] == 200
    assert "忽略" in submission["properties"]["opened_at"]["description"]
