"""The console's pages; importing this package registers their routes on the blueprint."""

from . import (
    accounts,
    alerts,
    audit,
    breakdown,
    campaigns,
    cases,
    directory,
    ledger,
    officials,
    overview,
    personal,
    printing,
    push,
    results,
    units,
)

__all__ = ["accounts", "alerts", "audit", "breakdown", "campaigns", "cases", "directory", "ledger",
           "officials", "overview", "personal", "printing", "push", "results", "units"]
