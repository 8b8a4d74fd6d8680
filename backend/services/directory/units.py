"""The directory of units and cadres: upserts with validation shared by API and import."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.errors import InvalidInput
from backend.models import Cadre, Unit
from backend.models.directory import TEAM
from backend.scoring.vocabulary import POSITION_LEVELS, Vocabulary

TEAM_PREFIX = "T-"  # a unit's leadership team is T-<unit code> (services/directory/teams)

CODE_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


@dataclass(frozen=True)
class UnitInput:
    code: str
    name: str
    category: str
    parent_code: str | None = None


@dataclass(frozen=True)
class CadreInput:
    code: str
    name: str
    unit_code: str
    position: str
    active: bool = True
    level: str | None = None  # a POSITION_LEVELS code; "" clears it, None keeps it


def code_error(code: str) -> str | None:
    """Return why a code is not acceptable, or None."""
    if not CODE_PATTERN.match(code or ""):
        return "编码只能包含字母、数字、点、横线和下划线，且不超过 64 个字符"
    return None


def unit_errors(data: UnitInput, vocabulary: Vocabulary) -> dict[str, str]:
    """Check a unit's own fields (not its parent's existence)."""
    found = {}
    if err := code_error(data.code):
        found["code"] = err
    if not data.name.strip() or len(data.name) > 200:
        found["name"] = "名称不能为空且不超过 200 个字符"
    if vocabulary.category_code(data.category or "") is None:
        found["category"] = "未知类别；可选：" + vocabulary.category_choices()
    if data.parent_code is not None and data.parent_code == data.code:
        found["parent_code"] = "单位不能以自身为上级"
    return found


def cadre_errors(data: CadreInput) -> dict[str, str]:
    """Check a cadre's own fields (not the unit's existence)."""
    found = {}
    if err := code_error(data.code):
        found["code"] = err
    if not data.name.strip() or len(data.name) > 100:
        found["name"] = "姓名不能为空且不超过 100 个字符"
    if not data.position.strip() or len(data.position) > 200:
        found["position"] = "职务不能为空且不超过 200 个字符"
    if data.level and data.level not in POSITION_LEVELS:
        found["level"] = "未知职级；可选：" + "、".join(POSITION_LEVELS.values())
    return found


def team_code_error(session: Session, code: str, cadre: Cadre | None) -> str | None:
    """Refuse to edit a leadership team as an official, or to take a team's code (T-<unit>)."""
    if cadre is not None and cadre.kind == TEAM:
        return f"{code} 是单位领导班子，不能作为干部编辑"
    if cadre is None and code.startswith(TEAM_PREFIX) and session.scalar(
            select(Unit.id).where(Unit.code == code[len(TEAM_PREFIX):])) is not None:
        return f"编码 {code} 留给单位 {code[len(TEAM_PREFIX):]} 的领导班子，请换一个编码"
    return None


def creates_cycle(session: Session, unit: Unit | None, parent: Unit) -> bool:
    """Tell whether making `parent` the parent of `unit` would close a loop."""
    node, seen = parent, set()
    while node is not None and node.id not in seen:
        if unit is not None and node.id == unit.id:
            return True
        seen.add(node.id)
        node = node.parent
    return False


def upsert_unit(session: Session, data: UnitInput, vocabulary: Vocabulary) -> tuple[Unit, bool]:
    """Create or update a unit; return it and whether it was created. Does not commit.

    The category may be given by its code, name or an alias (settings/unit_categories.yaml).
    """
    if errs := unit_errors(data, vocabulary):
        raise InvalidInput(errors=errs)
    unit = session.scalar(select(Unit).where(Unit.code == data.code))
    parent = None
    if data.parent_code:
        parent = session.scalar(select(Unit).where(Unit.code == data.parent_code))
        if parent is None:
            raise InvalidInput(errors={"parent_code": f"上级单位不存在：{data.parent_code}"})
        if creates_cycle(session, unit, parent):
            raise InvalidInput(errors={"parent_code": "上级关系会形成循环"})
    created = unit is None
    if created:
        unit = Unit(code=data.code)
        session.add(unit)
    unit.name, unit.parent = data.name.strip(), parent
    unit.category = vocabulary.category_code(data.category)
    session.flush()
    return unit, created


def upsert_cadre(session: Session, data: CadreInput) -> tuple[Cadre, bool]:
    """Create or update a cadre; return it and whether it was created. Does not commit."""
    if errs := cadre_errors(data):
        raise InvalidInput(errors=errs)
    unit = session.scalar(select(Unit).where(Unit.code == data.unit_code))
    if unit is None:
        raise InvalidInput(errors={"unit_code": f"单位不存在：{data.unit_code}"})
    cadre = session.scalar(select(Cadre).where(Cadre.code == data.code))
    if error := team_code_error(session, data.code, cadre):
        raise InvalidInput(errors={"code": error})
    created = cadre is None
    if created:
        cadre = Cadre(code=data.code)
        session.add(cadre)
    cadre.name, cadre.unit, cadre.position = data.name.strip(), unit, data.position.strip()
    cadre.active = data.active
    if data.level is not None:
        cadre.level = data.level or None
    session.flush()
    return cadre, created
