"""A unit's results: the roll-up of its officials (with or without the units below it).

The unit's leadership team (领导班子), when campaigns have rated it, has results of its own:
shown beside the roll-up, never counted in it (a team is no official).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.errors import NotFound
from backend.models import Cadre, Unit
from backend.models.directory import OFFICIAL, TEAM
from backend.scoring import headline_document
from backend.services.reports.results import (
    HEADLINE_LABELS,
    ReportSettings,
    figures_for,
    flag_views,
    group_views,
    last_month,
    report_period,
    tag_bars,
    unit_subtree,
    window_total,
)
from backend.services.reports.standing import peer_headlines
from backend.services.reports.trend import trend


def find_unit(session: Session, code: str | None = None, unit_id: int | None = None) -> Unit:
    """Return a unit by code or id; NotFound otherwise."""
    query = select(Unit).where(Unit.code == code if code is not None else Unit.id == unit_id)
    unit = session.scalar(query)
    if unit is None:
        raise NotFound("单位不存在", {"unit": "单位不存在"})
    return unit


def unit_officials(session: Session, unit_ids: list[int]) -> list[Cadre]:
    """Return the active officials of the units, by code (their leadership teams left out)."""
    return list(session.scalars(select(Cadre).where(Cadre.unit_id.in_(unit_ids),
                                                    Cadre.active.is_(True),
                                                    Cadre.kind == OFFICIAL)
                                .order_by(Cadre.code)))


def unit_team(session: Session, unit_id: int) -> Cadre | None:
    """Return the unit's leadership team, or None when no campaign has named it."""
    return session.scalar(select(Cadre).where(Cadre.unit_id == unit_id, Cadre.kind == TEAM))


def team_results(session: Session, team: Cadre, period, settings: ReportSettings
                 ) -> dict[str, Any]:
    """Return the leadership team's own results for the period, as an official's are figured
    (under the scheme a publication scores the team with)."""
    settings = settings.for_official(team)
    window_n = window_total(session, [team.id], period, settings)
    figures = figures_for(session, [team.id], period, settings, window_n)
    return {"code": team.code, "name": team.name,
            "headline": headline_document(figures.headline),
            "headline_label": HEADLINE_LABELS[figures.headline.kind],
            "groups": group_views(figures, settings),
            "tags": tag_bars(figures, settings)}


def unit_report(session: Session, unit: Unit, label: str, settings: ReportSettings,
                with_subordinates: bool) -> dict[str, Any]:
    """Return a unit's roll-up for a period and each official's headline (by code, not rank)."""
    period = report_period(label, settings)
    officials = unit_officials(session, unit_subtree(session, unit, with_subordinates))
    ids = [c.id for c in officials]
    window_n = window_total(session, ids, period, settings)
    figures = figures_for(session, ids, period, settings, window_n)
    heads = peer_headlines(session, ids, period, settings)
    team = unit_team(session, unit.id)
    return {
        "unit": {"code": unit.code, "name": unit.name, "category": unit.category,
                 "category_name": settings.vocabulary.category_name(unit.category)},
        "period": period.label, "with_subordinates": with_subordinates,
        "officials_count": len(officials),
        "headline": headline_document(figures.headline),
        "headline_label": HEADLINE_LABELS[figures.headline.kind],
        "groups": group_views(figures, settings),
        "tags": tag_bars(figures, settings),
        "flags": flag_views(figures, window_n, settings),
        "trend": trend(session, ids, last_month(period, settings), settings) if ids else
        {"months": [], "quarters": []},
        "officials": [{"id": c.id, "code": c.code, "name": c.name, "position": c.position,
                       "unit": c.unit.name, "headline": headline_document(h),
                       "headline_label": HEADLINE_LABELS[h.kind]}
                      for c, h in zip(officials, heads, strict=True)],
        "team": team_results(session, team, period, settings) if team else None,
    }
