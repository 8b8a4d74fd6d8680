"""Rate limits of the rating links: per link, so a meeting hall on one address can vote.

A 民主测评 of 200 raters on one Wi-Fi network shares one address, so the pages, the opening
beacon and the invitation reads of a link are limited per link (RATELIMIT_PUBLIC each), and
submissions per link and address. A token whose signature does not verify counts against its
client address instead, in the same shared scope on every endpoint, so guessing tokens stays
limited per address however the guesses are spread over pages and the API.
"""

from __future__ import annotations

from flask import current_app, request

from backend.extensions import client_address, limiter
from backend.wiring import token_codec

SCOPE = "rating-links"


def public_limit() -> str:
    """Return the public limit (RATELIMIT_PUBLIC, e.g. 60/minute)."""
    return current_app.config["RATELIMIT_PUBLIC"]


def verified_link() -> str | None:
    """Return the raw token of this request's link when its signature verifies."""
    presented = (request.view_args or {}).get("token", "")
    return token_codec().verify(presented) if presented else None


def per_link() -> str:
    """Key a request by its link; a forged link by the client address."""
    raw = verified_link()
    return f"link:{raw}" if raw else f"guess:{client_address()}"


def per_link_and_address() -> str:
    """Key a submission by link and address; a forged link by the client address."""
    raw = verified_link()
    return f"submit:{raw}:{client_address()}" if raw else f"guess:{client_address()}"


def opening_limit():
    """Limit showing a link (page, beacon, invitation read) per link."""
    return limiter.shared_limit(public_limit, scope=SCOPE, key_func=per_link)


def submission_limit():
    """Limit submitting through a link per link and address."""
    return limiter.shared_limit(public_limit, scope=SCOPE, key_func=per_link_and_address)
