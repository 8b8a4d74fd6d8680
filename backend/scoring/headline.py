"""The headline of a score (SCORING.md "Headline") and an official's standing among peers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Any

from .compute import OK, Composite, GroupScore, round_half_up

COMPOSITE = "composite"
RECIPIENT_INDEX = "recipient_index"
INSUFFICIENT_KIND = "insufficient"
INDEX_GROUP = "recipient"


@dataclass(frozen=True)
class Headline:
    """The number people look at first, and which kind of number it is."""

    kind: str
    score_100: Decimal | None = None


def headline(groups: Mapping[str, GroupScore], total: Composite) -> Headline:
    """Return the composite if ok, else the 随时评指数 if recipients are ok, else insufficient."""
    if total.status == OK and total.score_100 is not None:
        return Headline(COMPOSITE, total.score_100)
    recipient = groups.get(INDEX_GROUP)
    if recipient is not None and recipient.status == OK and recipient.trimmed_mean is not None:
        return Headline(RECIPIENT_INDEX, round_half_up(10 * recipient.trimmed_mean, 2))
    return Headline(INSUFFICIENT_KIND)


def headline_document(value: Headline) -> dict[str, Any]:
    """Render a headline as the Score's `headline` object."""
    if value.score_100 is None:
        return {"kind": value.kind}
    return {"kind": value.kind, "score_100": float(value.score_100)}


@dataclass(frozen=True)
class Standing:
    """Where one value stands among its peers' values of the same kind."""

    peers: int  # others compared with
    below: int  # others with a strictly lower value
    ties: int  # others with the same value
    percentile: Fraction | None  # share of others below, ties counting half; None if too few


def standing(value: Decimal | float, others: Sequence[Decimal | float],
             min_peers: int = 5) -> Standing:
    """Return the share of peers below a value (ties half); None below `min_peers` peers."""
    mine = Fraction(value)
    below = ties = 0
    for other in others:
        exact_other = Fraction(other)
        if exact_other < mine:
            below += 1
        elif exact_other == mine:
            ties += 1
    peers = len(others)
    share = Fraction(2 * below + ties, 2 * peers) if peers >= min_peers else None
    return Standing(peers, below, ties, share)


def document_headline(document: Mapping[str, Any]) -> dict[str, Any]:
    """Return a Score document's headline; derive it for documents published before it existed.

    Older documents carry the recipient group's mean as the nearest float only, so a derived
    index may differ from a recomputation by a cent at an exact half; a new publication
    writes the exact one.
    """
    if "headline" in document:
        return dict(document["headline"])
    total = document.get("composite") or {}
    if total.get("status") == OK and total.get("score_100") is not None:
        return {"kind": COMPOSITE, "score_100": total["score_100"]}
    recipient = (document.get("groups") or {}).get(INDEX_GROUP) or {}
    if recipient.get("status") == OK and recipient.get("trimmed_mean") is not None:
        value = round_half_up(10 * Fraction(recipient["trimmed_mean"]), 2)
        return {"kind": RECIPIENT_INDEX, "score_100": float(value)}
    return {"kind": INSUFFICIENT_KIND}
