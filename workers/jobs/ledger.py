"""Ledger and integrity jobs: close days, verify, detect fraud, purge old signals.

All are idempotent: the checkpoint takes the ledger's own lock, detection
refreshes review items by their unique key, and purges delete what is past its limit.
"""

from __future__ import annotations

import logging
from zoneinfo import ZoneInfo

from flask import current_app

from backend import wiring
from backend.extensions import db
from backend.services.fraud import detect
from backend.services.ledger.chain import checkpoint_days
from backend.services.ledger.integrity import check_integrity
from backend.services.privacy.retention import purge
from workers.jobs.push import logged

log = logging.getLogger(__name__)


def timezone() -> ZoneInfo:
    """Return the deployment's time zone."""
    return wiring.timezone()


def setting(name: str, default: int) -> int:
    """Return an integer knob from the app's configuration."""
    value = current_app.config.get(name)
    return int(value) if value not in (None, "") else default


@logged
def checkpoint_ledger() -> None:
    """Give every finished day its Merkle root."""
    for cp in checkpoint_days(db.session, wiring.now(), timezone()):
        log.info("ledger checkpoint %s: %d entries, root %s", cp.day, cp.count, cp.root)


@logged
def verify_integrity() -> None:
    """Check every MAC, the chain, the checkpoints and the counts; alert on failure."""
    result = check_integrity(db.session, wiring.sealer(), wiring.now(), timezone(),
                             current_app.config["LEDGER_VERIFY_WORKERS"])
    if result.ok:
        log.info("integrity: %s", result.message())
    else:
        log.error("integrity: %s", result.message())


@logged
def detect_fraud() -> None:
    """Run the fraud detectors over the recent ratings."""
    settings = wiring.fraud_settings()
    report = detect(db.session, wiring.now(), timezone(), settings)
    if report.created:
        log.warning("fraud review: %d new items %s", report.created, report.kinds)


@logged
def purge_retained() -> None:
    """Delete old abuse signals and follow-up contacts; clear phones of ended campaigns."""
    report = purge(db.session, wiring.now(), setting("ABUSE_SIGNAL_RETENTION_DAYS", 90),
                   setting("FOLLOWUP_RETENTION_DAYS", 180),
                   setting("PERSONAL_DATA_RETENTION_DAYS", 30))
    log.info("retention: %d abuse signals, %d follow-up contacts deleted, "
             "%d campaign raters' phones cleared",
             report.abuse_signals, report.followup_contacts, report.rater_phones)
