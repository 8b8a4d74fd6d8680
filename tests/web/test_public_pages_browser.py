"""Public pages in a real browser: the API docs under the strict CSP, and accessibility.

Chromium comes from Debian (/usr/bin/chromium); missing, it fails under CI and skips elsewhere.
"""

from __future__ import annotations

import pytest

from tests.support.browser import chromium, require_chromium, served_app

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """Serve an app on a temporary SQLite file over real HTTP; yield (app, base URL)."""
    require_chromium()
    with served_app(tmp_path_factory.mktemp("public") / "public.db") as served:
        yield served


@pytest.fixture(scope="module")
def browser(served):
    with chromium() as launched:
        yield launched


def test_api_docs_render_every_operation_under_the_strict_policy(served, browser):
    _, base = served
    page = browser.new_page()
    violations: list[str] = []
    page.on("console", lambda m: violations.append(m.text)
            if "Content Security Policy" in m.text else None)
    page.on("pageerror", lambda error: violations.append(str(error)))
    response = page.goto(f"{base}/api/docs")
    assert "unsafe-inline" not in response.headers["content-security-policy"]
    page.wait_for_selector(".opblock", timeout=15_000)
    document = page.evaluate("fetch('/api/openapi.json').then(r => r.json())")
    operations = sum(len([m for m in ops if m != "parameters"])
                     for ops in document["paths"].values())
    assert page.locator(".opblock").count() == operations
    page.locator(".opblock-summary").first.click()
    page.wait_for_timeout(300)
    assert violations == []
