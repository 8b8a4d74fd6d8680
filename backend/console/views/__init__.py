"""The console's pages; importing this package registers their routes on the blueprint."""

from . import (
    accounts,
    alerts,
    appeals,
    audit,
    breakdown,
    campaign_admin,
    campaigns,
    case_evidence,
    case_notices,
    cases,
    directory,
    ledger,
    officials,
    overview,
    personal,
    printing,
    push,
    results,
    review,
    scores,
    units,
)

__all__ = ["accounts", "alerts", "appeals", "audit", "breakdown", "campaign_admin", "campaigns",
           "case_evidence", "case_notices", "cases", "directory", "ledger", "officials",
           "overview", "personal", "printing", "push", "results", "review", "scores", "units"]
