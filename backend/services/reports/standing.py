"""Standing among peers: the officials of the same unit category and position level.

Only a percentile is given (the share of peers whose headline of the same kind is lower, ties
counting half), never who they are or their order; fewer than `min_peers` comparable peers
give no standing at all. Scoring every peer costs a read of their counts (thousands of
officials may share a category and level), so the peers' headlines are kept for a few minutes.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.models import Cadre, Rating, Unit
from backend.models.directory import OFFICIAL, TEAM
from backend.scoring import Headline, Period, composite, headline, score_pairs, sorted_counts
from backend.scoring import standing as standing_of
from backend.services.reports.figures import read_counts
from backend.services.reports.wording import official_level

if TYPE_CHECKING:  # only the settings' type: results imports this module
    from backend.services.reports.results import ReportSettings

# Peers' headlines per (category, level, period, scheme, newest rating id): a released batch
# changes the newest id and so the key; an exclusion (which changes no id) shows within
# CACHE_SECONDS. Per process; a percentile a few minutes old after an exclusion is harmless.
CACHE_SECONDS = 300
CACHE_ENTRIES = 64
_CACHE: dict[tuple, tuple[float, dict[int, Headline]]] = {}


def forget_peers() -> None:
    """Drop every cached set of peer headlines (tests, after emptying the tables)."""
    _CACHE.clear()


def comparable_ids(session: Session, category: str, level: str) -> list[int]:
    """Return the active officials of a unit category and position level."""
    rows = session.execute(
        select(Cadre.id, Cadre.level, Cadre.position).join(Unit, Unit.id == Cadre.unit_id)
        .where(Unit.category == category, Cadre.active.is_(True), Cadre.kind == OFFICIAL)
        .order_by(Cadre.id))
    return [cadre_id for cadre_id, recorded, position in rows
            if official_level(recorded, position) == level]


def comparable_headlines(session: Session, category: str, level: str, period: Period,
                         settings: ReportSettings) -> dict[int, Headline]:
    """Return the headline of every official of a category and level, once per settings,
    and across requests while no rating was released and at most CACHE_SECONDS."""
    key = ("peers", category, level, period.label, settings.scheme.id, settings.scheme.version,
           session.scalar(select(func.max(Rating.id))))
    if key in settings.memo:
        return settings.memo[key]
    cached = _CACHE.get(key)
    if cached is None or cached[0] < time.monotonic():
        ids = comparable_ids(session, category, level)
        headlines = dict(zip(ids, peer_headlines(session, ids, period, settings), strict=True))
        if len(_CACHE) >= CACHE_ENTRIES:
            _CACHE.clear()
        cached = _CACHE[key] = (time.monotonic() + CACHE_SECONDS, headlines)
    settings.memo[key] = cached[1]
    return cached[1]


def peer_headlines(session: Session, ids: list[int], period: Period,
                   settings: ReportSettings) -> list[Headline]:
    """Return the headline of each peer for the period, computed as publication does."""
    scheme = settings.scheme
    found = read_counts(session, ids, period.months, with_tags=False)
    values = []
    for cadre_id in ids:
        counts = found.get(cadre_id)
        hists = counts.histograms if counts else {}
        groups = {name: score_pairs(sorted_counts(hists.get(name, {})), {}, rule, scheme)
                  for name, rule in scheme.groups.items()}
        values.append(headline(groups, composite(groups, scheme)))
    return values


def peer_standing(session: Session, cadre: Cadre, level: str, period: Period, mine: Headline,
                  settings: ReportSettings) -> dict[str, Any]:
    """Return where an official's headline stands among peers of the same kind of headline."""
    out: dict[str, Any] = {"category": cadre.unit.category,
                           "category_name": settings.vocabulary.category_name(
                               cadre.unit.category),
                           "level": level, "peers": 0, "percentile": None}
    if cadre.kind == TEAM:
        out["note"] = "领导班子整体评价，不与干部作同类比较"
        return out
    if mine.score_100 is None:
        out["note"] = "本期无得分，不参与同类比较"
        return out
    everyone = comparable_headlines(session, cadre.unit.category, level, period, settings)
    others = [h.score_100 for cadre_id, h in everyone.items()
              if cadre_id != cadre.id and h.kind == mine.kind and h.score_100 is not None]
    result = standing_of(mine.score_100, others, settings.min_peers)
    out["peers"] = result.peers
    if result.percentile is None:
        out["note"] = f"同类可比干部不足 {settings.min_peers} 人，不作比较"
    else:
        out["percentile"] = round(float(result.percentile) * 100, 1)
    return out
