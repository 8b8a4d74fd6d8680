"""Score officials (or a unit as a whole) live from the count tables, exactly as publication.

Publication writes snapshots for the assessment core; the console and the reports read the
same numbers computed on demand from the per-(official, month, group, score) counts, for any
period, peer set or roll-up, with the scoring package's functions: the same figures as a
publication of the same ratings.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.models import RatingCount, RatingTagCount
from backend.scoring import (
    Composite,
    GroupScore,
    Headline,
    Scheme,
    composite,
    headline,
    score_flags,
    score_pairs,
    sorted_counts,
)


@dataclass
class Counts:
    """Histograms and tag counts per rater group (of one official, or summed over several)."""

    histograms: dict[str, dict[int, int]] = field(default_factory=lambda: defaultdict(dict))
    tags: dict[str, dict[str, int]] = field(default_factory=lambda: defaultdict(dict))

    def add(self, other: Counts) -> None:
        """Add another set of counts to this one."""
        for group, hist in other.histograms.items():
            mine = self.histograms[group]
            for score, count in hist.items():
                mine[score] = mine.get(score, 0) + count
        for group, tags in other.tags.items():
            mine_tags = self.tags[group]
            for tag, count in tags.items():
                mine_tags[tag] = mine_tags.get(tag, 0) + count

    def total(self) -> int:
        """Return how many valid ratings the counts hold."""
        return sum(sum(hist.values()) for hist in self.histograms.values())


@dataclass(frozen=True)
class Figures:
    """Every scored number of one official (or roll-up) and period."""

    groups: dict[str, GroupScore]
    composite: Composite
    headline: Headline
    flags: list[str]
    histograms: dict[str, dict[int, int]]


def read_counts(session: Session, cadre_ids: Sequence[int], months: Iterable[str],
                with_tags: bool = True) -> dict[int, Counts]:
    """Return each official's valid-rating counts summed over the months."""
    months = list(months)
    found: dict[int, Counts] = defaultdict(Counts)
    if not cadre_ids or not months:
        return found
    rows = session.execute(
        select(RatingCount.cadre_id, RatingCount.rater_group, RatingCount.score,
               func.sum(RatingCount.count))
        .where(RatingCount.cadre_id.in_(list(cadre_ids)), RatingCount.month.in_(months))
        .group_by(RatingCount.cadre_id, RatingCount.rater_group, RatingCount.score))
    for cadre_id, group, score, count in rows:
        if count:
            found[cadre_id].histograms[group][int(score)] = int(count)
    if with_tags:
        tag_rows = session.execute(
            select(RatingTagCount.cadre_id, RatingTagCount.rater_group, RatingTagCount.tag,
                   func.sum(RatingTagCount.count))
            .where(RatingTagCount.cadre_id.in_(list(cadre_ids)),
                   RatingTagCount.month.in_(months))
            .group_by(RatingTagCount.cadre_id, RatingTagCount.rater_group, RatingTagCount.tag))
        for cadre_id, group, tag, count in tag_rows:
            if count:
                found[cadre_id].tags[group][tag] = int(count)
    return found


def month_group_totals(session: Session, cadre_ids: Sequence[int],
                       months: Iterable[str]) -> dict[tuple[int, str, str], int]:
    """Return the valid ratings per (official, month, group) over the months."""
    if not cadre_ids:
        return {}
    rows = session.execute(
        select(RatingCount.cadre_id, RatingCount.month, RatingCount.rater_group,
               func.sum(RatingCount.count))
        .where(RatingCount.cadre_id.in_(list(cadre_ids)), RatingCount.month.in_(list(months)))
        .group_by(RatingCount.cadre_id, RatingCount.month, RatingCount.rater_group))
    return {(c, m, g): int(n or 0) for c, m, g, n in rows}


def score_counts(counts: Counts, scheme: Scheme, window_n: int) -> Figures:
    """Score counts as publication does: groups, composite, headline and flags."""
    groups = {name: score_pairs(sorted_counts(counts.histograms.get(name, {})),
                                counts.tags.get(name, {}), rule, scheme)
              for name, rule in scheme.groups.items()}
    total = composite(groups, scheme)
    return Figures(groups, total, headline(groups, total), score_flags(groups, window_n, scheme),
                   {g: dict(h) for g, h in counts.histograms.items() if h})
