"""The console's pages; importing this package registers their routes on the blueprint."""

from . import (
    alerts,
    audit,
    breakdown,
    campaign_admin,
    campaigns,
    cases,
    ledger,
    officials,
    overview,
    personal,
    push,
    scores,
    units,
)

__all__ = ["alerts", "audit", "breakdown", "campaign_admin", "campaigns", "cases", "ledger",
           "officials", "overview", "personal", "push", "scores", "units"]
