"""The campaigns read model, kept importable here for views/campaigns.py until it imports
backend/services/reports/campaigns.py itself (then this module goes)."""

from __future__ import annotations

from backend.services.reports.campaigns import campaigns_page, visible_campaign

__all__ = ["campaigns_page", "visible_campaign"]
