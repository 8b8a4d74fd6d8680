"""Outboxes relayed to other systems: pushes of published scores to the assessment core."""

from __future__ import annotations

from backend.services.outbox.push import (
    PushSettings,
    queue_messages,
    relay_due,
    replay,
    status_summary,
)

__all__ = [
    "PushSettings", "queue_messages", "relay_due", "replay", "status_summary",
]
