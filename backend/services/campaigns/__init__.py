"""Multi-rater campaigns (民主测评): create, roster, slips, progress, close."""

from __future__ import annotations

from backend.services.campaigns.lifecycle import (
    CampaignContext,
    cancel_campaign,
    close_campaign,
    close_overdue,
    create_campaign,
    extend_campaign,
    find_campaign,
    list_campaigns,
)
from backend.services.campaigns.progress import campaign_progress, non_responders, send_reminders
from backend.services.campaigns.roster import import_roster, read_roster
from backend.services.campaigns.rules import CampaignInput, ballot_template
from backend.services.campaigns.slips import campaign_slips

__all__ = [
    "CampaignContext", "CampaignInput", "ballot_template", "campaign_progress", "campaign_slips",
    "cancel_campaign", "close_campaign", "close_overdue", "create_campaign", "extend_campaign",
    "find_campaign", "import_roster", "list_campaigns", "non_responders", "read_roster",
    "send_reminders",
]
