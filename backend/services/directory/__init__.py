"""The directory of units and cadres: upserts and roster imports."""

from __future__ import annotations

from backend.models.directory import POSITION_LEVELS, UNIT_CATEGORIES
from backend.services.directory.roster_import import import_roster
from backend.services.directory.units import CadreInput, UnitInput, upsert_cadre, upsert_unit

__all__ = [
    "POSITION_LEVELS", "UNIT_CATEGORIES", "CadreInput", "UnitInput", "import_roster",
    "upsert_cadre", "upsert_unit",
]
