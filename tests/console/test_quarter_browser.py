"""Running a quarter in a real browser: create a campaign from a roster and print its slips
(the progress bar, the PDF read back with pdftotext: no rater's name beside 不记名); preview
and publish a period and see the push arrive at a fake assessment core.

Pages are checked at 1366 px and at a tablet's width (no sideways scrolling); screenshots are
kept in test-artifacts/. Chromium comes from Debian (/usr/bin/chromium).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from backend import wiring
from backend.extensions import db
from backend.scoring import current_period
from tests.conftest import missing
from tests.console.world import PASSWORD, USERS, build_world
from tests.fakes import FakeAssessmentCore
from tests.support.browser import ARTIFACTS, chromium, require_chromium, served_app

pytestmark = pytest.mark.browser

LAPTOP = {"width": 1366, "height": 900}
TABLET = {"width": 768, "height": 1024}
ROSTER = ("评价人编码,姓名,手机号,评价人群体,评价对象\n"
          "B01,欧阳建国,13800138001,同级,\n"
          "B02,林小红,,上级,C001\n"
          + "".join(f"B{n:02d},评价人{n},,下级,\n" for n in range(3, 21)))
NO_SIDEWAYS = "() => document.documentElement.scrollWidth <= window.innerWidth + 1"


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """Serve the test county with background jobs and a fake core; yield (base, core, app)."""
    require_chromium()
    with (FakeAssessmentCore() as core,
          served_app(tmp_path_factory.mktemp("quarter") / "quarter.db", EMBEDDED_JOBS="thread",
                     ASSESSMENT_CORE_URL=core.webhook_url,
                     ASSESSMENT_CORE_SECRET=core.secret) as (app, base)):
        with app.app_context():
            build_world(datetime.now(UTC), history=True)
            db.session.remove()
        yield base, core, app


@pytest.fixture(scope="module")
def browser(served):
    with chromium() as launched:
        yield launched


def signed_in_page(browser, base: str, problems: list[str], viewport=LAPTOP):
    """Open the console signed in as the organisation department's administrator."""
    page = browser.new_page(viewport=viewport, accept_downloads=True)
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on("dialog", lambda dialog: dialog.accept())
    page.goto(base + "/console/login")
    page.fill("#username", USERS["org_admin"])
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    return page


def fill_campaign(page, app) -> None:
    """Fill the new-campaign form and upload the roster."""
    with app.app_context():
        closes = (wiring.now() + timedelta(days=7)).astimezone(wiring.timezone())
    page.fill("#code", "2026-Q4-WEB")
    page.fill("#name", "城关镇班子民主测评（网页）")
    page.fill("#period", "2026-Q4")
    page.fill("#closes_at", closes.strftime("%Y-%m-%dT%H:%M"))
    page.fill("#targets", "C001、C009")
    page.set_input_files("#roster", files=[{"name": "roster.csv", "mimeType": "text/csv",
                                            "buffer": ROSTER.encode()}])


def pdf_lines(path) -> list[str]:
    """Return the text lines of a PDF (pdftotext -layout)."""
    if shutil.which("pdftotext") is None:
        missing("poppler-utils", "pdftotext reads the printed slips back")
    subprocess.run(["pdftotext", "-layout", str(path), str(path) + ".txt"], check=True)
    return Path(str(path) + ".txt").read_text(encoding="utf-8").splitlines()


def test_create_a_campaign_and_print_its_slips(served, browser, tmp_path):
    from playwright.sync_api import expect

    base, _core, app = served
    problems: list[str] = []
    page = signed_in_page(browser, base, problems)
    page.goto(base + "/console/campaigns")
    page.get_by_role("link", name="新建测评").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("新建民主测评")
    assert page.evaluate(NO_SIDEWAYS)
    fill_campaign(page, app)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / "quarter-campaign-new.png", full_page=True)
    page.get_by_role("button", name="创建测评").click()
    expect(page.locator(".flash.ok")).to_contain_text("共 20 张测评票")
    page.click("#print-button")
    expect(page.locator("#print-progress")).to_be_visible()
    expect(page.locator("#print-download")).to_be_visible(timeout=30_000)
    expect(page.locator("#print-state")).to_have_text("已完成 20/20")
    assert page.eval_on_selector("#print-bar", "bar => bar.value") == 100
    assert page.evaluate(NO_SIDEWAYS)
    page.screenshot(path=ARTIFACTS / "quarter-campaign-slips.png", full_page=True)
    with page.expect_download() as download:
        page.click("#print-download")
    target = tmp_path / "slips.pdf"
    download.value.save_as(target)
    lines = pdf_lines(target)
    assert sum(line.count("测评不记名") for line in lines) == 20  # two slips side by side
    assert not any(name in "\n".join(lines) for name in ("欧阳建国", "林小红", "评价人3"))
    stubs = [line for line in lines if "评价人编码" in line]
    assert all("存根" in line for line in stubs)
    assert {c for line in stubs for c in re.findall(r"评价人编码 (B\d\d)", line)} == \
        {f"B{n:02d}" for n in range(1, 21)}
    page.set_viewport_size(TABLET)
    page.reload()
    assert page.evaluate(NO_SIDEWAYS)
    page.screenshot(path=ARTIFACTS / "quarter-campaign-tablet.png", full_page=True)
    page.close()
    assert problems == []


def test_preview_and_publish_a_period_and_see_the_push(served, browser):
    from playwright.sync_api import expect

    base, core, app = served
    problems: list[str] = []
    page = signed_in_page(browser, base, problems)
    page.goto(base + "/console/push")  # the old address leads here
    expect(page.get_by_role("heading", level=1)).to_have_text("评分发布与推送")
    expect(page.locator(".cards")).not_to_contain_text("未配置")
    with app.app_context():
        quarter = current_period("quarter", wiring.now(), wiring.timezone())
    page.fill("#preview-period", quarter)
    page.get_by_role("button", name="预览变化").click()
    expect(page.locator("#preview-summary")).to_contain_text("将推送给考核核心系统")
    expect(page.locator("#table-preview tbody tr").first).to_contain_text("新增")
    assert page.evaluate(NO_SIDEWAYS)
    page.screenshot(path=ARTIFACTS / "quarter-scores-preview.png", full_page=True)
    page.click("#publish-button")
    expect(page.locator(".flash.ok")).to_contain_text(f"已开始发布 {quarter}")
    published = []
    for _ in range(60):  # the publication job, then the relay, run in the background
        published = [d for d in core.of_type("score.published")
                     if d.body["data"].get("period") == quarter]
        if published:
            break
        page.wait_for_timeout(500)
    assert published
    code = published[0].body["data"]["cadre_code"]
    page.goto(f"{base}/console/scores?cadre={code}")
    row = page.locator("#table-official tbody tr").filter(has_text=quarter).first
    expect(row).to_contain_text("成绩发布")
    for _ in range(30):  # the relay marks it delivered right after the core answered
        if "已送达" in row.inner_text():
            break
        page.wait_for_timeout(500)
        page.reload()
    expect(row).to_contain_text("已送达")
    page.set_viewport_size(TABLET)
    assert page.evaluate(NO_SIDEWAYS)
    page.screenshot(path=ARTIFACTS / "quarter-scores-pushed-tablet.png", full_page=True)
    page.close()
    assert problems == []
