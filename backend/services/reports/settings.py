"""Build a report's settings from the catalogue: the schemes as registered, tag polarity."""

from __future__ import annotations

from datetime import datetime, tzinfo

from sqlalchemy.orm import Session

from backend.scoring.vocabulary import DEFAULT_SCHEME
from backend.services.reports.results import ReportSettings
from backend.services.scores.documents import scheme_of
from backend.services.scores.schemes import registered_schemes
from backend.services.templates.catalogue import Catalogue


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


def report_settings(session: Session, catalogue: Catalogue, tz: tzinfo,
                    now: datetime) -> ReportSettings:
    """Return the settings of reports: the registered current version of the default scheme
    and of every scheme the scheme rules name, the vocabulary and the tags' polarity."""
    schemes = {key: scheme_of(row) for key, row in registered_schemes(session, catalogue).items()}
    return ReportSettings(scheme=schemes[DEFAULT_SCHEME], polarity=tag_polarity(catalogue),
                          tz=tz, now=now, vocabulary=catalogue.vocabulary, schemes=schemes)
