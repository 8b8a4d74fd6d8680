"""The audit trail for auditors: filtered, newest first, paged by id."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.models import AuditEntry


def entries(session: Session, actor: str = "", action: str = "", since: datetime | None = None,
            until: datetime | None = None, before: int | None = None,
            limit: int = 50) -> list[dict[str, Any]]:
    """Return entries matching the filters, newest first, older than id `before`."""
    query = select(AuditEntry)
    if actor:
        query = query.where(AuditEntry.actor == actor)
    if action:
        query = query.where(AuditEntry.action.like(action.replace("%", "") + "%"))
    if since:
        query = query.where(AuditEntry.at >= since)
    if until:
        query = query.where(AuditEntry.at < until)
    if before:
        query = query.where(AuditEntry.id < before)
    rows = session.scalars(query.order_by(AuditEntry.id.desc()).limit(limit))
    return [{"id": e.id, "at": e.at, "actor": e.actor, "action": e.action, "target": e.target,
             "details": e.details, "address": e.address or "", "hash": e.hash,
             "prev_hash": e.prev_hash} for e in rows]
