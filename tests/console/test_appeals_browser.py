"""An appeal in a real browser: the unit admin files it on the case page, two org admins
uphold it, the rating is excluded and the republished score changes, pushed once.

Chromium comes from Debian (/usr/bin/chromium); missing, it fails under CI and skips elsewhere.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from werkzeug.security import generate_password_hash

from backend.extensions import db
from backend.models import Case, ConsoleUser, Rating, ScoreSnapshot, SurveyTemplate, WebhookMessage
from backend.services.scores import counts
from backend.services.sealing.mac import rating_mac
from backend.wiring import sealer
from tests.console.world import PASSWORD, TZ, USERS, build_world
from tests.support.browser import chromium, require_chromium, served_app
from workers.jobs.scores import run_publication
from workers.queues import job_queue

pytestmark = pytest.mark.browser


def add_good_ratings(world, now: datetime, n: int = 10) -> None:
    """Give C001 enough ratings this month for a published recipient score."""
    template = db.session.scalar(select(SurveyTemplate).where(SurveyTemplate.key ==
                                                              "service_event"))
    month = now.astimezone(TZ).strftime("%Y-%m")
    for k in range(n):
        rating = Rating(cadre_id=world.cadres["C001"], rater_group="recipient", score=9,
                        tags=[], template_id=template.id, event_type="approval",
                        batch_at=now.replace(minute=0, second=0, microsecond=0), month=month,
                        receipt_hash=f"{1000 + k:064x}", status="valid")
        rating.mac = rating_mac(sealer(), rating)
        db.session.add(rating)
        counts.add_rating(db.session, rating.cadre_id, month, "recipient", 9, [])
    db.session.add(ConsoleUser(username="org2", role="org_admin",
                               password_hash=generate_password_hash(PASSWORD)))
    db.session.commit()


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """Serve the test county with a published month; yield (app, base URL, world, month)."""
    require_chromium()
    with served_app(tmp_path_factory.mktemp("appeals") / "appeals.db") as (app, base):
        with app.app_context():
            now = datetime.now(UTC)
            world = build_world(now)
            add_good_ratings(world, now)
            month = now.astimezone(TZ).strftime("%Y-%m")
            run_publication(month)
            db.session.remove()
        yield app, base, world, month


def signed_in(browser, base: str, username: str, problems: list[str]):
    """Open a page in a fresh context signed in as a user, collecting script errors."""
    page = browser.new_page()
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.goto(base + "/console/login")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    return page


def current(month: str, cadre_id: int) -> dict:
    db.session.expire_all()
    return db.session.scalar(select(ScoreSnapshot.document).where(
        ScoreSnapshot.cadre_id == cadre_id, ScoreSnapshot.period == month,
        ScoreSnapshot.superseded_at.is_(None)))


def valid_recipient_ratings(month: str, cadre_id: int) -> int:
    """Count the official's valid recipient ratings of the month, straight from the rows."""
    return len(db.session.scalars(select(Rating.id).where(
        Rating.cadre_id == cadre_id, Rating.month == month, Rating.rater_group == "recipient",
        Rating.status == "valid")).all())


def test_two_org_admins_uphold_an_appeal_and_the_published_score_changes(served):
    from playwright.sync_api import expect

    app, base, world, month = served
    problems: list[str] = []
    case_url = f"{base}/console/cases/{world.case_id}"
    with app.app_context():
        before = current(month, world.cadres["C001"])
        valid_before = valid_recipient_ratings(month, world.cadres["C001"])
        pushed_before = db.session.query(WebhookMessage).filter_by(
            type="score.published").count()
    assert before["groups"]["recipient"]["n"] == valid_before
    with chromium() as browser:
        town = signed_in(browser, base, USERS["unit_admin"], problems)
        town.goto(case_url)
        town.select_option("select[name=reason]", label="恶意评价")
        town.fill("textarea[name=text]", "当日该窗口未办理此事项")
        town.click("text=提交申诉")
        expect(town.locator(".flash")).to_have_text("申诉已提交，等待组织部复核")
        expect(town.locator("#appeal")).to_contain_text("待复核")

        org = signed_in(browser, base, USERS["org_admin"], problems)
        org.goto(case_url)
        org.locator("#appeal textarea[name=note]").first.fill("排号记录与评价不符")
        org.click("text=同意剔除该评价（需另一名管理员确认）")
        expect(org.locator("#appeal")).to_contain_text("待第二名管理员确认")
        expect(org.locator("#appeal")).to_contain_text("须由另一名组织部管理员确认")

        org2 = signed_in(browser, base, "org2", problems)
        org2.goto(case_url)
        org2.locator("#appeal textarea[name=note]").first.fill("同意剔除")
        org2.click("text=确认剔除该评价（第二名管理员）")
        expect(org2.locator("#appeal")).to_contain_text("已支持（评价已剔除）")
        expect(org2.locator(".flash").first).to_contain_text("申诉成立")
    assert problems == []
    with app.app_context():
        assert job_queue(app).run_due() >= 1  # the republication the decision queued
        after = current(month, world.cadres["C001"])
        rating = db.session.scalar(select(Rating).join(Case, Case.rating_id == Rating.id)
                                   .where(Case.id == world.case_id))
        pushed = db.session.scalars(select(WebhookMessage).where(
            WebhookMessage.type == "score.published").order_by(WebhookMessage.id)).all()
    assert rating.status == "excluded" and rating.excluded_by == "org2"
    assert after["groups"]["recipient"]["n"] == valid_before - 1
    assert after["groups"]["recipient"]["trimmed_mean"] != before["groups"]["recipient"][
        "trimmed_mean"]
    assert [m.payload["data"]["cadre_code"] for m in pushed[pushed_before:]] == ["C001"]
