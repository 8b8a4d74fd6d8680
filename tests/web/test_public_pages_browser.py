"""Public pages in a real browser: the API docs under the strict CSP, and accessibility.

Chromium comes from Debian (/usr/bin/chromium); missing, it fails under CI and skips elsewhere.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from axe_playwright_python.sync_playwright import Axe
from flask import current_app
from sqlalchemy import update

from backend.extensions import db
from backend.models import Invitation
from backend.services.accounts.api_clients import create_client
from backend.wiring import token_codec
from tests.support.browser import chromium, require_chromium, served_app
from tests.support.invitations import issue

pytestmark = [pytest.mark.browser, pytest.mark.slow]


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


# --- accessibility: every public page passes axe-core at WCAG 2.2 AA -------------------------
WCAG_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
PHONE = {"width": 375, "height": 667}
DESKTOP = {"width": 1280, "height": 800}
FORGED = "AAAAAAAAAAAAAAAAAAAA.BBBBBBBBBBBBBBBBBBBBBBBBBBB"


def violations(page) -> list[str]:
    """Run axe-core (from the pinned axe-playwright-python) on the page at WCAG 2.2 AA."""
    found = Axe().run(page, options={"runOnly": {"type": "tag", "values": WCAG_AA},
                                     "resultTypes": ["violations"]})
    return [f"{v['id']} ({v['impact']}): {v['help']} at "
            f"{[n['target'] for n in v['nodes']][:3]}" for v in found.response["violations"]]


@pytest.fixture(scope="module")
def links(served):
    """Issue links in every state a rater can meet; return their URLs by state."""
    app, _ = served
    with app.app_context():
        event, used, expired, revoked = (i["token"] for i in issue(4, prefix="AXE"))
        ballot = campaign_ballot()
        client = app.test_client()
        receipt = client.post(f"/api/v1/invitations/{used}/rating", json={"score": 9}
                              ).json["receipt"]
        codec = token_codec(app)
        now = datetime.now(UTC)
        db.session.execute(update(Invitation).where(Invitation.token == codec.verify(expired))
                           .values(expires_at=now - timedelta(days=1)))
        db.session.execute(update(Invitation).where(Invitation.token == codec.verify(revoked))
                           .values(revoked_at=now))
        db.session.commit()
    return {"event": event, "ballot": ballot, "used": used, "expired": expired,
            "revoked": revoked, "receipt": receipt}


def campaign_ballot() -> str:
    """Create a small campaign through its API; return a ballot's token."""
    _, key = create_client(db.session, "axe", ["campaigns:write"], [])
    closes = (datetime.now(UTC) + timedelta(days=3)).isoformat()
    body = {"code": "AXE-1", "name": "民主测评", "template": "democratic_appraisal",
            "period": "2026-Q4", "closes_at": closes,
            "assignments": [{"rater": {"code": "R1", "name": "评价人"}, "group": "peer",
                             "targets": ["C001", "C002"]}]}
    response = current_app.test_client().post("/api/v1/campaigns", json=body,
                                              headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 201, response.json
    return response.json["ballots"][0]["token"]


def checked(browser, url: str, viewport=PHONE, then=None) -> list[str]:
    """Open a page (and do `then` on it), returning its axe violations."""
    page = browser.new_page(viewport=viewport)
    try:
        page.goto(url)
        if then is not None:
            then(page)
            page.wait_for_load_state()
        return violations(page)
    finally:
        page.close()


def submit_empty(page) -> None:
    page.locator("button[type=submit]").click()


def submit_scored(page) -> None:
    page.locator("label[for=score-0-9]").click()
    page.locator("button[type=submit]").click()


def wrong_sign_in(page) -> None:
    page.fill("input[name=username]", "nobody")
    page.fill("input[name=password]", "not-the-password")
    page.locator("button[type=submit]").click()


def public_pages(base: str, links: dict) -> dict[str, tuple]:
    """Return every public page a person can see: (url, viewport, action) by name."""
    r = f"{base}/r/"
    return {
        "event form": (r + links["event"], PHONE, None),
        "event form with errors": (r + links["event"], PHONE, submit_empty),
        "ballot form": (r + links["ballot"], PHONE, None),
        "ballot form with errors": (r + links["ballot"], PHONE, submit_empty),
        "thanks and receipt": (r + links["event"], PHONE, submit_scored),
        "link used": (r + links["used"], PHONE, None),
        "link expired": (r + links["expired"], PHONE, None),
        "link revoked": (r + links["revoked"], PHONE, None),
        "link invalid": (r + FORGED, PHONE, None),
        "receipt page": (f"{base}/receipt/{links['receipt']}", PHONE, None),
        "unknown receipt": (f"{base}/receipt/{'0' * 32}", PHONE, None),
        "error page": (f"{base}/no-such-page", PHONE, None),
        "console sign-in": (f"{base}/console/login", DESKTOP, None),
        "console sign-in refused": (f"{base}/console/login", DESKTOP, wrong_sign_in),
    }


def test_every_public_page_passes_axe_core_at_wcag_2_2_aa(served, browser, links):
    _, base = served
    found = {name: checked(browser, url, viewport, then)
             for name, (url, viewport, then) in public_pages(base, links).items()}
    assert {name: v for name, v in found.items() if v} == {}


def test_the_busy_page_passes_axe_core_too(served, browser):
    app, base = served
    app.config["RATELIMIT_PUBLIC"] = "1/minute"
    try:
        page = browser.new_page(viewport=PHONE)
        page.goto(f"{base}/r/{FORGED[:-1]}C")
        response = page.goto(f"{base}/r/{FORGED[:-1]}D")
        assert response.status == 429
        assert violations(page) == []
        page.close()
    finally:
        app.config["RATELIMIT_PUBLIC"] = "100000/minute"


def test_axe_finds_what_it_should(served, browser):
    page = browser.new_page(viewport=PHONE)
    page.set_content('<html lang="zh-CN"><body><main><p style="color:#aaa;background:#fff">'
                     '浅色文字</p><img src="x.png"></main></body></html>')
    assert {v.split(" ")[0] for v in violations(page)} >= {"color-contrast", "image-alt"}
    page.close()


def test_the_api_docs_pass_axe_core_open_tried_and_authorizing(served, browser):
    _, base = served
    page = browser.new_page(viewport=DESKTOP)
    page.goto(f"{base}/api/docs")
    page.wait_for_selector(".opblock")
    for control in page.locator(".opblock-summary-control").all() + page.locator(
            ".models-control").all():
        control.click()
    page.wait_for_timeout(500)
    found = {"every operation open": violations(page)}
    page.locator(".try-out__btn").first.click()
    found["trying one out"] = violations(page)
    page.locator(".btn.authorize").first.click()
    page.wait_for_selector(".modal-ux")
    found["authorizing"] = violations(page)
    page.close()
    assert {state: v for state, v in found.items() if v} == {}
