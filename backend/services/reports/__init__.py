"""Read models for the console and reports: rollups kept by a job, thresholds from the scheme."""

from __future__ import annotations

from backend.services.reports.rollups import MAX_DAYS, refresh
from backend.services.reports.thresholds import SampleThresholds, sample_thresholds

__all__ = ["MAX_DAYS", "SampleThresholds", "refresh", "sample_thresholds"]
