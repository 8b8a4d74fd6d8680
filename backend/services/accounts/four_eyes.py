"""Two-person decisions (四眼原则): the one mechanism appeals and fraud review share.

Excluding a rating from scoring needs two different org admins. The first approval records
a pending decision (who, when, why); a second approval by a different administrator
completes it; the same administrator approving twice is refused, and so is any approval of
a decision already completed or withdrawn. Each step is audited in the caller's
transaction; the caller holds a lock on the subject (SELECT ... FOR UPDATE, or SQLite's
write lock through begin_write) so two approvals never race, and commits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.errors import Conflict, InvalidInput
from backend.models.approvals import DONE, PENDING, WITHDRAWN, TwoPersonDecision
from backend.services.accounts import audit

MAX_NOTE = 500


@dataclass(frozen=True)
class Approval:
    """What an approval did: `complete` once the second administrator has approved."""

    decision: TwoPersonDecision
    complete: bool


def note_text(note: str | None, label: str = "理由") -> str:
    """Return a decision's reason, stripped; refuse an empty or overlong one."""
    note = (note or "").strip()
    if not note:
        raise InvalidInput(f"请填写{label}", {"reason": [f"请填写{label}"]})
    if len(note) > MAX_NOTE:
        raise InvalidInput(f"{label}过长", {"reason": [f"最多 {MAX_NOTE} 个字符"]})
    return note


def pending(session: Session, subject: str, action: str) -> TwoPersonDecision | None:
    """Return the decision recorded for a subject and action (any state), or None."""
    return session.scalar(select(TwoPersonDecision).where(
        TwoPersonDecision.subject == subject, TwoPersonDecision.action == action))


def approve(session: Session, subject: str, action: str, actor: str, note: str,
            now: datetime, address: str | None = None) -> Approval:
    """Record a first approval, or complete the decision with a second, different approver."""
    note = note_text(note)
    found = pending(session, subject, action)
    if found is None:
        found = TwoPersonDecision(subject=subject, action=action, state=PENDING, first_by=actor,
                                  first_at=now, first_note=note)
        session.add(found)
        audit.record(session, actor, "four_eyes.first", subject, now,
                     {"action": action, "reason": note}, address)
        return Approval(found, complete=False)
    if found.state != PENDING:
        raise Conflict("该决定已完成，不能再次批准" if found.state == DONE
                       else "该决定已撤回，不能再批准")
    if found.first_by == actor:
        raise Conflict(f"四眼原则：已由您（{actor}）首次批准，须由另一名组织部管理员复核确认")
    found.state, found.second_by, found.second_at, found.second_note = DONE, actor, now, note
    audit.record(session, actor, "four_eyes.second", subject, now,
                 {"action": action, "reason": note, "first_by": found.first_by}, address)
    return Approval(found, complete=True)


def withdraw(session: Session, subject: str, action: str, actor: str, note: str,
             now: datetime, address: str | None = None) -> TwoPersonDecision | None:
    """Withdraw a pending decision (the subject was decided otherwise); audited."""
    found = pending(session, subject, action)
    if found is None or found.state != PENDING:
        return None
    found.state, found.second_by, found.second_at = WITHDRAWN, actor, now
    found.second_note = note_text(note)
    audit.record(session, actor, "four_eyes.withdraw", subject, now,
                 {"action": action, "reason": found.second_note, "first_by": found.first_by},
                 address)
    return found
