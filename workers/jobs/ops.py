"""Operational jobs."""

from __future__ import annotations

import logging
import time

from flask import current_app

from backend.extensions import redis_connection

log = logging.getLogger(__name__)
HEARTBEAT_KEY = "ssp:cron:heartbeat"


def heartbeat() -> None:
    """Record that periodic jobs are being scheduled and run."""
    now = time.time()
    connection = redis_connection(current_app)
    if connection is not None:
        connection.set(HEARTBEAT_KEY, str(now))
    else:
        current_app.extensions["heartbeat"] = now
    log.debug("heartbeat %s", now)


def last_heartbeat() -> float | None:
    """Return when the heartbeat job last ran (epoch seconds), if known."""
    connection = redis_connection(current_app)
    if connection is None:
        return current_app.extensions.get("heartbeat")
    value = connection.get(HEARTBEAT_KEY)
    return float(value) if value else None
