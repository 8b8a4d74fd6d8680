"""What a score is of: an official, or a unit's leadership team (with the unit's code).

Every published score says so in `target_kind`; a team's also carries `unit_code`. Teams are
few (one per unit at most), so a publication loads them once.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.models import Cadre, Unit
from backend.models.directory import OFFICIAL, TEAM

OFFICIAL_TARGET: Mapping[str, str] = {"target_kind": OFFICIAL}


def team_targets(session: Session) -> dict[int, Mapping[str, str]]:
    """Return the target fields of every leadership team, by its cadre id."""
    rows = session.execute(select(Cadre.id, Unit.code).join(Unit, Unit.id == Cadre.unit_id)
                           .where(Cadre.kind == TEAM))
    return {cadre_id: {"target_kind": TEAM, "unit_code": unit_code}
            for cadre_id, unit_code in rows}


def target_of(cadre: Cadre) -> Mapping[str, str]:
    """Return the target fields of one directory target (its unit loaded for a team)."""
    if cadre.kind == TEAM:
        return {"target_kind": TEAM, "unit_code": cadre.unit.code}
    return OFFICIAL_TARGET


def is_team_target(target: Mapping[str, str]) -> bool:
    """Tell whether target fields are a leadership team's."""
    return target.get("target_kind") == TEAM
