"""The console's rollup job: every minute, recompute the recent days (idempotent)."""

from __future__ import annotations

import logging

from backend import wiring
from backend.extensions import db
from backend.services.reports.rollups import refresh
from workers.jobs.deliveries import logged

log = logging.getLogger(__name__)


@logged
def refresh_rollups() -> None:
    """Bring the console rollups up to date; a concurrent run makes this one a no-op."""
    report = refresh(db.session, wiring.now(), wiring.timezone())
    log.info("console rollups: %d days, %d rows changed%s", report.days, report.changed,
             " (skipped: another run holds the lock)" if report.skipped else "")
