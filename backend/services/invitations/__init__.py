"""Service events become invitations; their deliveries, openings and links."""

from __future__ import annotations

from backend.services.invitations.deliveries import relay_due
from backend.services.invitations.delivery_checks import check_deadlines, purge_contacts
from backend.services.invitations.events import EventInput, IngestContext, Outcome
from backend.services.invitations.ingestion import ingest_events, ingest_single
from backend.services.invitations.lookup import find_invitation, revoke
from backend.services.invitations.tokens import TokenCodec

__all__ = [
    "EventInput", "IngestContext", "Outcome", "TokenCodec", "check_deadlines", "find_invitation",
    "ingest_events", "ingest_single", "purge_contacts", "relay_due", "revoke",
]
