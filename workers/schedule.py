"""The periodic jobs and when they are due, in the deployment's time zone."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class PeriodicJob:
    """A job run every `interval`, or daily at `at` local time."""

    name: str
    func: str
    interval: timedelta | None = None
    at: time | None = None
    queue: str = "low"

    def slot(self, now: datetime, tz: ZoneInfo) -> datetime:
        """Return the start of the latest slot at or before `now` (aware)."""
        if self.interval is not None:
            step = int(self.interval.total_seconds())
            epoch = int(now.timestamp()) // step * step
            return datetime.fromtimestamp(epoch, tz)
        local = now.astimezone(tz)
        today = datetime.combine(local.date(), self.at, tz)
        return today if today <= local else today - timedelta(days=1)


PERIODIC_JOBS: tuple[PeriodicJob, ...] = (
    PeriodicJob("heartbeat", "workers.jobs.ops:heartbeat", interval=timedelta(minutes=1)),
    # The outbox is the source of truth: this sweep sends whatever a lost job left behind.
    PeriodicJob("deliveries-relay", "workers.jobs.deliveries:relay_deliveries",
                interval=timedelta(minutes=1), queue="default"),
    PeriodicJob("delivery-deadlines", "workers.jobs.deliveries:check_delivery_deadlines",
                interval=timedelta(minutes=10)),
    PeriodicJob("personal-data-purge", "workers.jobs.deliveries:purge_personal_data",
                at=time(3, 30)),
    # The webhook outbox likewise: the sweep relays what lost or killed jobs left behind.
    PeriodicJob("push-relay", "workers.jobs.push:sweep_webhooks",
                interval=timedelta(minutes=1), queue="default"),
    PeriodicJob("push-checkpoint", "workers.jobs.push:send_checkpoint", at=time(0, 30)),
    # Ballots expire at the closing time anyway; this sets the status and revokes them.
    PeriodicJob("campaign-auto-close", "workers.jobs.campaigns:close_overdue_campaigns",
                interval=timedelta(minutes=5)),
    PeriodicJob("campaign-reminders", "workers.jobs.campaigns:send_campaign_reminders",
                interval=timedelta(hours=1)),
    # Pending ratings enter `ratings` and the ledger in shuffled batches.
    PeriodicJob("ratings-release", "workers.jobs.ratings:release_ratings",
                interval=timedelta(minutes=1), queue="default"),
    # Before push-checkpoint (00:30), so that the night's pushes carry yesterday's root.
    PeriodicJob("ledger-checkpoint", "workers.jobs.ledger:checkpoint_ledger", at=time(0, 10)),
    # After the checkpoint: every MAC, the chain, the checkpoints and the counts.
    PeriodicJob("ledger-verify", "workers.jobs.ledger:verify_integrity", at=time(0, 20)),
    # Overdue cases (整改单) escalate; closed ones get their 回头看 check when it is due.
    PeriodicJob("cases-watch", "workers.jobs.cases:watch_cases",
                interval=timedelta(minutes=10)),
    PeriodicJob("fraud-detection", "workers.jobs.ledger:detect_fraud",
                interval=timedelta(hours=1)),
    PeriodicJob("retention-purge", "workers.jobs.ledger:purge_retained", at=time(3, 40)),
    # After the ledger checkpoint, so the night's scores carry yesterday's anchor.
    PeriodicJob("scores-nightly", "workers.jobs.scores:publish_current_periods",
                at=time(1, 30)),
    # The console reads rollups only; this keeps them a minute behind at most.
    PeriodicJob("console-rollups", "workers.jobs.rollups:refresh_rollups",
                interval=timedelta(minutes=1)),
)
