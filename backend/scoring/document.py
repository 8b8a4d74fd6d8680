"""Render scores as the JSON "Score" object of CONTRACT.md."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from fractions import Fraction
from typing import Any

from .compute import OK, Composite, GroupScore
from .headline import headline, headline_document
from .scheme import Scheme


def score_document(
    cadre_code: str,
    period: str,
    scheme: Scheme,
    groups: Mapping[str, GroupScore],
    composite: Composite,
    flags: Sequence[str],
    digest: str,
    ledger_checkpoint: str | None,
    computed_at_iso: str,
) -> dict[str, Any]:
    """Build the Score object published over the API and the webhook."""
    return {
        "cadre_code": cadre_code,
        "period": period,
        "scheme": {"id": scheme.id, "version": scheme.version},
        "groups": {name: group_document(group) for name, group in groups.items()},
        "composite": composite_document(composite),
        "headline": headline_document(headline(groups, composite)),
        "flags": list(flags),
        "digest": digest,
        "ledger_checkpoint": ledger_checkpoint,
        "computed_at": computed_at_iso,
    }


def group_document(group: GroupScore) -> dict[str, Any]:
    """Render one group; an insufficient group shows its status and n only."""
    if group.status != OK:
        return {"status": group.status, "n": group.n}
    return {
        "status": group.status,
        "n": group.n,
        "k": group.k,
        "trimmed_mean": _float(group.trimmed_mean),
        "ci95": list(group.ci95) if group.ci95 is not None else None,
        "satisfaction": _float(group.satisfaction),
        "dissatisfaction": _float(group.dissatisfaction),
        "tags": dict(group.tags or {}),
    }


def composite_document(composite: Composite) -> dict[str, Any]:
    """Render the composite; score_100 is omitted when it is insufficient."""
    document: dict[str, Any] = {
        "status": composite.status,
        "weights": {name: _float(weight) for name, weight in composite.weights.items()},
    }
    if composite.status == OK and composite.score_100 is not None:
        document["score_100"] = float(composite.score_100)
    return document


def _float(value: Fraction | None) -> float | None:
    # int / int is correctly rounded (as float(Fraction) is), so the published float is the
    # nearest one.
    return None if value is None else value.numerator / value.denominator
