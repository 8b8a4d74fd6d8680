"""The rate limiter's Redis unreachable: raters still rate, and limits still hold (in memory)."""

from __future__ import annotations

from sqlalchemy import func, select

from backend.models import Rating
from tests.support.invitations import issue
from tests.support.release import release_all

DEAD_REDIS = "redis://127.0.0.1:1/0"  # nothing listens on port 1


def test_submission_succeeds_when_the_limit_storage_is_down(app, make_app, session):
    (link,) = issue(1, prefix="RD")
    down = make_app(RATELIMIT_STORAGE_URI=DEAD_REDIS)
    client = down.test_client()
    response = client.post(f"/api/v1/invitations/{link['token']}/rating", json={"score": 9})
    assert response.status_code == 201, response.get_data(as_text=True)
    assert client.get(f"/r/{link['token']}").status_code == 409  # the page says 已评价
    session.commit()
    assert release_all().ratings == 1
    assert session.scalar(select(func.count()).select_from(Rating)) == 1


def test_limits_fall_back_to_memory_when_the_storage_is_down(make_app):
    down = make_app(RATELIMIT_STORAGE_URI=DEAD_REDIS, RATELIMIT_PUBLIC="2/minute")
    client = down.test_client()
    url = "/api/v1/invitations/" + "x" * 20 + "." + "y" * 27
    assert [client.get(url).status_code for _ in range(3)] == [404, 404, 429]
    refused = client.get(url)
    assert refused.json["code"] == 429 and int(refused.headers["Retry-After"]) > 0
