"""Rate limits of the rating links: per link, so a meeting hall on one address can vote.

A 民主测评 of 200 raters on one Wi-Fi network shares one address, so the pages, the opening
beacon and the invitation reads of a link are limited per link (RATELIMIT_PUBLIC each), and
submissions per link and address. A token whose signature does not verify counts against its
client address instead, in the same shared scope on every endpoint, so guessing tokens stays
limited per address however the guesses are spread over pages and the API.

Submissions, the busiest public requests, are counted by `count_submission` rather than by
Flask-Limiter's decorator: the same limits, keys and storage, with the strategy Flask-Limiter
built called directly (one storage round trip per limit; in Redis, limits' own script on a
connection the thread keeps, `hit`), and the extension's own hooks left out of these
requests. While the storage is unreachable, Flask-Limiter's own path counts them, so its
in-memory fallback and its return to the storage hold for them as for any page.
"""

from __future__ import annotations

import functools
import logging
import math
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

from flask import Flask, current_app, g, request
from limits import RateLimitItem, parse_many
from limits.storage import RedisStorage
from limits.strategies import FixedWindowRateLimiter, RateLimiter
from redis.exceptions import NoScriptError
from werkzeug.exceptions import TooManyRequests

from backend.extensions import client_address, limiter
from backend.wiring import token_codec

SCOPE = "rating-links"
log = logging.getLogger("flask-limiter")  # refusals are logged where Flask-Limiter logs its own
# The endpoints that count themselves (count_submission): Flask-Limiter's hooks skip them.
SELF_COUNTED = frozenset({"invitations.RatingResource", "rating.submit"})


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
    return submission_key()[0]


def link_and_address_key(raw: str | None, address: str) -> str:
    """Return a submission's limit key: its link and address; a forged link's, its address."""
    return f"submit:{raw}:{address}" if raw else f"guess:{address}"


def opening_limit():
    """Limit showing a link (page, beacon, invitation read) per link."""
    return limiter.shared_limit(public_limit, scope=SCOPE, key_func=per_link)


def submission_limit():
    """Limit submitting through a link per link and address."""
    return limiter.shared_limit(public_limit, scope=SCOPE, key_func=per_link_and_address)


def retry_after(reset_at: float) -> int:
    """Return the seconds until a window resets (Retry-After), at least one."""
    return max(1, math.ceil(reset_at - time.time()))


@functools.lru_cache(maxsize=8)
def limit_items(text: str) -> tuple[RateLimitItem, ...]:
    """Parse a limit setting (e.g. "60/minute;1000/hour"), the tightest first as checked."""
    return tuple(sorted(parse_many(text)))


def submission_key() -> tuple[str, str | None]:
    """Return a submission's limit key and its verified raw token (None when forged)."""
    raw = verified_link()
    return link_and_address_key(raw, client_address()), raw


def _counted_by_extension() -> None:
    """Flask-Limiter's own check of a submission (its storage fallback and recovery)."""


counted_by_extension = submission_limit()(_counted_by_extension)


# Where the lean path (backend/lean_submission.py) leaves the count it took of a request
# it hands on to the view: a WSGI environ key, which no client header can set.
COUNTED = "suishiping.submission_counted"


@dataclass(frozen=True)
class Counted:
    """A submission counted in the limiter's storage: its raw token and the limit it spent."""

    raw: str | None
    keys: tuple[str, ...]  # the storage's key parts: the key prefix, if any, and the key
    spent: RateLimitItem | None = None


_kept = threading.local()


def kept_client(storage: RedisStorage):
    """Return this thread's client of the storage's Redis, which keeps one connection.

    A client of the storage's own pool takes a connection from it for each command and checks
    it for unread data before use (a poll), then gives it back: half the CPU of a count.
    Each thread keeps one connection instead (redis-py's single-connection client); it goes
    back to the pool when the thread ends.
    """
    kept = getattr(_kept, "client", None)
    if kept is None or kept[0] is not storage:
        client = type(storage.storage)(connection_pool=storage.storage.connection_pool,
                                       single_connection_client=True)
        kept = _kept.client = (storage, client)
    return kept[1]


def hit(strategy: RateLimiter, item: RateLimitItem, *identifiers: str) -> bool:
    """`strategy.hit(item, *identifiers)`, for a fixed window in Redis on a kept connection.

    The same count in the same key: limits' own script (increment, and set the window's
    expiry on the first hit) on limits' own key, run on this thread's connection. Any other
    strategy or storage, and a server that lost its scripts, go through limits itself.
    """
    storage = strategy.storage
    if type(strategy) is not FixedWindowRateLimiter or type(storage) is not RedisStorage:
        return strategy.hit(item, *identifiers)
    key = storage.prefixed_key(item.key_for(*identifiers))
    try:
        count = kept_client(storage).evalsha(storage.lua_incr_expire.sha, 1, key,
                                             item.get_expiry(), 1)
    except NoScriptError:  # a restarted server: limits' call loads the script again
        return strategy.hit(item, *identifiers)
    return int(count) <= item.amount


def count_in_storage(key: str, raw: str | None, prefix: str | None,
                     setting: str) -> Counted | None:
    """Count a submission's key against `setting` in the limiter's storage, the tightest first.

    None when Flask-Limiter must count it itself: its storage is on the memory fallback, or
    unreachable now (the extension then falls back and logs it).
    """
    strategy = limiter.limiter
    if strategy.storage is not limiter.storage:  # Flask-Limiter is on its memory fallback
        return None
    keys = (prefix, key) if prefix else (key,)
    try:
        spent = next((item for item in limit_items(setting)
                      if not hit(strategy, item, *keys, SCOPE)), None)
    except Exception:  # storage unreachable
        return None
    return Counted(raw, keys, spent)


def count_submission() -> str | None:
    """Count this submission against its limits; 429 with Retry-After when one is spent.

    Returns the link's verified raw token (None when forged), so the view need not verify
    it again. The key, scope and limits are `submission_limit`'s, checked in the same order
    (the tightest first, stopping at the first spent); a refused request gets the same 429.
    A request the lean path has counted already is not counted again.
    """
    counted = request.environ.get(COUNTED)
    if counted is None:
        key, raw = submission_key()
        if not limiter.enabled:  # RATELIMIT_ENABLED off: nothing is counted anywhere
            return raw
        counted = count_in_storage(key, raw, current_app.config.get("RATELIMIT_KEY_PREFIX"),
                                   public_limit())
        if counted is None:
            counted_by_extension()
            return raw
    if counted.spent is not None:
        log.info("ratelimit %s (%s) exceeded at endpoint: %s", counted.spent, counted.keys[-1],
                 SCOPE)
        g.retry_after = seconds_until_reset(limiter.limiter, counted.spent, counted.keys)
        raise TooManyRequests()
    return counted.raw


def seconds_until_reset(strategy, item: RateLimitItem, keys: Sequence[str]) -> int:
    """Return the Retry-After of a spent limit, as Flask-Limiter's window reports it."""
    try:
        return retry_after(int(strategy.get_window_stats(item, *keys, SCOPE).reset_time + 1))
    except Exception:  # storage trouble: the default of a refused request
        return 60


def skip_self_counted(hook, passes_response: bool):
    """Wrap a Flask-Limiter hook so that it leaves the self-counted endpoints alone."""
    @functools.wraps(hook)
    def unless_self_counted(*args):
        if request.endpoint in SELF_COUNTED:
            return args[0] if passes_response else None
        return hook(*args)

    return unless_self_counted


def init_app(app: Flask) -> None:
    """Bind Flask-Limiter; its request hooks skip the endpoints that count themselves."""
    registries = (app.before_request_funcs, app.after_request_funcs,
                  app.teardown_request_funcs)
    earlier = [list(registry.get(None, ())) for registry in registries]
    limiter.init_app(app)
    for registry, known in zip(registries, earlier, strict=True):
        registry[None] = [hook if hook in known else
                          skip_self_counted(hook, registry is app.after_request_funcs)
                          for hook in registry.get(None, ())]
