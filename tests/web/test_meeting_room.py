"""A 民主测评 meeting: 200 raters on one Wi-Fi network, one address, every ballot served.

The hall opens each ballot's page (the beacon reports the opening) and submits the form, or
reads the invitation and posts the rating through the API as the mini-program does; all from
one address, far past what one address may send in the limit's window. A token-guessing loop
from that same address is still stopped at the limit.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from tests.integration.test_campaigns import TEAM, team

pytestmark = pytest.mark.slow
BALLOTS = 200
HALL = "192.168.10.20"
LIMIT = 60
FORGED = "AAAAAAAAAAAAAAAAAAAA.BBBBBBBBBBBBBBBBBBBBBBBBBBB"


@pytest.fixture
def hall(make_app, make_key, session):
    """Return an app limited to 60 per window, as production is per minute, and 200 ballots."""
    team(session)
    # An hour's window: however slow the machine, every request below shares one window.
    app = make_app(RATELIMIT_PUBLIC=f"{LIMIT}/hour")
    closes = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    body = {"code": "HALL-1", "name": "全体干部大会民主测评", "template": "democratic_appraisal",
            "period": "2026-Q4", "closes_at": closes,
            "assignments": [{"rater": {"code": f"R{n:03d}", "name": f"代表{n}"},
                             "group": "representative", "targets": list(TEAM[:2])}
                            for n in range(BALLOTS)]}
    created = app.test_client().post("/api/v1/campaigns", json=body,
                                     headers=make_key("campaigns:write"))
    assert created.status_code == 201, created.json
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = HALL
    return client, [b["token"] for b in created.json["ballots"]]


def by_page(client, token: str) -> list[int]:
    """Open the ballot's page, send the opening beacon, submit the form; return the statuses."""
    page = client.get(f"/r/{token}")
    html = page.get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    hidden = dict(re.findall(r'<input type="hidden" name="([^"]+)"[^>]*?value="([^"]*)"', html))
    beacon = client.post(f"/r/{token}/opened", headers={"X-CSRFToken": csrf})
    choices = {f"score-{code}": "8" for code in TEAM[:2]}
    submitted = client.post(f"/r/{token}", data={**hidden, **choices})
    return [page.status_code, beacon.status_code, submitted.status_code]


def by_api(client, token: str) -> list[int]:
    """Read the invitation and post the ballot as the mini-program does."""
    shown = client.get(f"/api/v1/invitations/{token}")
    rated = client.post(f"/api/v1/invitations/{token}/rating",
                        json={"ratings": [{"target": code, "score": 8} for code in TEAM[:2]]})
    return [shown.status_code, rated.status_code]


def test_two_hundred_ballots_from_one_address_within_one_window_are_all_served(hall):
    client, tokens = hall
    statuses = [by_page(client, t) for t in tokens[:100]] + [by_api(client, t)
                                                             for t in tokens[100:]]
    assert statuses == [[200, 204, 200]] * 100 + [[200, 201]] * 100
    assert sum(len(s) for s in statuses) > 8 * LIMIT
    guesses = [client.get(f"/r/{FORGED[:-1]}{n % 10}").status_code for n in range(LIMIT + 5)]
    assert guesses[:LIMIT] == [404] * LIMIT and set(guesses[LIMIT:]) == {429}


def test_guessing_is_limited_per_address_across_pages_and_the_api(hall):
    client, tokens = hall
    paths = [f"/r/{FORGED}", f"/api/v1/invitations/{FORGED}"]
    answers = [client.get(paths[n % 2]).status_code for n in range(LIMIT)]
    assert set(answers) == {404}
    assert client.get(f"/r/{FORGED}").status_code == 429
    assert client.post(f"/api/v1/invitations/{FORGED}/rating", json={}).status_code == 429
    assert by_api(client, tokens[0]) == [200, 201]  # the hall's own ballots still go through
    other = client.application.test_client()
    other.environ_base["REMOTE_ADDR"] = "192.168.10.21"
    assert other.get(f"/r/{FORGED}").status_code == 404


def test_one_link_is_limited_however_many_addresses_open_it(hall):
    client, tokens = hall
    for n in range(LIMIT):
        client.environ_base["REMOTE_ADDR"] = f"10.20.{n}.1"
        assert client.get(f"/api/v1/invitations/{tokens[0]}").status_code == 200
    client.environ_base["REMOTE_ADDR"] = "10.21.0.1"
    assert client.get(f"/r/{tokens[0]}").status_code == 429
    assert by_api(client, tokens[1]) == [200, 201]
