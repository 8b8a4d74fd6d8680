"""Delivery jobs: relay the outbox, watch delivery deadlines, purge personal data.

The ingestion enqueues `relay_deliveries` with job id RELAY_JOB_ID after each commit; cron
runs it every minute as a safety net (the outbox table is the source of truth, so a lost
Redis job never loses a delivery). A relay that stops at its bound hands over to a follow-up
job under the other id, because a running job's own id is still taken.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable

from flask import Flask, current_app

from backend import wiring
from backend.extensions import db
from backend.services.invitations.deliveries import MessageSettings, Senders, relay_due
from backend.services.invitations.delivery_checks import check_deadlines, purge_contacts
from workers.queues import job_queue

log = logging.getLogger(__name__)

RELAY_JOB_ID = "deliveries-relay"
RELAY_FOLLOW_UP_JOB_ID = "deliveries-relay-follow-up"
BATCH_SIZE = 200
MAX_BATCHES = 20


def logged(job: Callable[[], None]) -> Callable[[], None]:
    """Log a job's unexpected error, roll its session back, and re-raise so it is retried."""
    @functools.wraps(job)
    def run() -> None:
        try:
            job()
        except Exception:
            log.exception("job %s failed", job.__name__)
            db.session.rollback()
            raise

    return run


def build_senders(app: Flask) -> Senders:
    """Build the relay's senders, codec, vault and settings from an app's configuration."""
    wiring.token_cache(app)  # first: wiring's lock is not re-entrant (wechat_client needs it)
    return Senders(codec=wiring.token_codec(app), vault=wiring.vault(app),
                   settings=MessageSettings.from_config(app.config),
                   sms=wiring.sms_client(app), wechat=wiring.wechat_client(app),
                   sealer=wiring.sealer(app))


@logged
def relay_deliveries() -> None:
    """Send every due delivery; enqueue a follow-up when more remain after the bound."""
    relay_then(continue_relay, RELAY_FOLLOW_UP_JOB_ID)


@logged
def continue_relay() -> None:
    """Carry on a relay that stopped at its bound."""
    relay_then(relay_deliveries, RELAY_JOB_ID)


def relay_then(follow_up: Callable[[], None], follow_up_id: str) -> None:
    """Relay up to MAX_BATCHES batches, then hand what remains to `follow_up`."""
    app = current_app._get_current_object()
    senders = build_senders(app)
    for _ in range(MAX_BATCHES):
        report = relay_due(db.session, senders, wiring.now(), batch_size=BATCH_SIZE)
        if report.claimed:
            log.info("deliveries relayed: %d claimed, %s", report.claimed,
                     dict(report.outcomes))
        if not report.more:
            return
    job_queue(app).enqueue(follow_up, job_id=follow_up_id)


@logged
def check_delivery_deadlines() -> None:
    """Raise alerts for invitations not delivered by their deadline."""
    tz = wiring.timezone()
    changed = check_deadlines(db.session, wiring.now(), tz)
    if changed:
        log.warning("delivery deadlines missed: %d alerts raised or refreshed", changed)


@logged
def purge_personal_data() -> None:
    """Erase contacts past their retention period and stale mini-program sessions."""
    days = current_app.config["PERSONAL_DATA_RETENTION_DAYS"]
    report = purge_contacts(db.session, wiring.now(), days)
    log.info("personal data purged: %d deliveries, %d mini-program sessions",
             report.deliveries, report.mp_sessions)
