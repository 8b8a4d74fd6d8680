"""Managing the directory by hand: the unit tree, officials, transfers, roster uploads.

Every change is written to the audit trail through the `record` callable the caller passes
(accounts sit above the directory), in the transaction that makes it; a refused change
(InvalidInput, NotFound) leaves nothing behind.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.errors import InvalidInput, NotFound
from backend.models import Cadre, Unit
from backend.models.directory import OFFICIAL
from backend.scoring.vocabulary import POSITION_LEVELS, Vocabulary, level_code
from backend.services.directory.roster_import import ImportReport, import_roster_data
from backend.services.directory.units import (
    CadreInput,
    UnitInput,
    upsert_cadre,
    upsert_unit,
)
from backend.storage.transactions import row_or_missing

# record(session, action, target, details): append an audit entry in the session's transaction.
Recorder = Callable[[Session, str, str, dict], None]


@dataclass(frozen=True)
class UnitNode:
    """A unit in the tree, with its depth and how many officials it has."""
    id: int
    code: str
    name: str
    category: str
    parent_code: str | None
    depth: int
    officials: int
    active_officials: int


@dataclass(frozen=True)
class Official:
    """An official as the directory page lists one."""
    id: int
    code: str
    name: str
    unit_code: str
    unit_name: str
    position: str
    level: str | None
    level_name: str
    active: bool


def unit_tree(session: Session, units: frozenset[int] | None = None) -> list[UnitNode]:
    """Return the units depth first (children under their parent), within `units` if given."""
    rows = session.execute(select(Unit).order_by(Unit.code)).scalars().all()
    officials_only = Cadre.kind == OFFICIAL  # a unit's leadership team is no official
    counts = dict(session.execute(select(Cadre.unit_id, func.count()).where(officials_only)
                                  .group_by(Cadre.unit_id)).all())
    active = dict(session.execute(select(Cadre.unit_id, func.count())
                                  .where(Cadre.active.is_(True), officials_only)
                                  .group_by(Cadre.unit_id)).all())
    children: dict[int | None, list[Unit]] = {}
    ids = {u.id for u in rows}
    for unit in rows:
        parent = unit.parent_id if unit.parent_id in ids else None
        children.setdefault(parent, []).append(unit)
    ordered: list[UnitNode] = []
    stack = [(u, 0) for u in reversed(children.get(None, []))]
    seen: set[int] = set()
    while stack:
        unit, depth = stack.pop()
        if unit.id in seen:
            continue  # a loop in bad data is shown once
        seen.add(unit.id)
        if units is None or unit.id in units:
            ordered.append(node(unit, depth, counts, active))
        stack.extend((c, depth + 1) for c in reversed(children.get(unit.id, [])))
    return ordered


def node(unit: Unit, depth: int, counts: dict, active: dict) -> UnitNode:
    """Return a unit's tree node."""
    return UnitNode(unit.id, unit.code, unit.name, unit.category,
                    unit.parent.code if unit.parent else None, depth,
                    counts.get(unit.id, 0), active.get(unit.id, 0))


def officials(session: Session, unit_id: int | None = None, query: str = "",
              limit: int = 200) -> list[Official]:
    """Return officials of a unit (or all), filtered by a code or name fragment.

    Leadership teams are not listed: they are no officials, and campaigns create them.
    """
    stmt = select(Cadre, Unit).join(Unit, Unit.id == Cadre.unit_id).where(Cadre.kind == OFFICIAL)
    if unit_id is not None:
        stmt = stmt.where(Cadre.unit_id == unit_id)
    if query:
        pattern = f"%{query}%"
        stmt = stmt.where(Cadre.code.like(pattern) | Cadre.name.like(pattern))
    stmt = stmt.order_by(Cadre.active.desc(), Cadre.code).limit(limit)
    return [official(cadre, unit) for cadre, unit in session.execute(stmt)]


def official(cadre: Cadre, unit: Unit) -> Official:
    """Return the listing of one official."""
    return Official(cadre.id, cadre.code, cadre.name, unit.code, unit.name, cadre.position,
                    cadre.level, POSITION_LEVELS.get(cadre.level or "", "未设置"), cadre.active)


def find_official(session: Session, cadre_id: int) -> Official:
    """Return one official; NotFound otherwise."""
    row = session.execute(select(Cadre, Unit).join(Unit, Unit.id == Cadre.unit_id)
                          .where(Cadre.id == cadre_id, Cadre.kind == OFFICIAL)).first()
    if row is None:
        raise NotFound("干部不存在")
    return official(*row)


def find_unit(session: Session, unit_id: int) -> UnitNode:
    """Return one unit as a tree node (depth 0); NotFound otherwise."""
    unit = session.get(Unit, unit_id)
    if unit is None:
        raise NotFound("单位不存在")
    return node(unit, 0, {}, {})


def changed(session: Session, record: Recorder, action: str, target: str,
            details: dict) -> None:
    """Audit a change and commit it."""
    record(session, action, target, details)
    session.commit()


def guarded(session: Session, change: Callable[[], object]) -> object:
    """Run a change; on a refusal roll back so nothing of it stays."""
    try:
        return change()
    except (InvalidInput, NotFound):
        session.rollback()
        raise


def save_unit(session: Session, data: UnitInput, vocabulary: Vocabulary,
              record: Recorder) -> bool:
    """Create or edit a unit; audited; return whether it was created."""
    unit, created = guarded(session, lambda: upsert_unit(session, data, vocabulary))
    changed(session, record, "directory.unit.create" if created else "directory.unit.update",
            f"unit:{unit.code}", {"name": unit.name, "category": unit.category,
                                  "parent": data.parent_code})
    return created


def save_official(session: Session, data: CadreInput, record: Recorder) -> bool:
    """Create or edit an official; audited; return whether it was created."""
    data = CadreInput(data.code, data.name, data.unit_code, data.position, data.active,
                      level_code(data.level))
    cadre, created = guarded(session, lambda: upsert_cadre(session, data))
    changed(session, record, "directory.cadre.create" if created else "directory.cadre.update",
            f"cadre:{cadre.code}", {"unit": data.unit_code, "position": cadre.position,
                                    "level": cadre.level})
    return created


def cadre_row(session: Session, cadre_id: int) -> Cadre:
    """Return an official's row; NotFound otherwise (a leadership team is not edited here)."""
    cadre = row_or_missing(session, Cadre, cadre_id, "干部不存在")
    if cadre.kind != OFFICIAL:
        raise NotFound("干部不存在")
    return cadre


def transfer_official(session: Session, cadre_id: int, unit_code: str, record: Recorder) -> str:
    """Move an official to another unit; audited; return the new unit's name."""
    cadre = cadre_row(session, cadre_id)
    unit = session.scalar(select(Unit).where(Unit.code == unit_code.strip()))
    if unit is None:
        raise InvalidInput("目标单位不存在", {"unit_code": f"单位不存在：{unit_code[:64]}"})
    if unit.id == cadre.unit_id:
        raise InvalidInput("该干部已在此单位", {"unit_code": "与当前单位相同"})
    before = cadre.unit.code
    cadre.unit = unit
    changed(session, record, "directory.cadre.transfer", f"cadre:{cadre.code}",
            {"from": before, "to": unit.code})
    return unit.name


def set_official_active(session: Session, cadre_id: int, active: bool, record: Recorder) -> bool:
    """Deactivate (离任) or reactivate an official; audited; False when nothing changed."""
    cadre = cadre_row(session, cadre_id)
    if cadre.active == active:
        return False
    cadre.active = active
    changed(session, record, "directory.cadre.activate" if active
            else "directory.cadre.deactivate", f"cadre:{cadre.code}", {})
    return True


def import_upload(session: Session, filename: str, data: bytes, mode: str,
                  vocabulary: Vocabulary, record: Recorder) -> ImportReport:
    """Preview ("preview"), import the valid rows ("valid") or all-or-nothing ("all")."""
    if mode not in ("preview", "valid", "all"):
        raise InvalidInput("未知的导入方式", {"mode": "可选：仅预览、只导入有效行、全部有效才导入"})

    def audited(report: ImportReport) -> None:
        record(session, "directory.import", f"file:{filename[:100]}",
               {"created": report.created, "updated": report.updated,
                "skipped": len({(e.sheet, e.row) for e in report.errors}), "mode": mode})

    return import_roster_data(session, filename, data, vocabulary, skip_invalid=mode == "valid",
                              dry_run=mode == "preview", before_commit=audited)
