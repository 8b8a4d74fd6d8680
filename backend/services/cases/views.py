"""What a case shows: to the API and console (never the rater), and to the rater by receipt."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy import case as when
from sqlalchemy.orm import Session, joinedload

from backend.errors import NotFound
from backend.models import Unit
from backend.models.cases import CLOSED, STATUSES, Case
from backend.services.cases.appeals import statuses_for
from backend.services.cases.flow import STATUS_LABELS

MAX_PAGE = 500
# What the rater reads: whether someone took it on, is working on it, or has answered.
RATER_LABELS = {"open": "已受理", "in_progress": "整改中", "awaiting_acceptance": "整改中",
                "returned": "整改中", "closed": "已办结"}


def case_summary(case: Case, appeal: str | None = None) -> dict[str, Any]:
    """Return the contract's view of a case: who was rated, where, its state and deadline.

    `appeal` is the status of the case's appeal, if any (never who filed or who rated).
    """
    out = {"id": case.id, "cadre_code": case.cadre.code if case.cadre else None,
           "unit_code": case.unit.code if case.unit else None, "source": case.source,
           "status": case.status, "due_at": case.due_at, "created_at": case.created_at}
    if case.reply and case.status == CLOSED:
        out["reply"] = case.reply
    if appeal is not None:
        out["appeal"] = {"status": appeal}
    return out


def case_detail(case: Case) -> dict[str, Any]:
    """Return a case with what was said (score, tags, comment, month) and its history."""
    out = case_summary(case)
    out.update(status_label=STATUS_LABELS[case.status], period=case.period, flag=case.flag,
               reply=case.reply, measures=case.measures, callback=case.callback,
               closed_at=case.closed_at, reopened=case.reopened, verdict=case.verdict,
               cadre_name=case.cadre.name if case.cadre else None,
               unit_name=case.unit.name if case.unit else None,
               report_kind=case.report_kind, report_text=case.report_text)
    if case.rating is not None:
        out["rating"] = {"score": case.rating.score, "tags": list(case.rating.tags or ()),
                         "comment": case.rating.comment, "month": case.rating.month,
                         "rater_group": case.rating.rater_group, "status": case.rating.status}
    out["events"] = [{"at": e.at, "actor": e.actor, "action": e.action,
                      "from_status": e.from_status, "to_status": e.to_status, "note": e.note}
                     for e in case.events]
    return out


def case_query(statuses: Collection[str] = (), unit_ids: Collection[int] | None = None,
               unit_code: str | None = None, roles: Collection[str] = ("unit_admin",)) -> Select:
    """Build the query of cases in some states, units and assignee roles, newest first."""
    query = (select(Case).options(joinedload(Case.cadre), joinedload(Case.unit))
             .where(Case.assignee_role.in_(tuple(roles))).order_by(Case.id.desc()))
    if statuses:
        query = query.where(Case.status.in_(tuple(statuses)))
    if unit_ids is not None:
        query = query.where(Case.unit_id.in_(tuple(unit_ids)))
    if unit_code is not None:
        query = query.join(Unit, Unit.id == Case.unit_id).where(Unit.code == unit_code)
    return query


def list_cases(session: Session, status: str | None = None, unit: str | None = None,
               limit: int = 100, before: int | None = None) -> list[dict[str, Any]]:
    """List the rectification cases for API clients (never the discipline side's reports)."""
    if status is not None and status not in STATUSES:
        raise NotFound("状态无效")
    if unit is not None and session.scalar(select(Unit.id).where(Unit.code == unit)) is None:
        raise NotFound("单位不存在")
    query = case_query([status] if status else (), unit_code=unit).limit(min(limit, MAX_PAGE))
    if before is not None:
        query = query.where(Case.id < before)
    found = list(session.scalars(query).unique())
    appeals = statuses_for(session, [c.id for c in found])
    return [case_summary(c, appeals.get(c.id)) for c in found]


def api_case(session: Session, case_id: int) -> dict[str, Any]:
    """Return one rectification case for an API client."""
    case = session.get(Case, case_id)
    if case is None or case.assignee_role == "discipline":
        raise NotFound("整改单不存在")
    return case_summary(case, statuses_for(session, [case.id]).get(case.id))


def receipt_case(session: Session, rating_ids: Sequence[int]) -> dict[str, Any] | None:
    """Return the state (once closed, the reply) of the first case a receipt's ratings opened."""
    if not rating_ids:
        return None
    case = session.scalar(select(Case).where(Case.rating_id.in_(tuple(rating_ids)))
                          .order_by(Case.id).limit(1))
    if case is None:
        return None
    out = {"status": case.status, "status_label": RATER_LABELS[case.status]}
    if case.status == CLOSED and case.reply:
        out["reply"] = case.reply
        out["verdict"] = case.verdict
    return out


def case_for_receipt(session: Session, rating_ids: Sequence[int]) -> Case:
    """Return the case a receipt's ratings opened (for the rater's verdict); NotFound if none."""
    case = session.scalar(select(Case).where(Case.rating_id.in_(tuple(rating_ids) or (-1,)))
                          .order_by(Case.id).limit(1).with_for_update())
    if case is None:
        raise NotFound("此凭证没有整改单")
    return case




ACTIVE_STATES = ("open", "in_progress", "awaiting_acceptance", "returned")


def inbox(session: Session, roles: Collection[str], unit_ids: Collection[int] | None,
          status: str | None, offset: int, limit: int | None) -> list[Case]:
    """Return a page of cases for the console: a state (or the active ones), due first."""
    states = [status] if status in STATUSES else (ACTIVE_STATES if status is None else ())
    query = case_query(states, unit_ids, roles=roles).order_by(None).order_by(
        Case.due_at, Case.id).offset(offset)
    return list(session.scalars(query.limit(limit) if limit else query).unique())


def state_counts(session: Session, roles: Collection[str],
                 unit_ids: Collection[int] | None) -> dict[str, int]:
    """Return how many cases are in each state (within the units and roles)."""
    query = select(Case.status, func.count()).where(Case.assignee_role.in_(tuple(roles)))
    if unit_ids is not None:
        query = query.where(Case.unit_id.in_(tuple(unit_ids)))
    return dict(session.execute(query.group_by(Case.status)).all())


def sla_rows(session: Session, roles: Collection[str], unit_ids: Collection[int] | None,
             now: datetime) -> list[dict[str, Any]]:
    """Per unit: cases, closed, closed on time, overdue now, average days to close."""
    closed = Case.status == CLOSED
    query = (select(Unit.id, Unit.code, Unit.name, func.count().label("cases"),
                    func.sum(when((closed, 1), else_=0)).label("closed"),
                    func.sum(when((Case.closed_on_time.is_(True), 1), else_=0)).label("on_time"),
                    func.sum(when((~closed & (Case.due_at < now), 1), else_=0)).label("overdue"),
                    func.avg(Case.hours_to_close).label("hours"))
             .join(Unit, Unit.id == Case.unit_id)
             .where(Case.assignee_role.in_(tuple(roles)))
             .group_by(Unit.id, Unit.code, Unit.name))
    if unit_ids is not None:
        query = query.where(Case.unit_id.in_(tuple(unit_ids)))
    rows = [{"unit_id": r.id, "unit_code": r.code, "unit": r.name, "cases": r.cases,
             "closed": r.closed, "on_time": r.on_time, "overdue": r.overdue,
             "on_time_rate": r.on_time / r.closed if r.closed else None,
             "avg_days": round(float(r.hours) / 24, 1) if r.hours is not None else None}
            for r in session.execute(query)]
    return sorted(rows, key=lambda u: (-u["overdue"], u["unit_code"]))
