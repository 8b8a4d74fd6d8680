"""A closed campaign's results: per official and rater group, the scheme's numbers.

Ballots count in one month (lifecycle.ballot_month) under the campaign's template, so the
results are the valid ratings of that template and month for the campaign's officials and
groups. A group below its minimum sample (SCORING.md `min_n`) is shown as a count only:
nothing derived from so few scores, which could tell raters apart, leaves this function.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import tzinfo
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.errors import Conflict
from backend.models import BallotTarget, Cadre, Campaign, Invitation, Rating
from backend.models.campaigns import CLOSED
from backend.models.ratings import VALID
from backend.scoring import OK, GroupRule, Scheme, score_pairs
from backend.scoring.vocabulary import Vocabulary
from backend.services.campaigns.lifecycle import ballot_month

Key = tuple[int, str]  # (cadre id, rater group)


def campaign_targets(session: Session, campaign: Campaign) -> list[tuple[Cadre, str]]:
    """Return each (official, rater group) the campaign's ballots cover, by official code."""
    rows = session.execute(
        select(Cadre, BallotTarget.rater_group).distinct()
        .join(BallotTarget, BallotTarget.cadre_id == Cadre.id)
        .join(Invitation, Invitation.id == BallotTarget.invitation_id)
        .where(Invitation.campaign_id == campaign.id)).all()
    return sorted(((cadre, group) for cadre, group in rows), key=lambda r: (r[0].code, r[1]))


def tallies(session: Session, campaign: Campaign, month: str,
            cadre_ids: list[int]) -> tuple[dict[Key, Counter], dict[Key, Counter]]:
    """Count the valid ballot scores and tags per (official, group) of the campaign's month."""
    scores: dict[Key, Counter] = defaultdict(Counter)
    tags: dict[Key, Counter] = defaultdict(Counter)
    for start in range(0, len(cadre_ids), 500):
        for cadre_id, group, score, labels in session.execute(
                select(Rating.cadre_id, Rating.rater_group, Rating.score, Rating.tags)
                .where(Rating.template_id == campaign.template_id, Rating.month == month,
                       Rating.status == VALID,
                       Rating.cadre_id.in_(cadre_ids[start:start + 500]))):
            scores[(cadre_id, group)][score] += 1
            tags[(cadre_id, group)].update(labels or [])
    return scores, tags


def group_result(scores: Counter, tags: Counter, rule: GroupRule, scheme: Scheme) -> dict:
    """Score one group; below its minimum sample, the count only."""
    scored = score_pairs(sorted(scores.items()), tags, rule, scheme)
    if scored.status != OK:
        return {"status": "insufficient", "n": scored.n, "min_n": rule.min_n}
    return {"status": "ok", "n": scored.n, "trimmed_mean": float(scored.trimmed_mean),
            "satisfaction": float(scored.satisfaction),
            "top_tags": [t for t, _ in Counter(scored.tags or {}).most_common(3)]}


def campaign_results(session: Session, campaign: Campaign, scheme: Scheme, tz: tzinfo,
                     vocabulary: Vocabulary) -> list[dict]:
    """Return one row per official and group of a closed campaign (small groups as counts).

    A group the scheme does not weigh is shown with its configured minimum sample.
    """
    if campaign.status != CLOSED:
        raise Conflict("测评关闭后才能查看结果")
    targets = campaign_targets(session, campaign)
    scores, tags = tallies(session, campaign, ballot_month(campaign, tz),
                           sorted({cadre.id for cadre, _ in targets}))
    rows = []
    for cadre, group in targets:
        rule = scheme.groups.get(group) or GroupRule(
            vocabulary.groups[group].min_n if group in vocabulary.groups else 3, Decimal(0),
            scheme.groups["peer"].trim)
        key = (cadre.id, group)
        rows.append({"cadre_code": cadre.code, "cadre": cadre.name,
                     "unit": cadre.unit.name if cadre.unit else "", "group": group,
                     **group_result(scores.get(key, Counter()), tags.get(key, Counter()),
                                    rule, scheme)})
    return rows
