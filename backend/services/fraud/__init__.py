"""Fraud: detectors over aggregates and abuse signals, review items, and exclusions.

The public use cases:
- `detect(session, now, tz, settings)`: run every detector, record review items;
- `record_findings(session, findings, now)`: record findings in the caller's transaction
  (the release job's campaign runs);
- `batch_runs(...)`: campaign runs in submission order, found at release;
- `list_items`, `decide`, `approve_exclusion` (four-eyes), `item_view`, `stale_periods`:
  the review of items;
- `change_status`: exclude or re-include one rating (the one exclusion path);
- `FraudSettings`: the thresholds.
"""

from backend.services.fraud.detection import detect, record, record_findings
from backend.services.fraud.exclusions import change_status
from backend.services.fraud.findings import DetectionReport, Finding, FraudSettings
from backend.services.fraud.review import (
    Decision,
    approve_exclusion,
    decide,
    item_view,
    item_views,
    list_items,
    stale_periods,
)
from backend.services.fraud.rules import batch_runs

__all__ = [
    "Decision",
    "DetectionReport",
    "Finding",
    "FraudSettings",
    "approve_exclusion",
    "batch_runs",
    "change_status",
    "decide",
    "detect",
    "item_view",
    "item_views",
    "list_items",
    "record",
    "record_findings",
    "stale_periods",
]
