"""A case's life: 待受理 -> 整改中 -> 待验收 -> 已办结, or 退回 back to the assignee.

Each step checks who acts (the assignee's role within its units, or an org admin), records a
case event and an audit entry, and changes nothing when refused. The caller commits.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.errors import Conflict, Forbidden, InvalidInput, NotFound
from backend.models import FollowupContact
from backend.models.cases import (
    AWAITING,
    CALLBACK_OUTCOMES,
    CLOSED,
    IN_PROGRESS,
    OPEN,
    RETURNED,
    VERDICTS,
    Case,
    CaseEvent,
)
from backend.services.accounts import audit
from backend.services.cases.notices import notify
from backend.services.cases.opening import CaseRules
from backend.services.outbox import queue_messages

STATUS_LABELS = {OPEN: "待受理", IN_PROGRESS: "整改中", AWAITING: "待验收", CLOSED: "已办结",
                 RETURNED: "退回"}
CALLBACK_LABELS = {"reached": "已回访", "unreached": "未联系上", "declined": "评价人拒绝回访",
                   "no_consent": "评价人未同意回访"}
MAX_TEXT = 2000
ORG_ADMIN = "org_admin"
SHANGHAI = ZoneInfo("Asia/Shanghai")


@dataclass(frozen=True)
class Actor:
    """Who acts on a case: a console user's name, role and units (None: every unit)."""

    name: str
    role: str
    units: Collection[int] | None = None
    address: str | None = None


def get_case(session: Session, case_id: int, actor: Actor, lock: bool = False) -> Case:
    """Return a case the actor may see; NotFound otherwise (no hint that it exists)."""
    query = select(Case).where(Case.id == case_id)
    case = session.scalar(query.with_for_update() if lock else query)
    if case is None or not can_see(actor, case):
        raise NotFound("整改单不存在")
    return case


def can_see(actor: Actor, case: Case) -> bool:
    """Org admins and auditors see every unit's cases; discipline sees reports; others theirs."""
    if case.assignee_role == "discipline":
        return actor.role == "discipline"
    if actor.role in (ORG_ADMIN, "auditor"):
        return True
    return actor.role in ("unit_admin", "viewer") and _in_units(actor, case)


def _in_units(actor: Actor, case: Case) -> bool:
    return actor.units is None or case.unit_id in actor.units


def owns(actor: Actor, case: Case) -> bool:
    """Return whether the actor is the case's assignee (role and unit)."""
    return actor.role == case.assignee_role and _in_units(actor, case)


def accept(session: Session, case: Case, actor: Actor, now: datetime) -> Case:
    """The assignee takes the case on (待受理 or 退回 -> 整改中)."""
    _require_owner(actor, case)
    return _move(session, case, actor, now, "accept", (OPEN, RETURNED), IN_PROGRESS)


def submit(session: Session, case: Case, actor: Actor, now: datetime, *, reply: str,
           measures: str, callback: str) -> Case:
    """The assignee reports what was done and the reply the rater will read (-> 待验收)."""
    _require_owner(actor, case)
    reply, measures = _text(reply, "reply", "答复"), _text(measures, "measures", "整改措施")
    if callback not in CALLBACK_OUTCOMES:
        raise InvalidInput("回访结果无效", {"callback": [f"须为：{'、'.join(CALLBACK_OUTCOMES)}"]})
    if callback in ("reached", "unreached", "declined") and not has_contact(session, case):
        raise InvalidInput("评价人未留联系方式或未同意回访，不能登记回访",
                           {"callback": ["评价人未同意回访：请选择 no_consent"]})
    _move(session, case, actor, now, "submit", (IN_PROGRESS,), AWAITING,
          note=f"回访：{CALLBACK_LABELS[callback]}")
    case.reply, case.measures, case.callback = reply, measures, callback
    return case


def approve(session: Session, case: Case, actor: Actor, now: datetime,
            rules: CaseRules) -> Case:
    """An org admin accepts the handling (待验收 -> 已办结); 回头看 is due some days later."""
    _require_acceptor(actor, case)
    _move(session, case, actor, now, "approve", (AWAITING,), CLOSED)
    case.closed_at = now
    case.closed_on_time = now <= case.due_at
    # This round's time: since the last 回头看 reopening, like the deadline it is held to.
    started = max((e.at for e in case.events if e.action == "reopen"), default=case.created_at)
    case.hours_to_close = int((now - started).total_seconds() // 3600)
    case.recheck_due = now + timedelta(days=rules.recheck_days)
    if case.assignee_role == "discipline":
        return case  # reports stay with the discipline side: nothing leaves the platform
    # The assessment core hears of every closed case (webhook `case.closed`), once per closing.
    queue_messages(session, [("case.closed", closed_message(case), f"{case.id}:{case.reopened}",
                              case.period)], now)
    return case


def closed_message(case: Case) -> dict:
    """Return the `case.closed` webhook data: the official, the source and the answer."""
    return {"id": case.id, "cadre_code": case.cadre.code if case.cadre else None,
            "unit_code": case.unit.code if case.unit else None, "source": case.source,
            "flag": case.flag, "period": case.period, "status": case.status,
            "due_at": case.due_at.isoformat(), "closed_at": case.closed_at.isoformat(),
            "on_time": case.closed_at <= case.due_at, "callback": case.callback,
            "reply": case.reply, "reopened": case.reopened}


def send_back(session: Session, case: Case, actor: Actor, now: datetime, note: str,
              tz: tzinfo = SHANGHAI) -> Case:
    """An org admin returns the handling to the assignee with a reason (待验收 -> 退回)."""
    _require_acceptor(actor, case)
    note = _text(note, "note", "退回理由")
    _move(session, case, actor, now, "return", (AWAITING,), RETURNED, note=note)
    notify(session, [case], "returned", now, tz)
    return case


def set_due(session: Session, case: Case, actor: Actor, now: datetime, day: date,
            tz: tzinfo, note: str) -> Case:
    """An org admin moves a deadline (to the end of a local day that has not passed)."""
    _require_acceptor(actor, case)
    if case.status == CLOSED:
        raise Conflict("整改单已办结，不能调整期限")
    note = _text(note, "note", "调整理由")
    due = (datetime.combine(day + timedelta(days=1), time(), tzinfo=tz)
           - timedelta(seconds=1)).astimezone(UTC)
    if due <= now:
        raise InvalidInput("期限不能早于现在", {"due": ["期限不能早于现在"]})
    old = case.due_at
    case.due_at, case.escalated_at = due, None
    _event(session, case, actor, now, "due", case.status,
           f"期限 {old.astimezone(tz):%Y-%m-%d} -> {day:%Y-%m-%d}：{note}")
    return case


def reopen(session: Session, case: Case, now: datetime, rules: CaseRules, tz: tzinfo,
           reason: str) -> Case:
    """回头看 found no improvement: the case goes back to the assignee with a new deadline."""
    if case.status != CLOSED:
        raise Conflict("只有已办结的整改单可以重新打开")
    system = Actor("系统", "system")
    _move(session, case, system, now, "reopen", (CLOSED,), IN_PROGRESS, note=reason)
    case.reopened += 1
    case.closed_at = case.recheck_due = case.closed_on_time = case.hours_to_close = None
    case.due_at = rules.due(now, tz)
    notify(session, [case], "reopened", now, tz)
    return case


def record_verdict(session: Session, case: Case, verdict: str, now: datetime) -> Case:
    """The rater says once whether the handling satisfied them (only once it is closed)."""
    if verdict not in VERDICTS:
        raise InvalidInput("评价无效", {"verdict": ["须为 satisfied 或 unsatisfied"]})
    if case.status != CLOSED:
        raise Conflict("整改单尚未办结，办结后可评价处理结果")
    if case.verdict is not None:
        raise Conflict("已评价过处理结果，不能重复提交")
    case.verdict = verdict
    day = now.replace(hour=0, minute=0, second=0, microsecond=0)  # coarse: no timing to match
    session.add(CaseEvent(case=case, at=day, actor="评价人", action="verdict",
                          from_status=CLOSED, to_status=CLOSED,
                          note="满意" if verdict == "satisfied" else "不满意"))
    return case


def has_contact(session: Session, case: Case) -> bool:
    """Return whether the rater of the case's rating left a phone for a call-back."""
    if case.rating_id is None:
        return False
    return session.scalar(select(FollowupContact.id)
                          .where(FollowupContact.rating_id == case.rating_id).limit(1)) is not None


def _require_owner(actor: Actor, case: Case) -> None:
    if not owns(actor, case):
        raise Forbidden("只有承办单位可以办理此整改单")


def acceptor(case: Case) -> str:
    """Return the role that accepts a case's handling: the discipline side its own reports."""
    return "discipline" if case.assignee_role == "discipline" else ORG_ADMIN


def _require_acceptor(actor: Actor, case: Case) -> None:
    if actor.role != acceptor(case):
        raise Forbidden("只有组织部管理员可以验收、退回或调整期限" if acceptor(case) == ORG_ADMIN
                        else "只有纪检监察部门可以办理举报")


def _text(value: str | None, field: str, label: str) -> str:
    value = (value or "").strip()
    if not value:
        raise InvalidInput(f"请填写{label}", {field: [f"请填写{label}"]})
    if len(value) > MAX_TEXT:
        raise InvalidInput(f"{label}过长", {field: [f"最多 {MAX_TEXT} 个字符"]})
    return value


def _move(session: Session, case: Case, actor: Actor, now: datetime, action: str,
          allowed: tuple[str, ...], to: str, note: str | None = None) -> Case:
    if case.status not in allowed:
        raise Conflict(f"整改单当前为「{STATUS_LABELS[case.status]}」，不能{ACTION_LABELS[action]}")
    old = case.status
    case.status = to
    _event(session, case, actor, now, action, old, note, to)
    return case


ACTION_LABELS = {"accept": "受理", "submit": "提交验收", "approve": "验收办结", "return": "退回",
                 "reopen": "重新打开", "due": "调整期限"}


def _event(session: Session, case: Case, actor: Actor, now: datetime, action: str,
           from_status: str, note: str | None, to: str | None = None) -> None:
    to = to or case.status
    case.updated_at = now
    session.add(CaseEvent(case=case, at=now, actor=actor.name, action=action,
                          from_status=from_status, to_status=to, note=note))
    if actor.role != "system":
        audit.record(session, actor.name, f"case.{action}", f"case:{case.id}", now,
                     {"from": from_status, "to": to}, actor.address)
