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
from backend.services.campaigns.printing import (
    PrintContext,
    latest_print,
    print_pdf,
    print_status,
    run_print,
    start_print,
)
from backend.services.campaigns.progress import (
    campaign_progress,
    non_responders,
    remind_now,
    send_reminders,
)
from backend.services.campaigns.results import campaign_results
from backend.services.campaigns.roster import create_with_roster, import_roster, read_roster
from backend.services.campaigns.rules import CampaignInput, ballot_template
from backend.services.campaigns.slips import campaign_slips

__all__ = [
    "CampaignContext", "CampaignInput", "PrintContext", "ballot_template", "campaign_progress",
    "campaign_results", "campaign_slips", "cancel_campaign", "close_campaign", "close_overdue",
    "create_campaign", "create_with_roster", "extend_campaign", "find_campaign",
    "import_roster", "latest_print", "list_campaigns", "non_responders", "print_pdf",
    "print_status", "read_roster", "remind_now", "run_print", "send_reminders", "start_print",
]
