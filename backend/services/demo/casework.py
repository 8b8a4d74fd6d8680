"""The demo's case handling: unit admins and the organisation department work the cases.

Every afternoon of the simulated months, each open case moves on by its fate (drawn once from
its id): most are taken on the next day, answered within three days and accepted on time;
some are handled late, some are sent back once for more, a few sit untouched until they are
overdue and escalate, and the newest are still in hand. Every step goes through the cases'
own service functions, so the SLA dashboard shows what such months would leave; the cases'
clock (escalation and 回头看) runs after them.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.models.cases import AWAITING, CLOSED, IN_PROGRESS, OPEN, RETURNED, Case
from backend.services.cases import flow, watch
from backend.services.cases.opening import CaseRules

ORG = flow.Actor("admin", "org_admin")
UNIT_ADMINS = {"XZ100": "chengguan"}  # the demo's own unit admin; others get a stand-in name
MEASURES = ("已约谈窗口工作人员，组织业务培训，调整窗口引导流程。",
            "已核实情况，对经办人员批评教育，并在大厅增设咨询引导岗。",
            "已梳理办事流程，压缩办理时限，在公示栏公开办理指南。")
REPLIES = ("您反映的问题已核实，我们已对相关人员批评教育并加强培训，感谢您的监督。",
           "感谢您的评价。我们已优化办理流程、增设引导岗位，欢迎您继续监督。",
           "您反映的情况属实，已责成经办人员整改，今后将改进服务态度和办事效率。")


@dataclass(frozen=True)
class Fate:
    """How many days after opening (or reopening) a case takes each step; None: never."""

    accept: int | None
    submit: int | None
    approve: int | None
    send_back: int | None = None  # the org admin returns it once, then:
    resubmit: int | None = None


PROMPT = Fate(1, 3, 4)
SLOW = Fate(2, 7, 9)
RETURNED_ONCE = Fate(1, 3, 7, send_back=4, resubmit=6)
LINGERING = Fate(2, 12, 13)
STUCK = Fate(None, None, None)


def fate_of(case: Case) -> Fate:
    """Return a case's fate, fixed by its id (the same on every run of the demo)."""
    draw = int(hashlib.sha256(f"demo-case:{case.id}".encode()).hexdigest()[:8], 16) % 100
    for bound, fate in ((6, STUCK), (16, SLOW), (26, RETURNED_ONCE), (32, LINGERING)):
        if draw < bound:
            return fate
    return PROMPT


def work_cases(session: Session, now: datetime, rules: CaseRules, tz: tzinfo) -> None:
    """Take each active unit case one step on if its fate says so; then run the clock."""
    active = session.scalars(select(Case).where(Case.assignee_role == "unit_admin",
                                                Case.status != CLOSED).order_by(Case.id))
    for case in active:
        step(session, case, fate_of(case), now, rules, tz)
    rater_verdicts(session, now)
    watch.run(session, now, rules, tz)
    session.commit()


def step(session: Session, case: Case, fate: Fate, now: datetime, rules: CaseRules,
         tz: tzinfo) -> None:
    """Take the one step a case's fate calls for today, if any."""
    started = started_at(case)
    age = (now - started).days
    returned = any(e.action == "return" and e.at >= started for e in case.events)
    unit = flow.Actor(unit_admin(case), "unit_admin")
    if case.status in (OPEN, RETURNED) and reached(age, fate.resubmit - 1 if returned
                                                   and fate.resubmit else fate.accept):
        flow.accept(session, case, unit, now)
    elif case.status == IN_PROGRESS and reached(age, fate.resubmit if returned else fate.submit):
        pick = case.id % len(REPLIES)
        callback = "reached" if flow.has_contact(session, case) else "no_consent"
        flow.submit(session, case, unit, now, reply=REPLIES[pick], measures=MEASURES[pick],
                    callback=callback)
    elif case.status == AWAITING and fate.send_back is not None and not returned \
            and reached(age, fate.send_back):
        flow.send_back(session, case, ORG, now, "整改措施不够具体，请补充整改前后对比情况。", tz)
    elif case.status == AWAITING and reached(age, fate.approve):
        flow.approve(session, case, ORG, now, rules)


def reached(age: int, day: int | None) -> bool:
    """Return whether a step planned for `day` is due at `age` days."""
    return day is not None and age >= day


def started_at(case: Case) -> datetime:
    """Return when the case's current round began: its opening or its last reopening."""
    reopened = [e.at for e in case.events if e.action == "reopen"]
    return max(reopened) if reopened else case.created_at


def unit_admin(case: Case) -> str:
    """Return the name the unit's administrator acts under."""
    code = case.unit.code if case.unit else "unit"
    return UNIT_ADMINS.get(code, f"{code}-admin")


def rater_verdicts(session: Session, now: datetime) -> None:
    """Some raters say whether the handling satisfied them, two days after it closed."""
    closed = session.scalars(select(Case).where(
        Case.status == CLOSED, Case.verdict.is_(None), Case.source == "rating",
        Case.closed_at <= now - timedelta(days=2), Case.closed_at > now - timedelta(days=3)))
    for case in closed:
        if case.id % 3:
            flow.record_verdict(session, case, "satisfied" if case.id % 5 else "unsatisfied",
                                now)
