"""The closed loop in a real browser: a bad rating becomes a case at release; the unit admin
sees the notice, accepts, uploads evidence, records the call-back, measures and reply, submits;
the org admin accepts; the rater's receipt page shows 已办结 with the reply.

Chromium comes from Debian (/usr/bin/chromium); missing, it fails under CI and skips elsewhere.
Screenshots go to test-artifacts/ with the other browser tests'.
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from backend.extensions import db
from backend.models import Cadre, Case, CaseEvidence
from backend.services.accounts.console_users import create_user
from tests.support.browser import ARTIFACTS, chromium, require_chromium, served_app
from tests.support.invitations import issue
from tests.support.release import release_all

pytestmark = pytest.mark.browser

PHONE = {"width": 375, "height": 667}
DESKTOP = {"width": 1440, "height": 1000}
PASSWORD = "loop-browser-2026"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 64
REPLY = "已对窗口人员批评教育并增设引导岗，感谢您的监督。"


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """Serve an app on a SQLite file with the demo directory and two console users."""
    require_chromium()
    folder = tmp_path_factory.mktemp("loop")
    with served_app(folder / "loop.db", CASE_EVIDENCE_DIR=str(folder / "evidence")) as (app, _):
        with app.app_context():
            link = issue(1, "C001", prefix="LOOP")[0]["url"]
            unit = db.session.scalar(select(Cadre).where(Cadre.code == "C001")).unit
            create_user(db.session, "town", "unit_admin", unit.code, PASSWORD)
            create_user(db.session, "org", "org_admin", None, PASSWORD)
            db.session.remove()
        yield app, link, folder


@pytest.fixture(scope="module")
def browser(served):
    with chromium() as launched:
        yield launched


def watch(page, problems: list[str]):
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on("console", lambda m: problems.append(m.text) if m.type == "error"
            and not m.text.startswith("Failed to load resource") else None)
    return page


def sign_in(browser, base: str, username: str, problems: list[str]):
    page = watch(browser.new_page(viewport=DESKTOP), problems)
    page.goto(base + "/console/login")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/console(/.*)?$"))
    return page


def rate_badly(browser, link: str, problems: list[str]) -> str:
    """Give the official 2 points with a negative tag and a comment; return the receipt URL."""
    from playwright.sync_api import expect

    page = watch(browser.new_page(viewport=PHONE), problems)
    page.goto(link)
    page.locator("label[for=score-0-2]").click()
    page.locator("label", has_text=re.compile("^态度生硬")).first.click()
    page.locator("#comment").fill("窗口人员态度生硬，来回跑了三趟")
    page.locator("#submit-button").click()
    expect(page.locator("#receipt")).to_have_text(re.compile(r"^[0-9a-f]{32}$"))
    page.get_by_role("link", name="核验我的评价是否已记入账本").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("已受理，等待分批入账")
    url = page.url
    page.close()
    return url


def handle_as_unit_admin(browser, base: str, case_id: int, evidence, problems: list[str]):
    """Accept from the notice, upload evidence, record the measures and reply, submit."""
    from playwright.sync_api import expect

    page = sign_in(browser, base, "town", problems)
    page.goto(base + "/console/cases")
    notices = page.locator("#case-notices")
    expect(notices).to_contain_text("1 条未读")
    expect(notices).to_contain_text("待受理")
    page.screenshot(path=ARTIFACTS / "case-inbox-notice.png", full_page=True)
    notices.get_by_role("link", name=re.compile(f"整改单 {case_id}")).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"整改单 {case_id}：待受理")
    # The only rating of its group this month: below the group's minimum, so its score, tags
    # and comment are withheld from the case (they could point at the one person served).
    expect(page.locator("main")).to_contain_text("该评价组当月有效评价未达最低样本数")
    expect(page.locator("main")).not_to_contain_text("评分：2 分")
    page.get_by_role("button", name="受理并开始整改").click()
    expect(page.locator(".flash")).to_have_text("已受理，进入整改")
    page.set_input_files("#case-evidence input[type=file]", str(evidence))
    page.get_by_role("button", name="上传", exact=True).click()
    expect(page.locator(".flash")).to_have_text("已上传材料：整改现场.png")
    page.fill("textarea[name=measures]", "对窗口人员批评教育，增设大厅引导岗")
    page.fill("textarea[name=reply]", REPLY)
    expect(page.locator("select[name=callback]")).to_have_value("no_consent")
    page.screenshot(path=ARTIFACTS / "case-unit-admin.png", full_page=True)
    page.get_by_role("button", name="提交验收").click()
    expect(page.locator(".flash")).to_have_text("已提交验收")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"整改单 {case_id}：待验收")
    page.close()


def accept_as_org_admin(browser, base: str, case_id: int, problems: list[str]):
    """Open the case, download the evidence, accept the handling."""
    from playwright.sync_api import expect

    page = sign_in(browser, base, "org", problems)
    page.goto(f"{base}/console/cases/{case_id}")
    with page.expect_download() as download:
        page.get_by_role("link", name="整改现场.png").click()
    assert download.value.suggested_filename == "整改现场.png"
    page.get_by_role("button", name="验收办结").click()
    expect(page.locator(".flash")).to_have_text("已验收办结")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"整改单 {case_id}：已办结")
    page.screenshot(path=ARTIFACTS / "case-closed.png", full_page=True)
    page.close()


def test_a_bad_rating_is_handled_and_the_rater_sees_the_answer(served, browser):
    from playwright.sync_api import expect

    app, link, folder = served
    base, problems = app.config["PUBLIC_BASE_URL"], []
    ARTIFACTS.mkdir(exist_ok=True)
    receipt_url = rate_badly(browser, link, problems)
    with app.app_context():
        release_all()
        case_id = db.session.scalar(select(Case.id).where(Case.source == "rating"))
        db.session.remove()
    assert case_id is not None
    evidence = folder / "整改现场.png"
    evidence.write_bytes(PNG)
    handle_as_unit_admin(browser, base, case_id, evidence, problems)
    accept_as_org_admin(browser, base, case_id, problems)
    page = watch(browser.new_page(viewport=PHONE), problems)
    page.goto(receipt_url)
    expect(page.locator("#case-title")).to_have_text("整改进展：已办结")
    expect(page.locator("blockquote.reply")).to_have_text(REPLY)
    page.screenshot(path=ARTIFACTS / "case-receipt-closed.png", full_page=True)
    page.close()
    with app.app_context():
        (stored,) = db.session.scalars(select(CaseEvidence)).all()
        assert (folder / "evidence" / stored.stored_name).read_bytes() == PNG
        db.session.remove()
    assert problems == []
