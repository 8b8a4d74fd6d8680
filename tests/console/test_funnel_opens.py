"""The funnel's opened stage counts first openings reported by the page, the API and
submissions, a release batch at a time."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from sqlalchemy import select

from backend.extensions import db
from backend.models import Invitation
from backend.services.reports.rollups import refresh
from backend.services.sealing import uses
from backend.wiring import sealer, token_codec
from tests.console.world import TZ
from tests.support.release import release_all


def unopened_links(count: int) -> list[str]:
    """Return signed links of event invitations nobody has opened or used yet (asked of the
    tags)."""
    tokens = db.session.scalars(select(Invitation.token).where(Invitation.kind == "event")
                                .order_by(Invitation.id)).all()
    seen = (uses.tagged(db.session, sealer(), uses.OPEN, tokens)
            | uses.used_tokens(db.session, sealer(), tokens))
    db.session.commit()
    return [token_codec().url_token(t) for t in tokens if t not in seen][:count]


def funnel_stages(client) -> list[int]:
    """Return the funnel's stage values after the rollups caught up."""
    refresh(db.session, datetime.now(UTC), TZ)
    return [s["value"] for s in client.get("/console/api/funnel").get_json()
            ["charts"][0]["data"]["stages"]]


def test_openings_by_page_beacon_api_and_submission_reach_the_funnel(app, signed_in, world):
    console = signed_in("org_admin")
    assert funnel_stages(console) == [24, 21, 12, 8]
    by_page, by_api, by_rating, scanned = unopened_links(4)
    rater = app.test_client()
    html = rater.get(f"/r/{by_page}").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', html)[1]
    assert rater.post(f"/r/{by_page}/opened", data={"csrf_token": csrf}).status_code == 204
    assert rater.get(f"/api/v1/invitations/{by_api}").status_code == 200
    rated = rater.post(f"/api/v1/invitations/{by_rating}/rating", json={"score": 9})
    assert rated.status_code == 201
    assert rater.get(f"/r/{scanned}").status_code == 200  # a scanner's fetch: not counted
    assert funnel_stages(console) == [24, 21, 12, 8]  # openings wait for their batch too
    release_all()
    assert funnel_stages(console) == [24, 21, 15, 9]
    funnel = console.get("/console/api/funnel").get_json()
    assert funnel["cards"][2]["value"] == "15"
    assert not any("没有打开记录" in note for note in funnel["notes"])
