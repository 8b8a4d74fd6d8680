"""Alerts raised by publication: low samples and the satisfaction thresholds.

One alert per (type, official, period); an existing alert, whatever its state, is left as
people set it. New alerts are inserted in bulk and pushed as "alert.raised" messages. An
official scored without a flag has that flag's unresolved alerts resolved (自动解除): the
satisfaction flags of this period, and low-sample reminders of the trailing year up to this
low-sample month, since the six-month count that raised them now reaches the minimum.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy.orm import Session

from backend.models import Alert
from backend.models.alerts import OPEN
from backend.scoring import Period
from backend.scoring.compute import FLAG_ORDER
from backend.scoring.periods import trailing_months
from backend.services.alerts.handling import clear_alerts
from backend.services.alerts.records import alert_key
from backend.storage.bulk import copy_rows, existing
from backend.storage.session_worker import run_now

LOW_SAMPLE = "low_sample"
BATCH = 1000
CLEAR_MONTHS = 12  # how far back a low-sample reminder clears once the count is enough


class AlertBatch:
    """Collect the flags of computed scores and write the new alerts in batches."""

    def __init__(self, session: Session, period: Period, low_sample_month: str, now: datetime,
                 queue: Callable, write: Callable[[Callable[[], object]], object] = run_now
                 ) -> None:
        self.session, self.period, self.month = session, period, low_sample_month
        self.now, self.queue = now, queue
        self.write_job = write  # where the database work runs
        self.pending: list[dict] = []
        self.cleared: dict[str, list[int]] = {flag: [] for flag in FLAG_ORDER}
        self.clearing = 0
        self.raised = self.resolved = 0

    def consider(self, computed) -> None:
        """Queue an alert for each flag of a computed score.

        A leadership team is rated in campaigns only, never by service recipients: its
        low-sample flag stays in its score but raises no alert (more service events cannot
        clear it).
        """
        for flag in computed.flags:
            if flag == LOW_SAMPLE and computed.team:
                continue
            period = self.month if flag == LOW_SAMPLE else self.period.label
            details = {"cadre_code": computed.code, "flag": flag, "period": period,
                       "score_period": self.period.label,
                       "digest": computed.document["digest"]}
            self.pending.append({"key": alert_key(flag, computed.cadre_id, period),
                                 "type": flag, "cadre_id": computed.cadre_id,
                                 "period": period, "details": details})
        for flag in FLAG_ORDER:
            if flag not in computed.flags:
                self.cleared[flag].append(computed.cadre_id)
                self.clearing += 1
        if len(self.pending) >= BATCH or self.clearing >= BATCH * 4:
            self.write()

    def write(self) -> None:
        """Insert the alerts not raised before, queue their pushes, resolve cleared ones."""
        if self.pending:
            pending, self.pending = self.pending, []
            self.write_job(lambda: self.insert(pending))
        if self.clearing:
            cleared, self.clearing = self.cleared, 0
            self.cleared = {flag: [] for flag in FLAG_ORDER}
            self.write_job(lambda: self.clear(cleared))

    def clear(self, cleared: dict[str, list[int]]) -> None:
        """Resolve the unresolved alerts of flags the officials no longer carry."""
        for flag, cadre_ids in cleared.items():
            periods = (trailing_months(self.month, CLEAR_MONTHS) if flag == LOW_SAMPLE
                       else [self.period.label])
            self.resolved += clear_alerts(self.session, flag, cadre_ids, periods, self.now)

    def insert(self, pending: list[dict]) -> None:
        """Insert those of the alerts not raised before and queue their pushes."""
        known = existing(self.session, Alert.__table__.c.key, [a["key"] for a in pending])
        fresh = [a for a in {a["key"]: a for a in pending}.values() if a["key"] not in known]
        if not fresh:
            return
        copy_rows(self.session, Alert.__table__, [
            {**a, "state": OPEN, "raised_at": self.now, "updated_at": self.now} for a in fresh])
        self.queue(self.session, [("alert.raised", {**a["details"], "type": a["type"],
                                                    "state": OPEN}, a["key"], a["period"])
                                  for a in fresh], self.now)
        self.raised += len(fresh)

    def flush(self) -> None:
        """Write what is left (`raised` counts them once the writes have run)."""
        self.write()
