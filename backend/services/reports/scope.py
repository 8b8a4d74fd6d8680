"""Unit scope: the subtree of units a console user may see."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.models import ConsoleUser, Unit
from backend.services.reports.common import Scope

__all__ = ["SCOPED_ROLES", "Scope", "Unit", "find_unit", "narrowed", "subtree", "user_scope",
           "visible_units"]
SCOPED_ROLES = frozenset({"unit_admin", "viewer"})


def subtree(session: Session, roots: Iterable[int]) -> frozenset[int]:
    """Return the ids of the given units and of every unit below them."""
    roots = list(roots)
    if not roots:
        return frozenset()
    tree = select(Unit.id).where(Unit.id.in_(roots)).cte("tree", recursive=True)
    # UNION, not UNION ALL: a cycle in bad data ends instead of looping.
    tree = tree.union(select(Unit.id).join(tree, Unit.parent_id == tree.c.id))
    return frozenset(session.scalars(select(tree.c.id)))


def user_scope(session: Session, user: ConsoleUser) -> Scope:
    """Return what a user may see: unit admins (and unit-bound viewers) their subtree."""
    if user.role == "unit_admin" or (user.role in SCOPED_ROLES and user.unit_id):
        units = subtree(session, [user.unit_id] if user.unit_id else [])
        everything = session.scalar(select(func.count()).select_from(Unit))
        return Scope(None if units and len(units) == everything else units)
    return Scope(None)


def narrowed(session: Session, scope: Scope, unit_id: int) -> Scope | None:
    """Return the scope limited to one unit's subtree; None when that unit is not visible."""
    if not scope.allows(unit_id) or session.get(Unit, unit_id) is None:
        return None
    units = subtree(session, [unit_id])
    return Scope(units if scope.units is None else units & scope.units)


def find_unit(session: Session, unit_id: int) -> Unit | None:
    """Return a unit by id, or None."""
    return session.get(Unit, unit_id)


def visible_units(session: Session, scope: Scope) -> list[Unit]:
    """Return the units of the scope, ordered by code."""
    return list(session.scalars(select(Unit).where(scope.where(Unit.id)).order_by(Unit.code)))
