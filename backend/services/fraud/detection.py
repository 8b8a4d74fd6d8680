"""Fraud detection: signals over recent ratings become review items with their evidence.

Detectors (rules.py: bursts, shared addresses, fast submissions; clusters.py: network ranges
and devices per official and week; aggregates.py: link use, score shape, unstamped
submissions and source shares against peers and own history) return findings; each finding
is one review item per (kind, subject, window), so running detection again refreshes an open
item (its rating ids only grow) and leaves decided ones alone. Evidence holds counts,
windows and keyed hashes cut to 12 characters, never a raw address or openid, and no rater
identity: ratings carry none.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, tzinfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.models import ReviewItem
from backend.models.ledger import OPEN
from backend.services.fraud.aggregates import link_use, score_shape, source_shares, unstamped
from backend.services.fraud.clusters import clusters
from backend.services.fraud.findings import DetectionReport, Finding, FraudSettings
from backend.services.fraud.rules import RATING_DETECTORS
from backend.storage.transactions import begin_write

DETECTORS = (*RATING_DETECTORS, clusters, link_use, score_shape, unstamped, source_shares)


def detect(session: Session, now: datetime, tz: tzinfo,
           settings: FraudSettings | None = None) -> DetectionReport:
    """Run every detector and record its findings as review items; commit."""
    settings = settings or FraudSettings()
    findings = [f for detector in DETECTORS for f in detector(session, now, tz, settings)]
    return record(session, findings, now, settings.max_rating_ids)


def record(session: Session, findings: Sequence[Finding], now: datetime,
           cap: int = 5000) -> DetectionReport:
    """Create or refresh one review item per finding; commit."""
    begin_write(session)
    report = record_findings(session, findings, now, cap)
    session.commit()
    return report


def record_findings(session: Session, findings: Sequence[Finding], now: datetime,
                    cap: int = 5000) -> DetectionReport:
    """Create or refresh one review item per finding in the caller's transaction."""
    report = DetectionReport()
    for finding in findings:
        item = session.scalar(select(ReviewItem).filter_by(
            kind=finding.kind, subject=finding.subject, window=finding.window))
        if item is None:
            session.add(ReviewItem(kind=finding.kind, subject=finding.subject,
                                   window=finding.window, cadre_id=finding.cadre_id,
                                   campaign_id=finding.campaign_id, evidence=finding.evidence,
                                   rating_ids=sorted(finding.rating_ids)[:cap], state=OPEN,
                                   created_at=now, updated_at=now))
            report.created += 1
            report.kinds[finding.kind] = report.kinds.get(finding.kind, 0) + 1
        elif item.state == OPEN and refresh(item, finding, now, cap):
            report.refreshed += 1
    return report


def refresh(item: ReviewItem, finding: Finding, now: datetime, cap: int) -> bool:
    """Grow an open item with a new finding; return whether it changed."""
    ids = sorted(set(item.rating_ids or []) | set(finding.rating_ids))[:cap]
    if ids == list(item.rating_ids or []) and finding.evidence == item.evidence:
        return False
    if len(finding.rating_ids) >= len(item.rating_ids or []):
        item.evidence = finding.evidence
    item.rating_ids, item.updated_at = ids, now
    return True
