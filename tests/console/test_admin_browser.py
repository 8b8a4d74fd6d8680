"""Running the quarter from the console in a real browser: a roster with one bad row, a new
user who signs in, alerts acknowledged and resolved in bulk at 1366 px and on a tablet, and an
auditor's landing page. Screenshots are kept in test-artifacts/.

Chromium comes from Debian (/usr/bin/chromium); missing, it fails under CI and skips elsewhere.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from backend.extensions import db
from tests.console.world import PASSWORD, USERS, build_world
from tests.support.browser import ARTIFACTS, chromium, require_chromium, served_app

pytestmark = pytest.mark.browser

LAPTOP = {"width": 1366, "height": 768}
TABLET = {"width": 768, "height": 1024}
ROSTER = ("干部编码,姓名,单位编码,职务,职级\n"
          "C701,周一,XZ100,副镇长,副职\n"
          "C702,吴二,XZ999,乡长,正职\n"
          "C703,郑三,XZ101,副乡长,副职\n")
OVERFLOW = "() => document.documentElement.scrollWidth - window.innerWidth"


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """Serve an app with the test county over real HTTP; yield (base URL, world)."""
    require_chromium()
    with served_app(tmp_path_factory.mktemp("admin") / "admin.db") as (app, base):
        with app.app_context():
            world = build_world(datetime.now(UTC))
            db.session.remove()
        yield base, world


@pytest.fixture(scope="module")
def browser(served):
    with chromium() as launched:
        yield launched


def signed_in(browser, base: str, username: str, problems: list[str], password: str = PASSWORD,
              viewport: dict = LAPTOP):
    """Open a new browser context signed in as a user, collecting script errors."""
    page = browser.new_context(viewport=viewport).new_page()
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on("dialog", lambda dialog: dialog.accept())
    page.goto(base + "/console/login")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("button[type=submit]")
    return page


def shot(page, name: str) -> None:
    """Keep a full-page screenshot as a test artifact."""
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / name, full_page=True)


def test_a_roster_with_one_bad_row_is_previewed_then_its_valid_rows_imported(
        served, browser, tmp_path):
    from playwright.sync_api import expect

    base, _ = served
    problems: list[str] = []
    page = signed_in(browser, base, USERS["org_admin"], problems)
    page.get_by_role("link", name="单位与干部").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("单位与干部")
    page.get_by_role("link", name="导入名册（CSV / Excel）").click()
    roster = tmp_path / "干部名册.csv"
    roster.write_text(ROSTER, encoding="utf-8")
    page.set_input_files("input[name=file]", roster)
    page.get_by_role("button", name="上传").click()
    bad = page.locator("#import-report tr.row-bad")
    expect(bad).to_have_count(1)
    expect(bad).to_contain_text("单位不存在：XZ999")
    expect(page.locator("#import-report h2")).to_contain_text("未写入")
    shot(page, "admin-roster-preview.png")

    page.set_input_files("input[name=file]", roster)
    page.check("input[name=mode][value=valid]")
    page.get_by_role("button", name="上传").click()
    expect(page.locator("#import-report")).to_contain_text("有错误的行已跳过")
    page.goto(base + "/console/directory?q=C70")
    rows = page.locator("#officials tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text("副职")
    shot(page, "admin-directory.png")
    assert problems == []


def test_a_user_created_in_the_console_signs_in_and_sees_their_unit(served, browser):
    from playwright.sync_api import expect

    base, _ = served
    problems: list[str] = []
    page = signed_in(browser, base, USERS["org_admin"], problems)
    page.get_by_role("link", name="后台用户").click()
    page.fill("#new-user input[name=username]", "qingshan")
    page.select_option("#new-user select[name=role]", "unit_admin")
    page.select_option("#new-user select[name=unit]", "XZ101")
    page.get_by_role("button", name="新建用户").click()
    secret = page.locator("[data-secret]").inner_text().strip()
    assert len(secret) >= 10
    shot(page, "admin-user-created.png")

    newcomer = signed_in(browser, base, "qingshan", problems, password=secret)
    expect(newcomer.get_by_role("heading", level=1)).to_have_text("监测总览")
    expect(newcomer.locator(".page-head .sub")).to_contain_text("青山乡")
    expect(newcomer.get_by_role("button", name="退出")).to_be_visible()
    shot(newcomer, "admin-new-user-landing.png")
    assert problems == []


def test_alerts_are_acknowledged_and_resolved_in_bulk_at_1366_and_on_a_tablet(served, browser):
    from playwright.sync_api import expect

    base, _ = served
    problems: list[str] = []
    page = signed_in(browser, base, USERS["org_admin"], problems)
    page.goto(base + "/console/alerts")
    assert page.evaluate(OVERFLOW) <= 0  # nothing off-screen at 1366 px
    expect(page.locator("#table-alerts th").nth(3)).to_have_text("干部编码")
    shot(page, "admin-alerts-1366.png")
    page.check("input[data-check-all]")
    page.get_by_role("button", name="确认所选").click()
    expect(page.locator(".flash")).to_contain_text("已确认 3 条告警")

    page.goto(base + "/console/alerts?state=acknowledged")
    page.check("input[data-check-all]")
    page.get_by_role("button", name="解决所选").click()  # no note: refused, nothing changed
    expect(page.locator("h1")).to_have_text("内容无效")
    expect(page.locator("main")).to_contain_text("处理说明")
    page.goto(base + "/console/alerts?state=acknowledged")
    page.check("input[data-check-all]")
    page.fill("#bulk input[name=note]", "已督促补发邀请")
    page.get_by_role("button", name="解决所选").click()
    expect(page.locator(".flash")).to_contain_text("已解决 3 条告警")
    page.goto(base + "/console/alerts?state=resolved")
    expect(page.locator("#table-alerts tbody tr").first).to_contain_text("已督促补发邀请")

    tablet = signed_in(browser, base, USERS["org_admin"], problems, viewport=TABLET)
    tablet.goto(base + "/console/alerts?state=resolved")
    expect(tablet.get_by_role("button", name="退出")).to_be_visible()
    assert tablet.evaluate(OVERFLOW) <= 0  # the table scrolls inside its panel
    shot(tablet, "admin-alerts-tablet.png")
    assert problems == []


def test_an_auditor_lands_on_the_audit_trail_with_navigation_and_sign_out(served, browser):
    from playwright.sync_api import expect

    base, _ = served
    problems: list[str] = []
    page = signed_in(browser, base, USERS["auditor"], problems)
    expect(page.get_by_role("heading", level=1)).to_have_text("查询留痕")
    nav = page.locator("nav.sidebar")
    expect(nav.get_by_role("link", name="评价账本")).to_be_visible()
    expect(nav.get_by_role("link", name="告警")).to_have_count(0)
    shot(page, "admin-auditor-landing.png")
    response = page.goto(base + "/console/")
    assert response.status == 403
    expect(page.get_by_role("heading", level=1)).to_have_text("无权访问")
    expect(nav.get_by_role("link", name="查询留痕")).to_be_visible()
    page.get_by_role("link", name="返回首页").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("查询留痕")
    page.get_by_role("button", name="退出").click()
    expect(page).to_have_url(base + "/console/login")
    assert problems == []
