"""Record and verify the audit trail: each entry's hash covers its content and its predecessor.

Appends are serialised (an advisory lock on PostgreSQL, the write lock on SQLite) so the chain
has no forks; `verify` recomputes it and names the first entry that does not match.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.models.audit import AuditEntry
from backend.storage import advisory_lock

GENESIS = "0" * 64
LOCK_KEY = 7_110_001


@dataclass(frozen=True)
class Actor:
    """Who makes a change, from where, and when: what an audit entry records of them."""
    name: str
    now: datetime
    address: str | None = None


def entry_hash(prev_hash: str, at: datetime, actor: str, action: str, target: str,
               details: Mapping[str, Any], address: str | None) -> str:
    """Return the chained hash of one entry."""
    body = json.dumps([prev_hash, at.isoformat(), actor, action, target, details, address],
                      sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(body.encode()).hexdigest()


def record_now(session: Session, actor: str, action: str, target: str, now: datetime,
               details: Mapping[str, Any] | None = None, address: str | None = None,
               end_reads: bool = False) -> None:
    """Append an entry and commit; `end_reads` first ends the long read it follows."""
    if end_reads:
        session.rollback()
    record(session, actor, action, target, now, details, address)
    session.commit()


def record(session: Session, actor: str, action: str, target: str, now: datetime,
           details: Mapping[str, Any] | None = None, address: str | None = None) -> AuditEntry:
    """Append an entry in the caller's transaction (the caller commits)."""
    advisory_lock(session, LOCK_KEY)
    last = session.scalar(select(AuditEntry.hash).order_by(AuditEntry.id.desc()).limit(1))
    details = dict(details or {})
    # In UTC, as the column gives it back: a local time would hash another spelling.
    at = now.astimezone(UTC).replace(microsecond=0)
    entry = AuditEntry(at=at, actor=actor, action=action, target=target, details=details,
                       address=address, prev_hash=last or GENESIS,
                       hash=entry_hash(last or GENESIS, at, actor, action, target, details,
                                       address))
    session.add(entry)
    return entry


def verify(session: Session) -> int | None:
    """Return the id of the first entry that does not verify, or None when the chain holds."""
    previous = GENESIS
    entries = session.scalars(select(AuditEntry).order_by(AuditEntry.id),
                              execution_options={"yield_per": 1000})
    with entries:  # closes the server-side cursor even when we stop early
        for entry in entries:
            expected = entry_hash(previous, entry.at, entry.actor, entry.action, entry.target,
                                  entry.details, entry.address)
            if entry.prev_hash != previous or entry.hash != expected:
                return entry.id
            previous = entry.hash
    return None
