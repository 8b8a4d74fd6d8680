"""Build a report's settings from the catalogue: the default scheme as registered, tag polarity."""

from __future__ import annotations

from datetime import datetime, tzinfo

from sqlalchemy.orm import Session

from backend.scoring import scheme_from_dict
from backend.services.reports.results import ReportSettings
from backend.services.templates.catalogue import Catalogue, register


def tag_polarity(catalogue: Catalogue) -> dict[str, str]:
    """Return every template tag's polarity (a tag negative anywhere counts as negative)."""
    polarity: dict[str, str] = {}
    for loaded in catalogue.templates.values():
        tags = loaded.definition.get("tags") or {}
        for tag in tags.get("positive", []):
            polarity.setdefault(tag, "positive")
        for tag in tags.get("negative", []):
            polarity[tag] = "negative"
    return polarity


def report_settings(session: Session, catalogue: Catalogue, tz: tzinfo, now: datetime,
                    scheme_key: str = "default") -> ReportSettings:
    """Return the settings of reports under a scheme's registered current version."""
    row = register(session, catalogue.schemes[scheme_key])
    scheme = scheme_from_dict({**row.definition, "version": row.version}, f"schemes/{row.key}")
    return ReportSettings(scheme=scheme, polarity=tag_polarity(catalogue), tz=tz, now=now)
