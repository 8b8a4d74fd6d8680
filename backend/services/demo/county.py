"""The demo county as a whole: its context, and everything that happens in it, planned ahead.

`plan_county` assembles the pure plans (backend/services/demo/events.py for service events,
backend/services/demo/campaign.py for the campaign); backend/services/demo/history.py runs it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from backend.services.cases import CaseRules
from backend.services.demo.campaign import TEMPLATE, PlannedCampaign, plan_campaign
from backend.services.demo.events import burst_events, official_events, reported_late
from backend.services.demo.plan import (
    LATE_REPORT_DAYS_AGO,
    REPORT_TIMES,
    Official,
    PlannedEvent,
    Roles,
    Tags,
    history_start,
)
from backend.services.fraud import FraudSettings
from backend.services.invitations.events import event_template_keys
from backend.services.invitations.tokens import TokenCodec
from backend.services.privacy.personal_data import Vault
from backend.services.sealing.seal import Sealer
from backend.services.templates.catalogue import Catalogue


@dataclass(frozen=True)
class DemoContext:
    """What the demo needs besides the session: injected, never global."""

    codec: TokenCodec
    vault: Vault
    sealer: Sealer
    catalogue: Catalogue
    base_url: str
    tz: ZoneInfo
    now: datetime
    retention_days: int = 30
    fraud: FraudSettings = field(default_factory=FraudSettings)
    case_rules: CaseRules = field(default_factory=CaseRules)


@dataclass(frozen=True)
class CountyPlan:
    """Everything that happens in the demo county, planned ahead."""

    start: date
    roles: Roles
    events: list[PlannedEvent]
    burst_at: datetime
    burst: list[PlannedEvent]
    campaign: PlannedCampaign


def tags_of(catalogue: Catalogue, key: str) -> Tags:
    """Return a template's positive and negative tags."""
    tags = catalogue.templates[key].definition["tags"]
    return Tags(tuple(tags["positive"]), tuple(tags["negative"]))


def plan_county(officials: Sequence[Official], ctx: DemoContext) -> CountyPlan:
    """Plan six months of a county: events and responses, a late report, a burst, a campaign."""
    roles = Roles.of([o.code for o in officials])
    start = history_start(ctx.now, ctx.tz)
    keys = event_template_keys(ctx.catalogue)
    event_types = sorted(keys)
    tags = {t: tags_of(ctx.catalogue, key) for t, key in keys.items()}
    late_since = ctx.now - timedelta(days=LATE_REPORT_DAYS_AGO)
    events = []
    for o in officials:
        planned = official_events(o, roles.profile(o.code), start, ctx.now, ctx.tz,
                                  event_types, tags)
        events += reported_late(planned, late_since) if o.code == roles.late else planned
    burst_type = "approval" if "approval" in keys else event_types[0]
    burst_at, burst = burst_events(roles.burst, ctx.now, ctx.tz, burst_type, tags[burst_type])
    campaign = plan_campaign(officials, roles, ctx.now, ctx.tz, tags_of(ctx.catalogue, TEMPLATE))
    return CountyPlan(start, roles, sorted(events, key=lambda e: e.occurred_at), burst_at, burst,
                      campaign)


def report_time(event: PlannedEvent, tz: ZoneInfo) -> datetime:
    """Return when the business system reports an event: the next of its two daily runs."""
    local = (event.occurred_at + event.delayed).astimezone(tz) + timedelta(minutes=10)
    for day in (local.date(), local.date() + timedelta(days=1)):
        for slot in REPORT_TIMES:
            moment = datetime.combine(day, slot, tz)
            if moment >= local:
                return moment
    raise AssertionError("unreachable: the next day always has a slot")
