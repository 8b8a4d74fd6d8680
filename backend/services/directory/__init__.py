"""The directory of units and cadres: upserts and roster imports."""

from __future__ import annotations

from backend.scoring.vocabulary import POSITION_LEVELS
from backend.services.directory.roster_import import import_roster
from backend.services.directory.units import CadreInput, UnitInput, upsert_cadre, upsert_unit

__all__ = [
    "POSITION_LEVELS", "CadreInput", "UnitInput", "import_roster",
    "upsert_cadre", "upsert_unit",
]
