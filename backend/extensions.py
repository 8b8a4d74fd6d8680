"""Flask extensions, created unbound and attached in create_app."""

from __future__ import annotations

import contextlib
import logging
import math
import threading
import time

from flask import request
from flask_limiter import Limiter
from flask_migrate import Migrate
from flask_smorest import Api
from flask_sqlalchemy import SQLAlchemy
from redis import exceptions as redis_errors
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

log = logging.getLogger(__name__)
# The job broker is out of reach: the outbox still holds the work, the cron sweep sends it.
BROKER_ERRORS = (redis_errors.ConnectionError, redis_errors.TimeoutError)

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base with a naming convention so migrations stay stable on SQLite."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def client_address() -> str:
    """Return the client address (ProxyFix has already applied TRUSTED_PROXIES)."""
    return request.remote_addr or "unknown"


db = SQLAlchemy(model_class=Base)
migrate = Migrate()
api = Api()
_jobs_lock = threading.Lock()
# X-RateLimit headers would cost two more storage reads on every public request; a refused
# request gets Retry-After (add_retry_after). If Redis fails, limits fall back to memory
# rather than refusing raters.
limiter = Limiter(key_func=client_address, default_limits=[], headers_enabled=False,
                  in_memory_fallback_enabled=True, swallow_errors=True)


def add_retry_after(response):
    """Tell a rate-limited client when to come back (Retry-After, in seconds)."""
    if response.status_code == 429 and "Retry-After" not in response.headers:
        seconds = 60
        current = limiter.current_limit
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
        import redis

        app.extensions["redis"] = redis.Redis.from_url(url, socket_timeout=5,
                                                       socket_connect_timeout=2,
                                                       health_check_interval=30)
    return app.extensions["redis"]


def job_queue(app=None):
    """Return the app's job queue (RQ or embedded), created on first use."""
    from flask import current_app

    from workers.queues import make_job_queue

    app = app or current_app._get_current_object()
    with _jobs_lock:
        if "jobs" not in app.extensions:
            app.extensions["jobs"] = make_job_queue(app)
    return app.extensions["jobs"]


def wake(func, *args, queue: str, job_id: str) -> str | None:
    """Enqueue a relay of work already committed to an outbox; None if the broker is down.

    The caller has stored the work, so an unreachable Redis only delays it until the next
    cron sweep (every minute); the request that stored it still succeeds.
    """
    try:
        return job_queue().enqueue(func, *args, queue=queue, job_id=job_id)
    except BROKER_ERRORS as exc:
        log.warning("job broker unreachable, %s left to the outbox sweep: %s", job_id, exc)
        return None
