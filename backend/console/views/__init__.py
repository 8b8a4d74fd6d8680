"""The console's pages; importing this package registers their routes on the blueprint."""

from . import (
    alerts,
    audit,
    breakdown,
    campaigns,
    cases,
    ledger,
    officials,
    overview,
    personal,
    printing,
    push,
    results,
    units,
)

__all__ = ["alerts", "audit", "breakdown", "campaigns", "cases", "ledger", "officials", "overview",
           "personal", "printing", "push", "results", "units"]
