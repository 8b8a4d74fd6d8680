"""Leadership teams (领导班子): a unit rated as a whole, a directory target beside its officials.

A team is a row of `cadres` with kind "team", at most one per unit, so that every part of the
rating pipeline keyed on the target (ballots, ratings, counts, ledger, scores, pushes) serves
it unchanged. Its code is `T-<unit code>`, its name `<unit name>领导班子`. It is created when
a campaign first names it: as `team:<unit code>`, `班子:<unit code>` or its own code.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend.models import Cadre, Unit
from backend.models.directory import TEAM
from backend.services.directory.units import TEAM_PREFIX

CODE_PREFIX = TEAM_PREFIX
POSITION = "领导班子"
# team:CG, 班子:CG, 班子：CG (full-width colon), 领导班子:CG
REFERENCE = re.compile(r"^(?:team|班子|领导班子)\s*[:：]\s*(?P<unit>\S+)$", re.IGNORECASE)
MAX_CODE = 64
MAX_NAME = 100


def team_code(unit_code: str) -> str:
    """Return the code of a unit's leadership team."""
    return CODE_PREFIX + unit_code


def team_name(unit_name: str) -> str:
    """Return the name of a unit's leadership team (the unit's name cut to fit)."""
    return unit_name.strip()[:MAX_NAME - len(POSITION)] + POSITION


def referenced_unit(reference: str) -> str | None:
    """Return the unit code a `team:<unit>` / `班子:<unit>` reference names, or None."""
    found = REFERENCE.match((reference or "").strip())
    return found.group("unit") if found else None


def is_team(cadre: Cadre) -> bool:
    """Tell whether a directory target is a leadership team."""
    return cadre.kind == TEAM


def target_label(cadre: Cadre) -> str:
    """Name a target in messages: an official by name and code, a team by its name."""
    return cadre.name if is_team(cadre) else f"{cadre.name}（{cadre.code}）"


@dataclass(frozen=True)
class Resolved:
    """Targets named by references: found (or new, not yet stored) rows and the problems."""

    targets: dict[str, Cadre]
    problems: dict[str, str]  # reference -> why it names no target


def new_team(unit: Unit) -> Cadre:
    """Return an unsaved leadership team row of a unit."""
    return Cadre(code=team_code(unit.code), name=team_name(unit.name), unit_id=unit.id,
                 position=POSITION, level=None, active=True, kind=TEAM)


def resolve_targets(session: Session, references: Iterable[str]) -> Resolved:
    """Resolve target references: cadre codes, and team references of units.

    `team:<unit>` and `班子:<unit>` name a unit's team; so does `T-<unit>` when no cadre has
    that code yet and the unit exists. A team not yet in the directory comes back as an
    unsaved row (one per unit); `store_new_teams` saves those a valid request uses. Nothing
    is written here. An unknown cadre code is left out for the caller to name.
    """
    references = set(references)
    named = {ref: referenced_unit(ref) for ref in references}
    codes = references | {team_code(u) for u in named.values() if u}
    by_code = {c.code: c for c in session.scalars(select(Cadre).where(Cadre.code.in_(codes)))}
    wanted = {ref: named[ref] or (ref[len(CODE_PREFIX):] if ref.startswith(CODE_PREFIX)
                                  and ref not in by_code else None) for ref in references}
    units = {u.code: u for u in session.scalars(
        select(Unit).where(Unit.code.in_({u for u in wanted.values() if u})))}
    teams = {c.unit_id: c for c in session.scalars(select(Cadre).where(
        Cadre.kind == TEAM, Cadre.unit_id.in_([u.id for u in units.values()])))}
    resolved = Resolved({}, {})
    made: dict[int, Cadre] = {}
    for ref, unit_code in wanted.items():
        if unit_code is None:
            if ref in by_code:
                resolved.targets[ref] = by_code[ref]
            continue
        unit = units.get(unit_code)
        code = team_code(unit_code)
        if unit is None and not named[ref]:
            continue  # T-<x> with no unit x: an unknown cadre code, for the caller to name
        if unit is None:
            resolved.problems[ref] = f"单位不存在：{unit_code}（无法评价其领导班子）"
        elif unit.id in teams:
            resolved.targets[ref] = teams[unit.id]
        elif len(code) > MAX_CODE:
            resolved.problems[ref] = f"单位编码过长，无法建立领导班子：{unit_code}"
        elif code in by_code:
            resolved.problems[ref] = f"编码 {code} 已被干部占用，无法建立领导班子"
        else:
            resolved.targets[ref] = made.setdefault(unit.id, new_team(unit))
    return resolved


def store_new_teams(session: Session, targets: Iterable[Cadre]) -> None:
    """Save the unsaved teams among targets; a team another request saved first is reused."""
    for team in {id(t): t for t in targets if t.id is None}.values():
        try:
            with session.begin_nested():
                session.add(team)
        except IntegrityError:  # created concurrently: take the stored one's id
            stored = session.scalar(select(Cadre).where(Cadre.kind == TEAM,
                                                        Cadre.unit_id == team.unit_id))
            team.id = stored.id
