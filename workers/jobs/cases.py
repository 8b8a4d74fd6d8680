"""The cases' clock (every 10 minutes): overdue cases escalate, 回头看 checks fall due."""

from __future__ import annotations

import logging
from zoneinfo import ZoneInfo

from flask import current_app

from backend import wiring
from backend.extensions import db
from backend.services.cases import watch
from workers.jobs.push import logged

log = logging.getLogger(__name__)


@logged
def watch_cases() -> None:
    """Escalate overdue cases to the org admin and run the due 回头看 checks; commit."""
    tz = ZoneInfo(current_app.config["TIMEZONE"])
    report = watch.run(db.session, wiring.now(), wiring.case_rules(), tz)
    db.session.commit()
    if report.escalated or report.rechecked:
        log.info("cases: %d escalated, %d rechecked, %d reopened", report.escalated,
                 report.rechecked, report.reopened)
