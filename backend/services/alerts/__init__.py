"""Alerts for administrators: raised by checks, resolved when the cause is gone."""

from __future__ import annotations

from backend.services.alerts.records import find_alert, raise_alert, resolve_alert

__all__ = [
    "find_alert", "raise_alert", "resolve_alert",
]
