"""The rating page in a real browser: pick a score, see the fitting tags, submit, keep the receipt.

Chromium comes from Debian (/usr/bin/chromium); missing, it fails under CI and skips elsewhere.
"""

import re
import time

import pytest
from sqlalchemy import select

from backend.extensions import db
from backend.models import Rating
from backend.services.sealing import uses
from backend.wiring import sealer, token_codec
from tests.support.browser import ARTIFACTS, chromium, require_chromium, served_app
from tests.support.invitations import issue
from tests.support.release import release_all

pytestmark = pytest.mark.browser

PHONE = {"width": 375, "height": 667}


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """Serve an app on a temporary SQLite file over real HTTP; yield the app."""
    require_chromium()
    with served_app(tmp_path_factory.mktemp("browser") / "rating.db") as (app, _base):
        yield app


@pytest.fixture(scope="module")
def browser(served):
    with chromium() as launched:
        yield launched


def new_link(app, prefix: str) -> str:
    with app.app_context():
        return issue(1, prefix=prefix)[0]["url"]


def open_page(browser, url: str, problems: list[str], **options):
    """Open a page, collecting script errors and console errors (CSP violations among them)."""
    page = browser.new_page(viewport=options.pop("viewport", PHONE), **options)
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on("console", lambda m: problems.append(m.text) if m.type == "error"
            and not m.text.startswith("Failed to load resource") else None)  # 409 is expected
    page.goto(url)
    return page


def openings(app, link: str) -> int:
    """Return how many first openings the link's invitation has recorded (0 or 1)."""
    with app.app_context():
        token = token_codec(app).verify(link.rsplit("/", 1)[-1])
        found = len(uses.tagged(db.session, sealer(app), uses.OPEN, [token]))
        db.session.remove()
        return found


def wait_for_openings(app, link: str, expected: int, seconds: float = 5) -> int:
    """Poll until the (asynchronous) beacon has been stored; return the last count."""
    deadline = time.monotonic() + seconds
    while (found := openings(app, link)) != expected and time.monotonic() < deadline:
        time.sleep(0.05)
    return found


def pick(page, label: str) -> None:
    page.locator("label", has_text=re.compile(f"^{re.escape(label)}")).first.click()


def test_rater_scores_tags_comments_and_gets_a_receipt_once(served, browser):
    from playwright.sync_api import expect

    link, problems = new_link(served, "B1"), []
    page = open_page(browser, link, problems)
    expect(page.get_by_role("heading", level=1)).to_have_text("请为本次服务打分")
    expect(page.locator(".tag-group-positive")).to_be_hidden()
    page.locator("label[for=score-0-9]").click()
    expect(page.locator(".tag-group-positive")).to_be_visible()
    expect(page.locator(".tag-group-negative")).to_be_hidden()
    pick(page, "热情周到")
    pick(page, "办事高效")
    page.locator("#comment").fill("窗口工作人员很耐心")
    expect(page.locator("#comment-count")).to_contain_text("9/500")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / "rating-page.png", full_page=True)
    page.locator("#submit-button").click()
    expect(page.locator("#receipt")).to_have_text(re.compile(r"^[0-9a-f]{32}$"))
    expect(page.locator("#copy-receipt")).to_be_visible()
    page.screenshot(path=ARTIFACTS / "rating-thanks.png", full_page=True)
    page.get_by_role("link", name="核验我的评价是否已记入账本").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("已受理，等待分批入账")
    page.screenshot(path=ARTIFACTS / "rating-receipt.png", full_page=True)
    page.goto(link)
    expect(page.get_by_role("heading", level=1)).to_have_text("已评价")
    page.close()
    with served.app_context():
        release_all()
        rating = db.session.scalar(select(Rating).order_by(Rating.id.desc()))
        assert (rating.score, sorted(rating.tags)) == (9, sorted(["热情周到", "办事高效"]))
        assert rating.comment == "窗口工作人员很耐心"
    assert problems == []


def test_low_score_shows_negative_tags_and_the_tag_limit_holds(served, browser):
    from playwright.sync_api import expect

    problems = []
    page = open_page(browser, new_link(served, "B2"), problems)
    page.locator("label[for=score-0-2]").click()
    expect(page.locator(".tag-group-negative")).to_be_visible()
    expect(page.locator(".tag-group-positive")).to_be_hidden()
    page.locator("label[for=score-0-5]").click()  # 5 and 6 show both sets
    expect(page.locator(".tag-group-positive")).to_be_visible()
    for label in ("推诿扯皮", "态度生硬", "办事拖拉", "热情周到", "办事高效"):
        pick(page, label)
    expect(page.locator(".tag-group input:not(:checked)").first).to_be_disabled()
    expect(page.locator(".tag-group input:checked")).to_have_count(5)
    page.locator("label[for=score-0-9]").click()  # hidden negative choices are dropped
    expect(page.locator(".tag-group input:checked")).to_have_count(2)
    page.close()
    assert problems == []


def test_page_fits_320_px_with_large_targets(served, browser):
    problems = []
    page = open_page(browser, new_link(served, "B3"), problems,
                     viewport={"width": 320, "height": 640})
    assert page.evaluate("document.documentElement.scrollWidth") <= 320
    boxes = [page.locator(f"label[for=score-0-{n}]").bounding_box() for n in range(1, 11)]
    assert min(min(b["width"], b["height"]) for b in boxes) >= 44
    page.locator("label[for=score-0-8]").click()
    chip = page.locator(".tag-group-positive .chip label").first.bounding_box()
    assert chip["height"] >= 44
    page.locator("#submit-button").click()
    page.locator("#receipt").wait_for()
    assert page.evaluate("document.documentElement.scrollWidth") <= 320
    page.get_by_role("link", name="核验我的评价是否已记入账本").click()
    page.locator("#receipt").wait_for()
    assert page.evaluate("document.documentElement.scrollWidth") <= 320
    page.close()
    assert problems == []


def test_opening_the_page_reports_the_first_opening_once(served, browser):
    link, problems = new_link(served, "B5"), []
    assert openings(served, link) == 0
    page = open_page(browser, link, problems)
    assert wait_for_openings(served, link, 1) == 1
    page.reload()
    page.wait_for_load_state("networkidle")
    assert openings(served, link) == 1
    page.close()
    assert problems == []


def test_form_works_without_javascript(served, browser):
    from playwright.sync_api import expect

    problems, link = [], new_link(served, "B4")
    page = open_page(browser, link, problems, java_script_enabled=False)
    expect(page.locator(".tag-group-positive")).to_be_visible()
    expect(page.locator(".tag-group-negative")).to_be_visible()
    page.locator("label[for=score-0-3]").click()
    pick(page, "办事拖拉")
    assert openings(served, link) == 0  # no script, no beacon: as for a link scanner
    page.locator("#submit-button").click()
    expect(page.locator("#receipt")).to_have_text(re.compile(r"^[0-9a-f]{32}$"))
    assert openings(served, link) == 1  # the submission implies the opening
    page.close()
    assert problems == []
