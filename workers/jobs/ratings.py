"""Release pending ratings into the ledger in shuffled batches (every minute).

In production a batch waits for RATING_BATCH_MIN ratings (a day's ratings go out at the end of
their day whatever their number). The embedded demo releases every minute whatever the batch
size, so that a newcomer sees a rating arrive; it says so when it prints its links.
"""

from __future__ import annotations

import logging

from flask import current_app

from backend import wiring
from backend.extensions import db
from backend.services.ratings.release import release
from workers.jobs.push import logged

log = logging.getLogger(__name__)


@logged
def release_ratings() -> None:
    """Release every batch of pending ratings that is due."""
    embedded = not current_app.config["REDIS_URL"]
    report = release(db.session, wiring.release_context(batch_min=1 if embedded else None))
    if report.ratings or report.openings:
        log.info("released %d ratings in %d batches (%d openings); %d waiting",
                 report.ratings, report.batches, report.openings, report.waiting)
    if report.unreadable:
        log.error("%d pending items cannot be opened with RATING_SEAL_KEYS", report.unreadable)
