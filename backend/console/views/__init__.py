"""The console's pages; importing this package registers their routes on the blueprint."""

from . import (
    alerts,
    audit,
    breakdown,
    campaigns,
    case_evidence,
    case_notices,
    cases,
    ledger,
    officials,
    overview,
    personal,
    push,
    units,
)

__all__ = ["alerts", "audit", "breakdown", "campaigns", "case_evidence", "case_notices", "cases",
           "ledger", "officials", "overview", "personal", "push", "units"]
