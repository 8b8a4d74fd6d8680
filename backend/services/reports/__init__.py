"""Read models for the console and reports: daily and monthly rollups kept by a job."""

from __future__ import annotations

from backend.services.reports.rollups import MAX_DAYS, refresh

__all__ = ["MAX_DAYS", "refresh"]
