"""Which scheme scores which official (一岗一表, 分类分层): the scheme book of one publication.

The scheme rules (settings/scheme_rules.yaml) are read in order and the first that matches an
official's unit category and position level applies; `default` applies to everyone else. All
schemes share the default's scale and low-sample rule (the catalogue checks it), so one pass
over the count table serves them all.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.models import Cadre, SurveyTemplate, Unit
from backend.scoring import Scheme
from backend.scoring.vocabulary import DEFAULT_SCHEME
from backend.services.scores.documents import scheme_of
from backend.services.templates.catalogue import Catalogue, register


@dataclass(frozen=True)
class SchemeBook:
    """The registered schemes of a publication and the officials not on the default."""

    rows: Mapping[str, SurveyTemplate]  # scheme key -> registered current version
    schemes: Mapping[str, Scheme]
    assigned: Mapping[int, str]  # cadre id -> scheme key, for officials a rule moves

    @property
    def default(self) -> Scheme:
        """Return the default scheme (its scale and low-sample rule are everyone's)."""
        return self.schemes[DEFAULT_SCHEME]

    def key_for(self, cadre_id: int) -> str:
        """Return the key of the scheme that scores an official."""
        return self.assigned.get(cadre_id, DEFAULT_SCHEME)

    def scheme_for(self, cadre_id: int) -> Scheme:
        """Return the scheme that scores an official."""
        return self.schemes[self.key_for(cadre_id)]

    def row_for(self, cadre_id: int) -> SurveyTemplate:
        """Return the registered version of the scheme that scores an official."""
        return self.rows[self.key_for(cadre_id)]

    def label(self) -> str:
        """Return the schemes as "default@1、one_plus_five_n@2" for reports."""
        return "、".join(f"{row.key}@{row.version}" for _key, row in sorted(self.rows.items()))


def registered_schemes(session: Session, catalogue: Catalogue) -> dict[str, SurveyTemplate]:
    """Register the default scheme and every scheme a rule names; return them by key."""
    keys = {rule.scheme for rule in catalogue.vocabulary.rules} | {DEFAULT_SCHEME}
    return {key: register(session, catalogue.schemes[key]) for key in sorted(keys)}


def scheme_book(session: Session, catalogue: Catalogue) -> SchemeBook:
    """Register the schemes in use (registered_schemes); assign officials to them."""
    vocabulary = catalogue.vocabulary
    rows = registered_schemes(session, catalogue)
    assigned: dict[int, str] = {}
    if vocabulary.rules:
        rows_of_directory = session.execute(
            select(Cadre.id, Unit.category, Cadre.level).join(Unit, Unit.id == Cadre.unit_id)
            .execution_options(yield_per=5000))
        for cadre_id, category, level in rows_of_directory:
            key = vocabulary.scheme_for(category, level)
            if key != DEFAULT_SCHEME:
                assigned[cadre_id] = key
    return SchemeBook(rows, {key: scheme_of(row) for key, row in rows.items()}, assigned)
