"""Browser tests' shared pieces: Debian's Chromium, and an app served over real HTTP."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from pathlib import Path

from werkzeug.serving import make_server

from backend import create_app
from backend.extensions import db
from tests.conftest import ROOT, base_config, missing

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
ARTIFACTS = ROOT / "test-artifacts"


def require_chromium() -> None:
    """Fail under CI, skip elsewhere, when Debian's Chromium is missing."""
    if not Path(CHROMIUM).exists():
        missing("Chromium", f"{CHROMIUM} not found")


@contextlib.contextmanager
def served_app(database: Path | str, **overrides) -> Iterator[tuple]:
    """Serve a fresh app on a SQLite file (or a database URI) over HTTP; yield (app, base URL)."""
    uri = database if isinstance(database, str) else f"sqlite:///{database}"
    app = create_app({**base_config(uri), "PUBLIC_BASE_URL": "http://127.0.0.1", **overrides})
    with app.app_context():
        db.create_all()
    try:
        with serving(app) as base:
            yield app, base
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


@contextlib.contextmanager
def serving(app) -> Iterator[str]:
    """Serve an app over HTTP on a free port of 127.0.0.1; yield its base URL."""
    server = make_server("127.0.0.1", 0, closing_bodies(app), threaded=True)
    base = f"http://127.0.0.1:{server.server_port}"
    app.config["PUBLIC_BASE_URL"] = base
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield base
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def closing_bodies(app):
    """Close every response body, even when the browser drops the connection mid-response.

    Werkzeug's development server closes a body only after draining the socket, and a reset
    during that drain skips the close: a static file (the 1 MB chart library) is then left
    open until the garbage collector finds it, in whichever test runs at that moment. A
    generator's ``finally`` runs when it is exhausted, closed or collected, so the file is
    always closed explicitly.
    """

    def wsgi(environ, start_response):
        body = app(environ, start_response)

        def chunks():
            try:
                yield from body
            finally:
                if hasattr(body, "close"):
                    body.close()

        return chunks()

    return wsgi


@contextlib.contextmanager
def chromium() -> Iterator:
    """Launch Debian's Chromium through Playwright."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield browser
        finally:
            browser.close()
