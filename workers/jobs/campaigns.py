"""Campaign jobs: close campaigns on time; SMS reminders to raters who have not answered yet.

A reminder round goes into the delivery outbox: one row per rater not answered yet, naming
neither rater nor ballot in clear; the relay composes the ballot SMS and sends it, so reminders
share its retries and records.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from flask import current_app

from backend import wiring
from backend.extensions import db
from backend.services.campaigns.lifecycle import close_overdue
from backend.services.campaigns.printing import PrintContext, run_print
from backend.services.campaigns.progress import send_reminders
from workers.jobs.deliveries import RELAY_JOB_ID, logged, relay_deliveries
from workers.queues import job_queue

log = logging.getLogger(__name__)

# A manual close records no audit entry, so neither does this one: the actor names it in logs.
AUTO_CLOSE_ACTOR = "system:auto-close"


def reminder_interval() -> timedelta:
    """Return the least time between two reminders to one rater (default 24 hours)."""
    hours = current_app.config.get("CAMPAIGN_REMINDER_INTERVAL_HOURS", 24)
    return timedelta(hours=float(hours))


def within_hours(moment: datetime) -> bool:
    """Tell whether reminders may go out now (local hours, default 09:00 to 20:00)."""
    first, last = current_app.config.get("CAMPAIGN_REMINDER_HOURS", (9, 20))
    return first <= moment.astimezone(wiring.timezone()).hour < last


def queue_reminders(any_hour: bool = False) -> int:
    """Queue due reminders for open campaigns, then wake the delivery relay; return how many."""
    now = wiring.now()
    if not (any_hour or within_hours(now)):
        return 0  # no texts at night: the next hourly run inside the window sends them
    queued = send_reminders(db.session, wiring.sealer(), wiring.vault(), now,
                            reminder_interval())
    if queued:
        log.info("campaign reminders queued: %d", queued)
        job_queue().enqueue(relay_deliveries, queue="high", job_id=RELAY_JOB_ID)
    return queued


@logged
def send_campaign_reminders() -> None:
    """Remind non-responders of open campaigns by SMS (hourly; at most N per rater)."""
    queue_reminders()


def close_due_campaigns() -> int:
    """Close every open campaign whose closing time has passed; return how many."""
    closed = close_overdue(db.session, wiring.sealer(), wiring.now())
    for code, revoked in closed.items():
        log.info("campaign %s closed by %s at its closing time: %d unused ballots revoked",
                 code, AUTO_CLOSE_ACTOR, revoked)
    if closed:
        log.info("campaigns closed on time: %d", len(closed))
    return len(closed)


@logged
def close_overdue_campaigns() -> None:
    """Close campaigns past their closing time, as a manual close does (every five minutes)."""
    close_due_campaigns()


def print_slips(print_id: int) -> None:
    """Render a queued print of a campaign's slips, with progress (the console's 打印测评票)."""
    config = current_app.config
    context = PrintContext(wiring.sealer(), wiring.token_codec(), config["PUBLIC_BASE_URL"],
                           wiring.timezone(), wiring.vocabulary(), config.get("SLIP_FONT_PATH"))
    status = run_print(db.session, context, print_id, wiring.now())
    log.info("slip print %s: %s", print_id, status)
