"""Flask extensions, created unbound and attached in create_app (db is defined with the models)."""

from __future__ import annotations

import contextlib
import logging
import math
import time

import redis
from flask import g, request
from flask_limiter import Limiter
from flask_migrate import Migrate
from flask_smorest import Api
from redis import exceptions as redis_errors

from backend.models.base import db as db  # re-exported: entrypoints take db from here

log = logging.getLogger(__name__)
# The job broker is out of reach: the outbox still holds the work, the cron sweep sends it.
BROKER_ERRORS = (redis_errors.ConnectionError, redis_errors.TimeoutError)


def client_address() -> str:
    """Return the client address (ProxyFix has already applied TRUSTED_PROXIES)."""
    return address_of(request.environ)


def address_of(environ: dict) -> str:
    """Return the client address of a WSGI request (what `request.remote_addr` reads)."""
    return environ.get("REMOTE_ADDR") or "unknown"


migrate = Migrate()
api = Api()
# X-RateLimit headers would cost two more storage reads on every public request; a refused
# request gets Retry-After (add_retry_after). If Redis fails, limits fall back to memory
# rather than refusing raters.
limiter = Limiter(key_func=client_address, default_limits=[], headers_enabled=False,
                  in_memory_fallback_enabled=True, swallow_errors=True)


def add_retry_after(response):
    """Tell a rate-limited client when to come back (Retry-After, in seconds).

    The seconds come from the limit that refused the request: a self-counting endpoint left
    them in `g.retry_after`, else Flask-Limiter's current limit tells.
    """
    if response.status_code == 429 and "Retry-After" not in response.headers:
        seconds = g.pop("retry_after", None)
        current = limiter.current_limit if seconds is None else None
        seconds = seconds or 60
        if current is not None:
            with contextlib.suppress(Exception):  # storage trouble: keep the default
                seconds = max(1, math.ceil(current.reset_at - time.time()))
        response.headers["Retry-After"] = str(seconds)
    return response


def redis_connection(app):
    """Return the app's Redis client (created on first use), or None in embedded mode."""
    url = app.config.get("REDIS_URL")
    if not url:
        return None
    if "redis" not in app.extensions:

        app.extensions["redis"] = redis.Redis.from_url(url, socket_timeout=5,
                                                       socket_connect_timeout=2,
                                                       health_check_interval=30)
    return app.extensions["redis"]
