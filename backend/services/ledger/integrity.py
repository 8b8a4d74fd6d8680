"""The nightly integrity check: `ledger verify` in a job, raising an alert when it fails.

A failure opens (or refreshes) one `ledger_integrity` alert per local day and pushes it to
the assessment core as `alert.raised`, so a bent number is reported outside the platform too.
A check that passes again resolves the open alert as 自动解除.
"""

from __future__ import annotations

from datetime import datetime, tzinfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.models import Alert
from backend.models.alerts import OPEN, RESOLVED
from backend.services.alerts import records as alerts
from backend.services.ledger.verify import VerifyResult, verify
from backend.services.outbox.push import queue_message
from backend.services.sealing.seal import Sealer
from backend.storage.transactions import begin_write

LEDGER_INTEGRITY = "ledger_integrity"
AUTO = "自动解除"


def check_integrity(session: Session, sealer: Sealer, now: datetime, tz: tzinfo,
                    workers: int = 1) -> VerifyResult:
    """Verify everything (in `workers` processes); alert and push on failure; commit."""
    result = verify(session, sealer, workers)
    begin_write(session)
    day = now.astimezone(tz).date().isoformat()
    if result.ok:
        for open_alert in open_integrity_alerts(session):
            alerts.resolve_alert(session, LEDGER_INTEGRITY, None, open_alert.period, AUTO, now)
    else:
        details = {"reason": result.reason, "message": result.message(), "seq": result.seq,
                   "rating_id": result.rating_id}
        alert = alerts.raise_alert(session, LEDGER_INTEGRITY, None, day, details, now)
        queue_message(session, "alert.raised",
                      {**details, "type": LEDGER_INTEGRITY, "period": day, "state": OPEN},
                      alert.key + "|" + result.message(), day, now)
    session.commit()
    return result


def open_integrity_alerts(session: Session) -> list[Alert]:
    """Return the integrity alerts not yet resolved."""
    return list(session.scalars(select(Alert).where(Alert.type == LEDGER_INTEGRITY,
                                                    Alert.state != RESOLVED)))
