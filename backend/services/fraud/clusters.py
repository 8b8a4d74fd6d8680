"""Clusters that survive address rotation: one network range or device behind an official's
ratings far more often than chance, over a week.

Each submission's abuse signals carry keyed hashes of its /24 (IPv4) or /48 (IPv6) network
and of its agent (the device as the server sees it). Per official and ISO week, a value seen
k times among the official's n submissions is compared with what its share elsewhere
(every other official's submissions that week) would give: P(X >= k) for a Poisson of mean
n times that share. A carrier-grade NAT range or a popular phone is common everywhere and is
not a cluster; an office range or a desktop browser behind one official is. An item names
only the ratings carrying that range or device: excluding it discards no one else's.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime, tzinfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.models import AbuseSignal, Rating
from backend.models.ratings import VALID
from backend.services.fraud import stats
from backend.services.fraud.aggregates import Week, judged_weeks
from backend.services.fraud.findings import Finding, FraudSettings, short

KINDS = {"network": AbuseSignal.net_hash, "device": AbuseSignal.agent_hash}


def clusters(session: Session, now: datetime, tz: tzinfo, s: FraudSettings) -> list[Finding]:
    """Flag, per week, ranges and devices concentrated on one official."""
    findings = []
    for week in judged_weeks(now, tz):
        for kind, column in KINDS.items():
            findings += week_clusters(session, week, kind, column, s)
    return findings


def week_clusters(session: Session, week: Week, kind: str, column,
                  s: FraudSettings) -> list[Finding]:
    """Return one kind's clusters in one week."""
    rows = session.execute(
        select(column, Rating.cadre_id, Rating.id)
        .join(Rating, Rating.id == AbuseSignal.rating_id)
        .where(AbuseSignal.created_at >= week.start, AbuseSignal.created_at < week.end,
               Rating.status == VALID, Rating.event_type.is_not(None))).all()
    per_official: Counter = Counter()
    per_value: Counter = Counter()
    carriers: dict[tuple[int, str], list[int]] = defaultdict(list)
    for value, cadre_id, rating_id in rows:
        per_official[cadre_id] += 1
        if value is not None:
            per_value[value] += 1
            carriers[(cadre_id, value)].append(rating_id)
    total = sum(per_official.values())
    findings = []
    for (cadre_id, value), ids in carriers.items():
        k, n = len(ids), per_official[cadre_id]
        if k < s.cluster_min:
            continue
        elsewhere = (per_value[value] - k + 1) / max(total - n + 1, 1)  # never zero
        p = stats.poisson_tail(k, n * elsewhere)
        if p < s.cluster_p:
            findings.append(Finding(
                kind, f"cadre:{cadre_id}:{short(value)}", week.label,
                {"week": week.label, "hash": short(value), "ratings": k, "of_official": n,
                 "share_elsewhere": round(elsewhere, 4), "p": float(f"{p:.2g}")},
                sorted(ids), cadre_id=cadre_id))
    return findings
