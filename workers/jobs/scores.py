"""Score jobs: publish a period, and the nightly publication of the current periods."""

from __future__ import annotations

import logging

from flask import current_app

from backend import wiring
from backend.extensions import db
from backend.scoring import current_period
from backend.services.cases import open_for_flagged_alerts
from backend.services.ledger.chain import anchor, latest_checkpoint
from backend.services.outbox.push import queue_messages
from backend.services.scores.publication import PublicationReport, publish_period
from backend.services.scores.schemes import scheme_book
from backend.wiring import case_rules, now
from workers.jobs.push import start_relay
from workers.queues import job_queue

log = logging.getLogger(__name__)


def run_publication(period: str, progress=None) -> PublicationReport:
    """Publish one period under the current schemes, then wake the push relay."""
    book = scheme_book(db.session, current_app.extensions["catalogue"])
    checkpoint = anchor(latest_checkpoint(db.session))  # the latest closed day's root
    report = publish_period(db.session, period, book, now(),
                            wiring.timezone(), queue_messages,
                            checkpoint=checkpoint, progress=progress)
    log.info("published %s: %d officials, %d changed, %d alerts", period, report.officials,
             report.changed, report.alerts_raised)
    if report.alerts_raised:  # warning_talk and reassignment_review open cases (整改单)
        open_for_flagged_alerts(db.session, case_rules(), wiring.timezone(), now())
        db.session.commit()
    if report.changed or report.alerts_raised:

        start_relay(queue="high")
    return report


def publish_scores(period: str) -> None:
    """Publish a period (the job behind POST /api/v1/scores/publish)."""
    run_publication(period)


def queue_republication(periods: list[str]) -> list[str]:
    """Queue the publication of periods whose published scores counted excluded ratings.

    Publication writes (and pushes) only the documents that changed. Returns the periods
    queued; a period already queued is not queued twice (the job id is the period's).
    """
    for period in periods:
        job_queue().enqueue(publish_scores, period, queue="low",
                            job_id=f"scores-publish-{period}")
    return list(periods)


def publish_current_periods() -> None:
    """Publish the current month and quarter (or the kinds in SCORES_NIGHTLY)."""
    tz = wiring.timezone()
    for kind in current_app.config["SCORES_NIGHTLY"]:
        run_publication(current_period(kind, now(), tz))
