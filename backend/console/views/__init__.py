"""The console's pages; importing this package registers their routes on the blueprint."""

from . import (
    alerts,
    appeals,
    audit,
    breakdown,
    campaigns,
    cases,
    ledger,
    officials,
    overview,
    personal,
    push,
    review,
    units,
)

__all__ = ["alerts", "appeals", "audit", "breakdown", "campaigns", "cases", "ledger", "officials",
           "overview", "personal", "push", "review", "units"]
