"""Survey templates and scoring schemes: loaded, validated, registered by content."""

from __future__ import annotations

from backend.services.templates.catalogue import (
    Catalogue,
    current_template,
    load_catalogue,
    register_all,
)

__all__ = [
    "Catalogue", "current_template", "load_catalogue", "register_all",
]
