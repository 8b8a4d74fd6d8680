"""The console in a real browser: sign in, see the chart drawn, filter, acknowledge an alert,
download an export and open it; a unit admin is refused another unit's page.

Chromium comes from Debian (/usr/bin/chromium); missing, it fails under CI and skips elsewhere.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from openpyxl import load_workbook

from backend.extensions import db
from tests.console.world import PASSWORD, USERS, World, build_world
from tests.support.browser import ARTIFACTS, chromium, require_chromium, served_app

pytestmark = pytest.mark.browser

DESKTOP = {"width": 1440, "height": 1000}
CANVAS_HAS_INK = """(selector) => {
  const canvas = document.querySelector(selector);
  if (!canvas) return false;
  const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  for (let i = 3; i < data.length; i += 4) { if (data[i] > 0) return true; }
  return false;
}"""


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """Serve an app with the test county over real HTTP; yield (base URL, world)."""
    require_chromium()
    with served_app(tmp_path_factory.mktemp("console") / "console.db") as (app, base):
        with app.app_context():
            world = build_world(datetime.now(UTC), history=True)
            db.session.remove()
        yield base, world


@pytest.fixture(scope="module")
def browser(served):
    with chromium() as launched:
        yield launched


def open_signed_in(browser, base: str, role: str, problems: list[str]):
    """Open a page signed in as a role's user, collecting script and console errors."""
    page = browser.new_page(viewport=DESKTOP, accept_downloads=True)
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on("console", lambda m: problems.append(m.text) if m.type == "error"
            and not m.text.startswith("Failed to load resource") else None)  # 404 expected
    page.goto(base + "/console/login")
    page.fill("#username", USERS[role])
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    return page


def test_admin_sees_the_chart_filters_acknowledges_and_exports(served, browser, tmp_path):
    from playwright.sync_api import expect

    base, world = served
    problems: list[str] = []
    page = open_signed_in(browser, base, "org_admin", problems)
    expect(page.get_by_role("heading", level=1)).to_have_text("监测总览")
    expect(page.locator("#chart-trend[data-drawn='1']")).to_have_count(1)
    assert page.evaluate(CANVAS_HAS_INK, "#chart-trend canvas")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / "console-overview.png", full_page=True)

    page.select_option("#filter-unit", label="城关镇人民政府")
    expect(page).to_have_url(re.compile(rf"unit={world.units['XZ100']}"))
    expect(page.locator(".page-head .sub")).to_have_text("城关镇人民政府")

    acknowledge_an_alert(page, base, world)
    check_export(page, base, tmp_path)
    page.close()
    assert problems == []


def acknowledge_an_alert(page, base: str, world: World) -> None:
    """Acknowledge 城关镇's alert from the inbox and see who did it."""
    from playwright.sync_api import expect

    page.goto(base + "/console/alerts")
    page.locator(f"button[data-alert='{world.alerts['C001']}']").click()
    expect(page.locator(".flash")).to_have_text("已确认告警")
    page.goto(base + "/console/alerts?state=acknowledged")
    row = page.locator("#table-alerts tbody tr").first
    expect(row).to_contain_text("已确认")
    expect(row).to_contain_text(USERS["org_admin"])


def check_export(page, base: str, tmp_path: Path) -> None:
    """Download the officials page as XLSX and read it back."""
    page.goto(base + "/console/officials")
    with page.expect_download() as download_info:
        page.get_by_role("link", name="导出 Excel").click()
    target = tmp_path / "officials.xlsx"
    download_info.value.save_as(target)
    sheet = load_workbook(target).worksheets[0]
    header = [cell.value for cell in next(sheet.iter_rows(max_row=1))]
    assert header[:2] == ["干部编码", "姓名"]
    assert sheet.max_row == 41  # the header and the forty demo officials


def test_unit_admin_is_refused_another_units_page(served, browser):
    from playwright.sync_api import expect

    base, world = served
    problems: list[str] = []
    page = open_signed_in(browser, base, "unit_admin", problems)
    expect(page.get_by_role("heading", level=1)).to_have_text("监测总览")
    options = page.locator("#filter-unit option").all_inner_texts()
    assert "城关镇东街社区" in options and "青山乡人民政府" not in options
    response = page.goto(f"{base}/console/units/{world.units['XZ101']}")
    assert response.status == 404
    expect(page.get_by_role("heading", level=1)).to_have_text("资源不存在")
    response = page.goto(f"{base}/console/units/{world.units['XZ100']}")
    assert response.status == 200
    expect(page.get_by_role("heading", level=1)).to_have_text("城关镇人民政府")
    page.close()
    assert problems == []
