"""Scores: count tables, publication of a period, its alerts, published reads."""

from __future__ import annotations

from backend.services.scores.counts import add_rating
from backend.services.scores.publication import PublicationReport, publish_period
from backend.services.scores.queries import current_scores

__all__ = [
    "PublicationReport", "add_rating", "current_scores", "publish_period",
]
