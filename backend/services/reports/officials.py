"""Officials: valid ratings against the minimum, response rates, published scores."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Float, cast, func, select
from sqlalchemy.orm import Session

from backend.models import (
    Cadre,
    CadreDaily,
    CadreMonthly,
    RatingCount,
    ScoreSnapshot,
    Unit,
)
from backend.models.directory import OFFICIAL
from backend.scoring import document_headline
from backend.services.reports.common import Scope, Span, derive, sums

COLUMNS = ("invited", "reached", "rated")


def monthly_totals(months: list[str]):
    """Return a subquery of sums per official over the months."""
    return (select(CadreMonthly.cadre_id, *sums(CadreMonthly, COLUMNS),
                   func.coalesce(func.sum(CadreMonthly.valid_ratings), 0).label("valid"))
            .where(CadreMonthly.month.in_(months)).group_by(CadreMonthly.cadre_id).subquery())


def officials_query(scope: Scope, months: list[str], q: str, below: bool, minimum: int = 0):
    """Return the query of officials with their sums (without order or paging)."""
    totals = monthly_totals(months)
    valid = func.coalesce(totals.c.valid, 0)
    invited, rated = func.coalesce(totals.c.invited, 0), func.coalesce(totals.c.rated, 0)
    query = (select(Cadre.id, Cadre.code, Cadre.name, Cadre.position, Unit.name.label("unit"),
                    Unit.id.label("unit_id"), valid.label("valid"), invited.label("invited"),
                    func.coalesce(totals.c.reached, 0).label("reached"), rated.label("rated"))
             .join(Unit, Unit.id == Cadre.unit_id)
             .outerjoin(totals, totals.c.cadre_id == Cadre.id)
             .where(Cadre.active.is_(True), Cadre.kind == OFFICIAL, scope.where(Cadre.unit_id)))
    if q:
        like = f"%{q.replace('%', '').replace('_', '')}%"
        query = query.where(Cadre.name.like(like) | Cadre.code.like(like))
    if below:
        query = query.where(valid < minimum)
    return query, valid, invited, rated


def officials_page(session: Session, scope: Scope, months: list[str], q: str = "",
                   below: bool = False, sort: str = "valid", page: int = 1,
                   size: int | None = 50, minimum: int = 0) -> tuple[list[dict[str, Any]], int]:
    """Return one page of officials (all when size is None) and how many match."""
    query, valid, invited, rated = officials_query(scope, months, q, below, minimum)
    rate = cast(rated, Float) / func.nullif(invited, 0)
    order = {"rate": [rate.asc().nulls_first(), Cadre.code], "name": [Cadre.code],
             "invited": [invited.desc(), Cadre.code]}.get(sort, [valid, Cadre.code])
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    query = query.order_by(*order)
    if size:
        query = query.limit(size).offset((page - 1) * size)
    return [derive(row._mapping) for row in session.execute(query)], total


def score_of(snapshot: ScoreSnapshot) -> dict[str, Any]:
    """Return a snapshot's period, headline (score and kind), composite status and flags."""
    document = snapshot.document or {}
    composite = document.get("composite") or {}
    head = document_headline(document)
    return {"period": snapshot.period, "score": head.get("score_100"), "kind": head["kind"],
            "composite": composite.get("score_100"), "status": composite.get("status"),
            "flags": document.get("flags") or [], "computed_at": snapshot.computed_at}


def latest_scores(session: Session, cadre_ids: list[int]) -> dict[int, dict[str, Any]]:
    """Return the most recently computed current score of each official."""
    if not cadre_ids:
        return {}
    rows = session.scalars(select(ScoreSnapshot).where(
        ScoreSnapshot.cadre_id.in_(cadre_ids), ScoreSnapshot.superseded_at.is_(None))
        .order_by(ScoreSnapshot.cadre_id, ScoreSnapshot.computed_at))
    return {row.cadre_id: score_of(row) for row in rows}


def current_scores(session: Session, cadre_id: int) -> list[dict[str, Any]]:
    """Return an official's current scores, newest period first."""
    rows = session.scalars(select(ScoreSnapshot).where(
        ScoreSnapshot.cadre_id == cadre_id, ScoreSnapshot.superseded_at.is_(None))
        .order_by(ScoreSnapshot.period.desc()).limit(24))
    return [score_of(row) for row in rows]


def monthly_rows(session: Session, cadre_id: int, months: list[str]) -> list[dict[str, Any]]:
    """Return per month an official's invitations, ratings and valid ratings."""
    found = {row.month: row._mapping for row in session.execute(
        select(CadreMonthly.month, CadreMonthly.invited, CadreMonthly.reached,
               CadreMonthly.rated).where(CadreMonthly.cadre_id == cadre_id,
                                         CadreMonthly.month.in_(months)))}
    valid = dict(session.execute(
        select(RatingCount.month, func.sum(RatingCount.count))
        .where(RatingCount.cadre_id == cadre_id, RatingCount.month.in_(months))
        .group_by(RatingCount.month)).all())
    return [derive({"month": m, "invited": (found.get(m) or {}).get("invited", 0),
                    "reached": (found.get(m) or {}).get("reached", 0),
                    "rated": (found.get(m) or {}).get("rated", 0),
                    "valid": int(valid.get(m) or 0)}) for m in months]


def group_counts(session: Session, cadre_id: int, months: list[str]) -> dict[str, int]:
    """Return an official's valid ratings per rater group over the months."""
    return {g: int(n) for g, n in session.execute(
        select(RatingCount.rater_group, func.sum(RatingCount.count))
        .where(RatingCount.cadre_id == cadre_id, RatingCount.month.in_(months))
        .group_by(RatingCount.rater_group))}


def daily_rows(session: Session, cadre_id: int, span: Span) -> dict[Any, dict[str, Any]]:
    """Return an official's sums per day of the span (only days with data)."""
    rows = session.execute(
        select(CadreDaily.day, *sums(CadreDaily))
        .where(CadreDaily.cadre_id == cadre_id, CadreDaily.day >= span.start,
               CadreDaily.day <= span.end).group_by(CadreDaily.day))
    return {row.day: derive(row._mapping) for row in rows}


def find_cadre(session: Session, cadre_id: int) -> Cadre | None:
    """Return an official by id, or None."""
    return session.get(Cadre, cadre_id)
