"""What every detector shares: thresholds, findings, and the id floor of a look-back window.

Neither the detectors (rules.py) nor detection (detect.py) import each other's internals
through this module: both depend on it, so there is no import cycle.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import date, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.models import LedgerCheckpoint

HASH_CHARS = 12


@dataclass(frozen=True)
class FraudSettings:
    """Thresholds; each is configurable as FRAUD_<NAME> (e.g. FRAUD_BURST_MIN=10)."""

    lookback_days: int = 7
    baseline_days: int = 30  # bursts: an official's own trailing baseline
    burst_min: int = 10  # ratings in one hour, at least
    burst_factor: float = 5.0  # times the median of the official's active hours
    source_max_ratings: int = 10  # per day from one address or openid
    source_max_officials: int = 5  # distinct officials per day from one address or openid
    fast_seconds: int = 5  # seconds on page below which nobody has read it
    fast_min: int = 3  # fast ratings per official and day
    run_min: int = 30  # consecutive identical top or bottom scores in a campaign
    share_threshold: float = 0.8  # share of an official's events from one source
    share_min_events: int = 20
    share_excess: float = 0.3  # above that source's share across all officials
    max_rating_ids: int = 5000  # per review item

    @classmethod
    def from_config(cls, config: Mapping[str, Any],
                    environ: Mapping[str, str] | None = None) -> FraudSettings:
        """Read FRAUD_* from the app's configuration, else the environment, else defaults."""
        environ = os.environ if environ is None else environ
        values = {}
        for f in fields(cls):
            name = f"FRAUD_{f.name.upper()}"
            raw = config.get(name, environ.get(name))
            if raw is not None and str(raw).strip():
                values[f.name] = type(f.default)(raw)
        return cls(**values)


@dataclass
class Finding:
    """One fraud signal about a subject in a window."""

    kind: str
    subject: str
    window: str
    evidence: dict[str, Any]
    rating_ids: list[int] = field(default_factory=list)
    cadre_id: int | None = None
    campaign_id: int | None = None


@dataclass
class DetectionReport:
    """How many review items were created and refreshed."""

    created: int = 0
    refreshed: int = 0
    kinds: dict[str, int] = field(default_factory=dict)


def short(value: str | None) -> str | None:
    """Cut a keyed hash to what evidence may show."""
    return value[:HASH_CHARS] if value else None


def id_floor(session: Session, before: date) -> int:
    """Return a rating id every rating submitted on or after `before` exceeds (ledger-based)."""
    floor = session.scalar(select(LedgerCheckpoint.max_rating_id)
                           .where(LedgerCheckpoint.day < before - timedelta(days=1))
                           .order_by(LedgerCheckpoint.day.desc()).limit(1))
    return floor or 0
