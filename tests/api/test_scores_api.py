"""Scores API and commands: publish a period, read it back with digests, review ratings."""

import pytest
from sqlalchemy import select

from backend.models import Rating, WebhookMessage
from backend.scoring import current_period
from tests.support.invitations import issue


@pytest.fixture
def rated(app, client):
    for invitation in issue(12):
        client.post(f"/api/v1/invitations/{invitation['token']}/rating", json={"score": 8})
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    return current_period("month", datetime.now(UTC), ZoneInfo("Asia/Shanghai"))


def test_publish_is_accepted_as_a_job_then_scores_are_readable(app, client, make_key, rated):
    publish = client.post("/api/v1/scores/publish", json={"period": rated},
                          headers=make_key("scores:publish"))
    assert publish.status_code == 202 and publish.json["job_id"]
    app.extensions["jobs"].run_due()
    reader = make_key("scores:read")
    response = client.get(f"/api/v1/scores?period={rated}&cadre_code=C001", headers=reader)
    assert response.status_code == 200
    (score,) = response.json["items"]
    assert score["cadre_code"] == "C001" and score["digest"].startswith("sha256:")
    assert score["groups"]["recipient"]["n"] == 12
    assert score["scheme"] == {"id": "default", "version": 1}


def test_scores_page_through_every_official(app, client, make_key, rated):
    client.post("/api/v1/scores/publish", json={"period": rated},
                headers=make_key("scores:publish"))
    app.extensions["jobs"].run_due()
    reader, seen, after = make_key("scores:read"), [], ""
    while True:
        page = client.get(f"/api/v1/scores?period={rated}&limit=15" +
                          (f"&after={after}" if after else ""), headers=reader).json
        seen += [s["cadre_code"] for s in page["items"]]
        after = page["next"]
        if not after:
            break
    assert len(seen) == len(set(seen)) == 40 and seen == sorted(seen)


def test_changed_scores_are_queued_for_the_assessment_core(app, client, make_key, rated,
                                                           session):
    client.post("/api/v1/scores/publish", json={"period": rated},
                headers=make_key("scores:publish"))
    app.extensions["jobs"].run_due()
    session.commit()  # read after the job's commit, not from an older snapshot
    types = set(session.scalars(select(WebhookMessage.type)))
    assert {"score.published", "alert.raised"} <= types


@pytest.mark.parametrize("period", ["2026-Q5", "2026-13", "Q4", ""])
def test_unknown_period_is_422_naming_it(client, make_key, period):
    response = client.post("/api/v1/scores/publish", json={"period": period},
                           headers=make_key("scores:publish"))
    assert response.status_code == 422 and "period" in response.json["errors"]
    read = client.get(f"/api/v1/scores?period={period}", headers=make_key("scores:read"))
    assert read.status_code == 422


def periods_after(label: str) -> list[str]:
    """Return a month, quarter, half-year and year that begin after the given month."""
    year, month = map(int, label.split("-"))
    year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    quarter, half = (month - 1) // 3 + 1, (month - 1) // 6 + 1
    later = [f"{year}-{month:02d}", f"{year + 1}"]
    later += [f"{year}-Q{quarter}"] if month in (1, 4, 7, 10) else [f"{year + 1}-Q1"]
    later += [f"{year}-H{half}"] if month in (1, 7) else [f"{year + 1}-H1"]
    return later


def test_a_period_that_has_not_begun_is_refused_in_chinese_and_nothing_is_queued(
        client, make_key, rated, session):
    for period in periods_after(rated):
        response = client.post("/api/v1/scores/publish", json={"period": period},
                               headers=make_key("scores:publish"))
        assert response.status_code == 422, period
        assert "尚未开始" in response.json["message"] and "period" in response.json["errors"]
    assert session.scalars(select(WebhookMessage)).all() == []
    year = rated[:4]
    for period in (rated, year, f"{year}-H{(int(rated[5:]) - 1) // 6 + 1}"):
        assert client.post("/api/v1/scores/publish", json={"period": period},
                           headers=make_key("scores:publish")).status_code == 202


def test_publish_is_503_in_chinese_when_the_queue_is_unreachable(make_app, make_key, rated):
    cut_off = make_app(REDIS_URL="redis://127.0.0.1:1/0")
    response = cut_off.test_client().post("/api/v1/scores/publish", json={"period": rated},
                                          headers=make_key("scores:publish"))
    assert response.status_code == 503
    assert "队列" in response.json["message"]


def test_publish_command_refuses_a_period_that_has_not_begun(runner, rated):
    for period in periods_after(rated):
        result = runner.invoke(args=["scores", "publish", period])
        assert result.exit_code == 1 and "尚未开始" in result.output, period


def test_scores_need_their_scopes(client, make_key):
    assert client.get("/api/v1/scores?period=2026-Q4",
                      headers=make_key("scores:publish")).status_code == 403
    assert client.post("/api/v1/scores/publish", json={"period": "2026-Q4"},
                       headers=make_key("scores:read")).status_code == 403


def test_publish_command_reports_what_changed(runner, rated):
    first = runner.invoke(args=["scores", "publish", rated])
    assert first.exit_code == 0, first.output
    assert "变化 40 个" in first.output
    again = runner.invoke(args=["scores", "publish", rated])
    assert "变化 0 个" in again.output
    assert runner.invoke(args=["scores", "publish", "2026-Q9"]).exit_code == 1


def test_excluding_a_rating_changes_counts_and_is_audited_but_never_deletes(runner, session,
                                                                          rated):
    runner.invoke(args=["scores", "publish", rated])
    rating_id = session.scalar(select(Rating.id).limit(1))
    excluded = runner.invoke(args=["ratings", "exclude", str(rating_id), "--reason", "重复提交",
                                   "--by", "admin"])
    assert excluded.exit_code == 0, excluded.output
    again = runner.invoke(args=["ratings", "exclude", str(rating_id), "--reason", "x",
                                "--by", "admin"])
    assert again.exit_code == 1
    republished = runner.invoke(args=["scores", "publish", rated])
    assert "变化 1 个" in republished.output
    session.expire_all()
    assert session.get(Rating, rating_id).status == "excluded"
    assert runner.invoke(args=["ratings", "include", str(rating_id), "--reason", "复核无误",
                               "--by", "admin"]).exit_code == 0
    assert runner.invoke(args=["audit", "verify"]).exit_code == 0


def test_tampered_audit_entry_is_named(runner, session, rated):
    from backend.models import AuditEntry

    rating_id = session.scalar(select(Rating.id).limit(1))
    for reason in ("一", "二"):
        runner.invoke(args=["ratings", "exclude" if reason == "一" else "include",
                            str(rating_id), "--reason", reason, "--by", "admin"])
    first = session.scalar(select(AuditEntry).order_by(AuditEntry.id))
    first.actor = "someone-else"
    session.commit()
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1 and f"#{first.id}" in result.output
