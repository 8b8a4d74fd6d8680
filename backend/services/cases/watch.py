"""The cases' clock: overdue cases escalate to the org admin; 回头看 reopens what did not hold."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, tzinfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.models import RatingCount
from backend.models.cases import CLOSED, IN_PROGRESS, OPEN, RETURNED, Case, CaseEvent
from backend.services.alerts import raise_alert
from backend.services.cases.flow import reopen
from backend.services.cases.notices import notify
from backend.services.cases.opening import CaseRules, open_for_flagged_alerts

ACTIVE = (OPEN, IN_PROGRESS, RETURNED)


@dataclass
class WatchReport:
    """What one run of the clock did."""

    escalated: int = 0
    rechecked: int = 0
    reopened: int = 0


def escalate_overdue(session: Session, now: datetime, tz: tzinfo) -> int:
    """Mark every newly overdue case escalated and raise one alert per official and month."""
    overdue = list(session.scalars(select(Case).where(
        Case.status.in_(ACTIVE), Case.due_at < now, Case.escalated_at.is_(None))
        .order_by(Case.id).with_for_update(skip_locked=True)))
    grouped: dict[tuple, list[int]] = defaultdict(list)
    for case in overdue:
        case.escalated_at = now
        session.add(CaseEvent(case=case, at=now, actor="系统", action="escalate",
                              from_status=case.status, to_status=case.status,
                              note="逾期未办结，已提请组织部督办"))
        if case.assignee_role != "discipline":
            grouped[(case.cadre_id, case.period or f"{now.astimezone(tz):%Y-%m}")].append(case.id)
    for (cadre_id, period), ids in grouped.items():
        raise_alert(session, "case_overdue", cadre_id, period, {"cases": ids}, now)
    notify(session, overdue, "escalated", now, tz)
    return len(overdue)


def recheck_due(session: Session, now: datetime, rules: CaseRules, tz: tzinfo) -> WatchReport:
    """Run 回头看 on closed cases whose check is due: reopen where bad ratings did not fall."""
    report = WatchReport()
    due = list(session.scalars(select(Case).where(
        Case.status == CLOSED, Case.recheck_due.is_not(None), Case.recheck_due <= now)
        .order_by(Case.id).with_for_update(skip_locked=True)))
    for case in due:
        report.rechecked += 1
        before, after = bad_share(session, case, rules.bad_max, tz)
        if after is None:
            note = "回头看：办结后无新评价，维持办结"
        elif before is not None and after < before:
            note = f"回头看：差评占比 {before:.0%} -> {after:.0%}，已改善"
        else:
            reopen(session, case, now, rules, tz,
                   f"回头看：差评占比未下降（{_pct(before)} -> {after:.0%}），重新整改")
            report.reopened += 1
            continue
        case.recheck_due = None
        session.add(CaseEvent(case=case, at=now, actor="系统", action="recheck",
                              from_status=CLOSED, to_status=CLOSED, note=note))
    return report


def _pct(value: float | None) -> str:
    return "无" if value is None else f"{value:.0%}"


def bad_share(session: Session, case: Case, bad_max: int,
              tz: tzinfo) -> tuple[float | None, float | None]:
    """Return the official's share of bad ratings in the case's month and since it closed."""
    if case.cadre_id is None or case.closed_at is None:
        return None, None
    closed_month = f"{case.closed_at.astimezone(tz):%Y-%m}"
    check_month = f"{case.recheck_due.astimezone(tz):%Y-%m}" if case.recheck_due else closed_month
    rows = session.execute(
        select(RatingCount.month, RatingCount.score, func.sum(RatingCount.count))
        .where(RatingCount.cadre_id == case.cadre_id,
               RatingCount.month.between(min(case.period or closed_month, closed_month),
                                         check_month))
        .group_by(RatingCount.month, RatingCount.score)).all()
    before = [(s, n) for m, s, n in rows if m == case.period]
    after = [(s, n) for m, s, n in rows if m != case.period and m >= closed_month]
    return _share(before, bad_max), _share(after, bad_max)


def _share(pairs: list[tuple[int, int]], bad_max: int) -> float | None:
    total = sum(n for _s, n in pairs)
    if not total:
        return None
    return sum(n for s, n in pairs if s <= bad_max) / total


def run(session: Session, now: datetime, rules: CaseRules, tz: tzinfo) -> WatchReport:
    """Open the flags' cases, escalate overdue ones, run the due 回头看 (the caller commits)."""
    open_for_flagged_alerts(session, rules, tz, now)
    report = recheck_due(session, now, rules, tz)
    report.escalated = escalate_overdue(session, now, tz)
    return report
