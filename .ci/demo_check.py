"""Prove `make demo`'s path as a newcomer walks it, against a server started by `make demo`.

Usage: demo_check.py BASE_URL LOG. LOG is what `make demo` printed (the seed's links and
logins). Standard library only: it runs beside a base install that has no test extras.
Checks: /healthz answers; the first printed rating link opens and takes a rating through the
page's own form; the link then reads as used; the org_admin login printed by the seed opens
the console's first page.
"""

from __future__ import annotations

import html
import http.cookiejar
import json
import re
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path


def opener() -> urllib.request.OpenerDirector:
    """Return a client that keeps cookies (the form's CSRF token lives in the session)."""
    return urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))


def fetch(client, url: str, form: dict | None = None) -> tuple[int, str]:
    """GET (or POST a form); return the status and the body, errors included."""
    data = urllib.parse.urlencode(form, doseq=True).encode() if form is not None else None
    try:
        with client.open(url, data=data, timeout=30) as answer:
            return answer.status, answer.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode("utf-8", "replace")


def hidden(page: str, name: str) -> str:
    """Return the value of a hidden input of a page."""
    found = re.search(rf'name="{name}"\s+value="([^"]*)"', page)
    assert found, f"no hidden field {name} in the page"
    return html.unescape(found.group(1))


def wait_ready(base: str, seconds: int = 420) -> None:
    """Wait until the server answers /healthz."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            status, _ = fetch(opener(), f"{base}/healthz")
            if status == 200:
                return
        except OSError:
            pass
        assert time.monotonic() < deadline, "the demo server never answered /healthz"
        time.sleep(1)


def rate_printed_link(base: str, printed: str) -> None:
    """Open the first printed rating link, rate through its form, and see it used."""
    tokens = re.findall(re.escape(base) + r"/r/([A-Za-z0-9_.~-]+)", printed)
    assert tokens, "the seed printed no rating link for " + base
    token, client = tokens[0], opener()
    status, page = fetch(client, f"{base}/r/{token}")
    assert status == 200, f"rating page answered {status}"
    codes = sorted(set(re.findall(r'name="score-([^"]+)"', page)))
    assert codes, "the rating page shows no score to choose"
    form = {"csrf_token": hidden(page, "csrf_token"), "rendered": hidden(page, "rendered"),
            **{f"score-{code}": "9" for code in codes}}
    status, page = fetch(client, f"{base}/r/{token}", form)
    assert status in (200, 201), f"submitting the form answered {status}: {page[:500]}"
    status, body = fetch(opener(), f"{base}/api/v1/invitations/{token}")
    assert status == 409 and json.loads(body)["status"] == "used", (status, body[:300])
    print(f"demo check: rated {base}/r/{token[:6]}… through its page")


def console_as_admin(base: str, printed: str) -> None:
    """Sign in with the printed org_admin login and open the console's first page."""
    found = re.search(r"org_admin.*?用户名\s*(\S+)\s+密码\s*(\S+)", printed)
    assert found, "the seed printed no org_admin login (用户名 ... 密码 ...)"
    username, password = found.group(1), found.group(2)
    client = opener()
    status, page = fetch(client, f"{base}/console/login")
    assert status == 200, f"login page answered {status}"
    form = {"csrf_token": hidden(page, "csrf_token"), "username": username,
            "password": password}
    status, page = fetch(client, f"{base}/console/login", form)
    assert status == 200 and "退出" in page, f"signing in as {username} failed ({status})"
    status, page = fetch(client, f"{base}/console/")
    assert status == 200, f"console answered {status}"
    print(f"demo check: console opened as {username}")


def main() -> None:
    base, log = sys.argv[1].rstrip("/"), sys.argv[2]
    wait_ready(base)
    printed = Path(log).read_text(encoding="utf-8")
    rate_printed_link(base, printed)
    console_as_admin(base, printed)
    print("demo check: passed")


if __name__ == "__main__":
    main()
