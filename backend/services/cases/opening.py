"""Open cases: from released ratings (score at or below the bar, or a serious tag), from flags.

Rating cases open inside the release batch's transaction, at the batch's hour, from the
released rows: they carry nothing the rating does not, so they relate to no submission.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta, tzinfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.models import Alert, Cadre, SurveyTemplate
from backend.models.cases import FLAG, OPEN, RATING, Case, CaseEvent
from backend.services.cases.notices import case_refs, notify
from backend.services.cases.workdays import WorkCalendar
from backend.storage.bulk import copy_rows, insert_rows

SYSTEM = "系统"
CASE_FLAGS = ("warning_talk", "reassignment_review")
SWEEP_WINDOW = timedelta(days=7)


@dataclass(frozen=True)
class CaseRules:
    """When a case opens and how long it may take (the scheme's `cases` section)."""

    bad_max: int = 4
    due_workdays: int = 5
    recheck_days: int = 30
    calendar: WorkCalendar = field(default_factory=WorkCalendar)

    def due(self, opened: datetime, tz: tzinfo, workdays: int | None = None) -> datetime:
        """Return the end of the n-th working day after the day a case opened (local time)."""
        day = self.calendar.add_workdays(opened.astimezone(tz).date(),
                                         workdays or self.due_workdays)
        end = datetime.combine(day + timedelta(days=1), time(), tzinfo=tz)
        return (end - timedelta(seconds=1)).astimezone(UTC)


def serious_tags(session: Session, template_ids: Iterable[int]) -> dict[int, frozenset[str]]:
    """Return each template's serious tags (a rating with one opens a case whatever its score)."""
    rows = session.execute(select(SurveyTemplate.id, SurveyTemplate.definition)
                           .where(SurveyTemplate.id.in_(set(template_ids)))).all()
    return {row.id: frozenset((row.definition.get("tags") or {}).get("serious") or ())
            for row in rows}


def needs_case(rating: Mapping, rules: CaseRules, serious: Mapping[int, frozenset[str]]) -> bool:
    """Return whether a released rating opens a case."""
    if rating["score"] <= rules.bad_max:
        return True
    return bool(serious.get(rating["template_id"], frozenset()) & set(rating["tags"] or ()))


def open_for_ratings(session: Session, ratings: Sequence[Mapping], rules: CaseRules,
                     tz: tzinfo, batch_at: datetime) -> int:
    """Open a case for each released rating that needs one; return how many opened."""
    serious = serious_tags(session, {r["template_id"] for r in ratings})
    chosen = [r for r in ratings if needs_case(r, rules, serious)]
    if not chosen:
        return 0
    units = dict(session.execute(select(Cadre.id, Cadre.unit_id)
                                 .where(Cadre.id.in_({r["cadre_id"] for r in chosen}))).all())
    due = rules.due(batch_at, tz)
    cases = [{"key": f"rating:{r['id']}", "source": RATING, "cadre_id": r["cadre_id"],
              "unit_id": units.get(r["cadre_id"]), "rating_id": r["id"], "period": r["month"],
              "assignee_role": "unit_admin", "status": OPEN, "due_at": due,
              "created_at": batch_at, "updated_at": batch_at, "reopened": 0} for r in chosen]
    # A batch may open thousands: one statement for the cases, one COPY for their events.
    ids = insert_rows(session, Case.__table__, cases, returning=("id",))
    copy_rows(session, CaseEvent.__table__, [
        {"case_id": case_id, "at": batch_at, "actor": SYSTEM, "action": "open",
         "from_status": None, "to_status": OPEN, "note": None} for (case_id,) in ids])
    notify(session, case_refs(session, [case_id for (case_id,) in ids]), "opened", batch_at, tz)
    return len(chosen)


def open_for_flags(session: Session, flagged: Iterable[tuple[int, str, Sequence[str]]],
                   rules: CaseRules, tz: tzinfo, now: datetime) -> int:
    """Open a case per (official, period) raised to warning_talk or reassignment_review.

    One case per official, flag and period: publishing again does not open another.
    """
    wanted = [(cadre_id, period, flag) for cadre_id, period, flags in flagged
              for flag in flags if flag in CASE_FLAGS]
    if not wanted:
        return 0
    keys = {f"flag:{flag}:{cadre_id}:{period}" for cadre_id, period, flag in wanted}
    known = set(session.scalars(select(Case.key).where(Case.key.in_(keys))))
    units = dict(session.execute(select(Cadre.id, Cadre.unit_id)
                                 .where(Cadre.id.in_({w[0] for w in wanted}))).all())
    opened: list[Case] = []
    for cadre_id, period, flag in wanted:
        key = f"flag:{flag}:{cadre_id}:{period}"
        if key in known:
            continue
        known.add(key)
        opened.append(add_case(session, Case(
            key=key, source=FLAG, cadre_id=cadre_id, unit_id=units.get(cadre_id), flag=flag,
            period=period, assignee_role="unit_admin", status=OPEN, due_at=rules.due(now, tz),
            created_at=now, updated_at=now), now))
    notify(session, opened, "opened", now, tz)
    return len(opened)


def open_for_flagged_alerts(session: Session, rules: CaseRules, tz: tzinfo,
                            now: datetime) -> int:
    """Open a case for every warning_talk or reassignment_review alert that has none yet.

    Publication raises the alerts; this sweep (after publication and with the cases' clock,
    every 10 minutes) turns them into cases, once each, whatever crashed in between. It reads
    the alerts of the last SWEEP_WINDOW only, so its work does not grow with the years.
    """
    rows = session.execute(select(Alert.cadre_id, Alert.period, Alert.type)
                           .where(Alert.type.in_(CASE_FLAGS), Alert.cadre_id.is_not(None),
                                  Alert.raised_at >= now - SWEEP_WINDOW)
                           .order_by(Alert.id)).all()
    return open_for_flags(session, [(r.cadre_id, r.period, (r.type,)) for r in rows],
                          rules, tz, now)


def add_case(session: Session, case: Case, at: datetime, actor: str = SYSTEM) -> Case:
    """Add a new case with its opening event (the caller commits)."""
    session.add(case)
    case.events.append(CaseEvent(at=at, actor=actor, action="open", from_status=None,
                                 to_status=case.status))
    return case
