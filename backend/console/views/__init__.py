"""The console's pages; importing this package registers their routes on the blueprint."""

from . import (
    accounts,
    alerts,
    appeals,
    audit,
    breakdown,
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
    units,
)

__all__ = ["accounts", "alerts", "appeals", "audit", "breakdown", "campaigns", "case_evidence",
           "case_notices", "cases", "directory", "ledger", "officials", "overview", "personal",
           "printing", "push", "results", "review", "units"]
