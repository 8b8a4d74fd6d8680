"""Appeals (申诉复核): a unit contests a rating of one of its officials, by its case.

A unit admin files an appeal on a rating case of its own unit with a reason (恶意评价,
非本人事项, 客观原因), a text and optionally evidence; never naming or asking for the rater. An
org admin rejects it, or upholds it: upholding excludes the rating, which takes two
different org admins (four-eyes, services/accounts/four_eyes.py): the first approval records
a pending decision, the second completes it. The rating stays in the ledger with its status
changed (services/fraud/exclusions.py); the caller republishes the affected periods (the
outcome names the months). Every step is a case event and an audit entry; refusals change
nothing. The caller holds the write lock (begin_write) and commits.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session, joinedload

from backend.errors import Conflict, Forbidden, InvalidInput, NotFound
from backend.models.appeals import (
    APPEAL_REASONS,
    APPEAL_STATUSES,
    CONFIRMING,
    PENDING,
    REJECTED,
    UPHELD,
    Appeal,
)
from backend.models.cases import RATING, Case, CaseEvent
from backend.models.ratings import VALID
from backend.services.accounts import audit, four_eyes
from backend.services.cases.flow import ORG_ADMIN, Actor, can_see, owns
from backend.services.fraud.exclusions import set_status
from backend.services.sealing.seal import Sealer

STATUS_LABELS = {PENDING: "待复核", CONFIRMING: "待第二名管理员确认",
                 UPHELD: "已支持（评价已剔除）", REJECTED: "已驳回"}
DECISIONS = ("uphold", "reject")
MAX_TEXT = 2000
EXCLUDE = "exclude"


@dataclass
class AppealOutcome:
    """What a decision did: the appeal, whether it is final, and the months to republish."""

    appeal: Appeal
    final: bool
    months: set[str] = field(default_factory=set)


def file_appeal(session: Session, case: Case, actor: Actor, now: datetime, *, reason: str,
                text: str, evidence: str | None = None) -> Appeal:
    """The case's unit admin contests the case's rating (once per case)."""
    if not (owns(actor, case) and actor.role == "unit_admin"):
        raise Forbidden("只有被评价干部所在单位的管理员可以提出申诉")
    if case.source != RATING or case.rating is None:
        raise Conflict("只有来自评价的整改单可以申诉")
    if reason not in APPEAL_REASONS:
        names = "、".join(APPEAL_REASONS.values())
        raise InvalidInput("申诉理由无效", {"reason": [f"须为：{names}"]})
    text = _text(text, "text", "申诉说明", required=True)
    evidence = _text(evidence, "evidence", "佐证材料说明", required=False)
    if appeal_of(session, case.id) is not None:
        raise Conflict("此整改单已提出过申诉，不能重复申诉")
    if case.rating.status != VALID:
        raise Conflict("该评价已被剔除，无需申诉")
    appeal = Appeal(case=case, unit_id=case.unit_id, reason=reason, text=text, evidence=evidence,
                    status=PENDING, filed_by=actor.name, filed_at=now)
    session.add(appeal)
    session.flush()
    _record(session, appeal, actor, now, "appeal", "appeal.file",
            f"申诉（{APPEAL_REASONS[reason]}）：{text}"[:500], {"reason": reason})
    return appeal


def decide(session: Session, sealer: Sealer, appeal: Appeal, actor: Actor, now: datetime,
           decision: str, note: str) -> AppealOutcome:
    """An org admin rejects an appeal, or approves upholding it (the second approval excludes)."""
    if actor.role != ORG_ADMIN:
        raise Forbidden("只有组织部管理员可以复核申诉")
    if decision not in DECISIONS:
        raise InvalidInput("复核决定无效", {"decision": ["须为 uphold（支持）或 reject（驳回）"]})
    if appeal.status in (UPHELD, REJECTED):
        raise Conflict(f"申诉已复核完毕（{STATUS_LABELS[appeal.status]}），不能再次决定")
    note = four_eyes.note_text(note, "复核意见")
    if decision == "reject":
        return _reject(session, appeal, actor, now, note)
    approval = four_eyes.approve(session, subject(appeal), EXCLUDE, actor.name, note, now,
                                 actor.address)
    if not approval.complete:
        appeal.status = CONFIRMING
        _record(session, appeal, actor, now, "appeal_approve", "appeal.approve",
                f"同意剔除（待另一名管理员确认）：{note}", {})
        return AppealOutcome(appeal, final=False)
    return _uphold(session, sealer, appeal, actor, now, note, approval.decision.first_by)


def _reject(session: Session, appeal: Appeal, actor: Actor, now: datetime,
            note: str) -> AppealOutcome:
    four_eyes.withdraw(session, subject(appeal), EXCLUDE, actor.name, f"申诉驳回：{note}",
                       now, actor.address)
    _finish(appeal, REJECTED, actor, now, note)
    _record(session, appeal, actor, now, "appeal_reject", "appeal.reject",
            f"申诉驳回：{note}", {})
    return AppealOutcome(appeal, final=True)


def _uphold(session: Session, sealer: Sealer, appeal: Appeal, actor: Actor, now: datetime,
            note: str, first_by: str) -> AppealOutcome:
    rating = appeal.case.rating
    months: set[str] = set()
    if rating.status == VALID:  # excluded meanwhile (e.g. by fraud review): nothing to change
        reason = f"申诉 #{appeal.id}（{APPEAL_REASONS[appeal.reason]}）：{note}"[:500]
        set_status(session, sealer, rating.id, True, reason, actor.name, now, actor.address)
        months.add(rating.month)
    _finish(appeal, UPHELD, actor, now, note)
    _record(session, appeal, actor, now, "appeal_uphold", "appeal.uphold",
            f"申诉成立，评价已剔除（{first_by}、{actor.name} 两人复核）：{note}",
            {"first_by": first_by, "excluded_now": bool(months)})
    return AppealOutcome(appeal, final=True, months=months)


def _finish(appeal: Appeal, status: str, actor: Actor, now: datetime, note: str) -> None:
    appeal.status, appeal.decided_by, appeal.decided_at = status, actor.name, now
    appeal.decision_note = note


def subject(appeal: Appeal) -> str:
    """Return the appeal's name in two-person decisions and the audit trail."""
    return f"appeal:{appeal.id}"


def _record(session: Session, appeal: Appeal, actor: Actor, now: datetime, event: str,
            action: str, note: str, details: dict[str, Any]) -> None:
    case = appeal.case
    session.add(CaseEvent(case=case, at=now, actor=actor.name, action=event,
                          from_status=case.status, to_status=case.status, note=note))
    audit.record(session, actor.name, action, subject(appeal), now,
                 {"case": case.id, "status": appeal.status, **details}, actor.address)


def _text(value: str | None, name: str, label: str, required: bool) -> str | None:
    value = (value or "").strip()
    if not value:
        if required:
            raise InvalidInput(f"请填写{label}", {name: [f"请填写{label}"]})
        return None
    if len(value) > MAX_TEXT:
        raise InvalidInput(f"{label}过长", {name: [f"最多 {MAX_TEXT} 个字符"]})
    return value


def appeal_of(session: Session, case_id: int, lock: bool = False) -> Appeal | None:
    """Return a case's appeal, or None."""
    query = select(Appeal).where(Appeal.case_id == case_id)
    return session.scalar(query.with_for_update() if lock else query)


def get_appeal(session: Session, appeal_id: int, actor: Actor, lock: bool = False) -> Appeal:
    """Return an appeal whose case the actor may see; NotFound otherwise."""
    query = select(Appeal).where(Appeal.id == appeal_id)
    appeal = session.scalar(query.with_for_update() if lock else query)
    if appeal is None or not can_see(actor, appeal.case):
        raise NotFound("申诉不存在")
    return appeal


def statuses_for(session: Session, case_ids: Iterable[int]) -> dict[int, str]:
    """Return the appeal status of each of the cases that has an appeal."""
    ids = tuple(set(case_ids))
    if not ids:
        return {}
    return dict(session.execute(select(Appeal.case_id, Appeal.status)
                                .where(Appeal.case_id.in_(ids))).all())


def appeal_query(unit_ids: Collection[int] | None, statuses: Collection[str] | None) -> Select:
    """Build the query of appeals within units (None: all) in some states (empty: all)."""
    query = select(Appeal).options(joinedload(Appeal.case).joinedload(Case.cadre),
                                   joinedload(Appeal.case).joinedload(Case.unit))
    if statuses:
        query = query.where(Appeal.status.in_(tuple(s for s in statuses
                                                     if s in APPEAL_STATUSES)))
    if unit_ids is not None:
        query = query.where(Appeal.unit_id.in_(tuple(unit_ids)))
    return query


def list_appeals(session: Session, unit_ids: Collection[int] | None,
                 statuses: Collection[str] | None = None, offset: int = 0,
                 limit: int | None = 100) -> list[Appeal]:
    """Return a page of appeals, those awaiting a decision first, then newest first."""
    query = appeal_query(unit_ids, statuses).order_by(Appeal.decided_at.is_not(None),
                                                    Appeal.id.desc()).offset(offset)
    return list(session.scalars(query.limit(limit) if limit else query).unique())


def appeal_counts(session: Session, unit_ids: Collection[int] | None) -> dict[str, int]:
    """Return how many appeals are in each state (within the units)."""
    query = select(Appeal.status, func.count()).group_by(Appeal.status)
    if unit_ids is not None:
        query = query.where(Appeal.unit_id.in_(tuple(unit_ids)))
    return dict(session.execute(query).all())


def appeal_view(session: Session, appeal: Appeal) -> dict[str, Any]:
    """Return what the console shows of an appeal: reason, text, evidence, the decisions."""
    approval = four_eyes.pending(session, subject(appeal), EXCLUDE)
    return {"id": appeal.id, "case_id": appeal.case_id, "status": appeal.status,
            "status_label": STATUS_LABELS[appeal.status], "reason": appeal.reason,
            "reason_label": APPEAL_REASONS.get(appeal.reason, appeal.reason),
            "text": appeal.text, "evidence": appeal.evidence, "filed_by": appeal.filed_by,
            "filed_at": appeal.filed_at, "decided_by": appeal.decided_by,
            "decided_at": appeal.decided_at, "decision_note": appeal.decision_note,
            "first_by": approval.first_by if approval else None,
            "first_note": approval.first_note if approval else None,
            "first_at": approval.first_at if approval else None}
