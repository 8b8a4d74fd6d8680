"""Push jobs: relay the webhook outbox to the assessment core, and the daily checkpoint.

One job sends many rows (an RQ job costs a fork). `start_relay` enqueues one job per lane
(`push-relay-<lane>`, PUSH_RELAY_LANES, default 2) so that several workers share a backlog;
SKIP LOCKED keeps them apart. A lane that finds more than a batch wakes the others, so
enqueueing RELAY_JOB_ID (lane 0) alone also fans out. A job that stops at its bound hands over
to a follow-up under the lane's other id (a running job's id is still taken). When the next
pending row is due
later (a retry, a lease), the job schedules a wake-up `push-relay-at-<epoch>` for that time;
cron's `sweep_webhooks` every minute is the safety net, under ids of its own, so a job lost
with Redis or stuck in a killed worker never strands a row: the outbox table is the truth.
"""

from __future__ import annotations

import functools
import logging
import math
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any

from flask import Flask, current_app

from backend import wiring
from backend.extensions import db
from backend.integrations.assessment_core import WebhookSender, parse_secrets
from backend.services.outbox.push import (
    PENDING,
    RETRY_SCHEDULE,
    PushSettings,
    RelayReport,
    checkpoint,
    next_due,
    relay_due,
)
from workers.queues import job_queue

log = logging.getLogger(__name__)

RELAY_JOB_ID = "push-relay-0"  # lane 0: what a publisher enqueues (or call start_relay)
BATCH_SIZE = 500
MAX_BATCHES = 8
WAKE_HORIZON = timedelta(minutes=10)  # later wake-ups are left to the minute sweep


def logged(job: Callable[..., None]) -> Callable[..., None]:
    """Log a job's unexpected error, roll its session back, and re-raise so it is retried."""
    @functools.wraps(job)
    def run(*args: Any) -> None:
        try:
            job(*args)
        except Exception:
            log.exception("job %s failed", job.__name__)
            db.session.rollback()
            raise

    return run


def push_settings(app: Flask, environ: Mapping[str, str] | None = None) -> PushSettings:
    """Read the PUSH_* knobs from the app's configuration, else from `environ`, else defaults."""
    environ = {} if environ is None else environ

    def get(name: str, default: str) -> str:
        value = app.config.get(name)
        return str(value) if value is not None else environ.get(name) or default

    schedule = tuple(int(s) for s in get("PUSH_RETRY_SCHEDULE", "").split(",") if s.strip())
    return PushSettings(schedule or RETRY_SCHEDULE,
                        timedelta(seconds=float(get("PUSH_LEASE_SECONDS", "600"))),
                        wiring.timezone(app),
                        float(get("PUSH_TIMEOUT", "15")), int(get("PUSH_CONCURRENCY", "8")),
                        int(get("PUSH_RELAY_LANES", "2")))


def build_sender(app: Flask, settings: PushSettings) -> WebhookSender | None:
    """Build the webhook sender, or None when ASSESSMENT_CORE_URL or its secret is unset."""
    url = app.config.get("ASSESSMENT_CORE_URL")
    secrets = parse_secrets(app.config.get("ASSESSMENT_CORE_SECRET"))
    if not url or not secrets:
        return None
    return WebhookSender(url, secrets, timeout=settings.timeout,
                         concurrency=settings.concurrency)


def lane_job_id(lane: int, hop: int = 0) -> str:
    """Return the job id of a relay lane (hop 1 = its follow-up)."""
    return f"push-relay-{lane}" + ("-next" if hop else "")


def start_relay(app: Flask | None = None, queue: str = "default") -> list[str]:
    """Wake the relay: enqueue one job per lane (a lane already queued is not added twice)."""
    app = app or current_app._get_current_object()
    lanes = push_settings(app).lanes
    return [job_queue(app).enqueue(relay_webhooks, lane, 0, queue=queue,
                                   job_id=lane_job_id(lane)) for lane in range(lanes)]


@logged
def relay_webhooks(lane: int = 0, hop: int = 0) -> None:
    """Send due webhooks in batches; then follow up, or wake when the next row is due."""
    app = current_app._get_current_object()
    settings = push_settings(app)
    sender = build_sender(app, settings)
    if sender is None:
        log.info("push: ASSESSMENT_CORE_URL or ASSESSMENT_CORE_SECRET unset, messages stay queued")
        return
    with sender:
        report = relay_batches(app, sender, settings, lane)
    plan_next(app, settings, report, lane, hop)


@logged
def sweep_webhooks() -> None:
    """Cron's safety net: relay as lane 0 under the cron job's own id."""
    relay_webhooks()


def relay_batches(app: Flask, sender: WebhookSender, settings: PushSettings,
                  lane: int) -> RelayReport:
    """Relay up to MAX_BATCHES batches, waking the other lanes when a backlog shows."""
    report = RelayReport()
    for batch in range(MAX_BATCHES):
        report = relay_due(db.session, sender, wiring.now(), BATCH_SIZE, settings)
        if report.claimed:
            log.info("push relayed: %d claimed, %s", report.claimed, dict(report.outcomes))
        if not report.more:
            break
        if batch == 0:
            for other in set(range(settings.lanes)) - {lane}:
                job_queue(app).enqueue(relay_webhooks, other, 0, job_id=lane_job_id(other))
    return report


def plan_next(app: Flask, settings: PushSettings, report: RelayReport, lane: int,
              hop: int) -> None:
    """Hand over at once when rows are due, else schedule a wake-up at the next due time."""
    if report.disabled:
        log.warning("push disabled: the assessment core answered 410 (resolve the alert)")
        return
    due = next_due(db.session)
    db.session.rollback()
    if due is None:
        return
    now = wiring.now()
    wait = (due - now).total_seconds()
    if report.failing:  # the core seems down: pause before the rows not yet tried
        wait = max(wait, float(settings.delay_after(1) or 5))
    if wait <= 0 or report.more:
        job_queue(app).enqueue(relay_webhooks, lane, 1 - hop, job_id=lane_job_id(lane, 1 - hop))
    elif wait <= WAKE_HORIZON.total_seconds():
        at = math.ceil(now.timestamp() + wait)  # lanes waking for the same row share an id
        job_queue(app).enqueue(relay_webhooks, lane, 0, job_id=f"push-relay-at-{at}",
                               delay=timedelta(seconds=at - now.timestamp()))


@logged
def send_checkpoint() -> None:
    """Queue today's checkpoint (count and digest per period) and wake the relay."""
    app = current_app._get_current_object()
    settings = push_settings(app)
    message = checkpoint(db.session, wiring.now(), settings.timezone)
    log.info("push checkpoint %s (%s)", message.webhook_id, message.status)
    if message.status == PENDING:
        start_relay(app)
