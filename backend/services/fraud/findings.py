"""What every detector shares: thresholds, findings, and the id floor of a look-back window.

Neither the detectors (rules.py) nor detection (detection.py) import each other's internals
through this module: both depend on it, so there is no import cycle.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.models import LedgerCheckpoint
from backend.services.fraud.settings import FraudSettings

__all__ = ["HASH_CHARS", "KIND_LABELS", "DetectionReport", "Finding", "FraudSettings", "id_floor",
           "short"]

HASH_CHARS = 12
KIND_LABELS = {  # what the console and the CLI call each kind of review item
    "burst": "单小时评价激增",
    "address": "同一地址集中评价",
    "openid": "同一微信用户集中评价",
    "fast": "打开即提交（停留过短）",
    "campaign_run": "测评连续同分",
    "source_share": "事件来源占比异常",
    "link_use": "链接使用率异常偏高",
    "top_per_link": "每条链接的满分数异常偏高",
    "score_shape": "评分分布异常（满分占比或熵）",
    "unstamped": "无打开凭证的提交占比过高",
    "network": "同一网段集中评价",
    "device": "同一设备集中评价",
}


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
