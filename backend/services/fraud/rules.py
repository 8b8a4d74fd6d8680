"""The fraud detectors: each takes (session, now, tz, settings) and returns findings.

- burst: an official's ratings in one batch hour (ratings keep the hour of their release
  batch, not of their submission) against the median of that official's own active batch
  hours over the preceding baseline days (event ratings);
- address / openid: one keyed address or openid rating many events or officials in a day;
- fast: ratings submitted fewer seconds after the page's signed opening stamp than anyone
  needs to read it (a client's own clock is not read);
- campaign_run: long runs of consecutive identical top or bottom scores in a campaign, found
  by the release job in the order ballots were submitted (`batch_runs`), the one moment that
  order is known: stored ratings are shuffled within their batch;
Items name only the ratings that carry their signal (the address, the openid, the short
stay); a burst names its official and hour, since its hour holds honest ratings too. The
aggregate detectors (aggregates.py) and the clusters (clusters.py) are listed in detection.py.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta, tzinfo
from statistics import median

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.models import (
    AbuseSignal,
    Rating,
)
from backend.models.ratings import VALID
from backend.services.fraud.findings import Finding, FraudSettings, id_floor, short


def bursts(session: Session, now: datetime, tz: tzinfo, s: FraudSettings) -> list[Finding]:
    """Flag hours in which an official got far more ratings than their own baseline."""
    since = now - timedelta(days=s.lookback_days)
    start = since - timedelta(days=s.baseline_days)
    floor = id_floor(session, start.astimezone(tz).date())
    event = (Rating.id > floor, Rating.status == VALID, Rating.event_type.is_not(None))
    busy = session.execute(  # only officials with a busy hour need their baseline
        select(Rating.cadre_id, Rating.batch_at, func.count())
        .where(*event, Rating.batch_at >= since)
        .group_by(Rating.cadre_id, Rating.batch_at)
        .having(func.count() >= s.burst_min)).all()
    findings, baselines = [], {}
    for cadre_id, hour, count in sorted(busy):
        if cadre_id not in baselines:
            baselines[cadre_id] = session.scalars(
                select(func.count()).where(*event, Rating.cadre_id == cadre_id,
                                           Rating.batch_at >= start,
                                           Rating.batch_at < since)
                .group_by(Rating.batch_at)).all()
        active = baselines[cadre_id]
        base = median(active) if active else 0
        if count >= s.burst_factor * max(base, 1):
            findings.append(burst(cadre_id, hour, count, base, len(active), tz))
    return findings


def burst(cadre_id: int, hour: datetime, count: int, base: float, active: int,
          tz: tzinfo) -> Finding:
    """Build the finding of one burst hour: it names the official and the hour only.

    A batch hour holds every rating released in it, the honest ones too: naming them would
    have an exclusion discard bystanders.
    """
    local = hour.astimezone(tz).isoformat(timespec="minutes")
    return Finding("burst", f"cadre:{cadre_id}", local,
                   {"hour": local, "ratings": count, "baseline_median": base,
                    "baseline_active_hours": active}, cadre_id=cadre_id)


def shared_sources(session: Session, now: datetime, tz: tzinfo,
                   s: FraudSettings) -> list[Finding]:
    """Flag one address or openid rating many events or officials in a day."""
    return [*shared_source(session, now, tz, s, "address", AbuseSignal.ip_hash),
            *shared_source(session, now, tz, s, "openid", AbuseSignal.openid_hash)]


def shared_source(session: Session, now: datetime, tz: tzinfo, s: FraudSettings, kind: str,
                  column) -> list[Finding]:
    """Flag, per local day, one keyed value behind many event ratings or officials."""
    since = now - timedelta(days=s.lookback_days)
    busy = (select(column).where(AbuseSignal.created_at >= since, column.is_not(None))
            .group_by(column)
            .having(func.count() >= min(s.source_max_ratings, s.source_max_officials)))
    rows = session.execute(
        select(column, AbuseSignal.agent_hash, AbuseSignal.created_at, Rating.id,
               Rating.cadre_id)
        .join(Rating, Rating.id == AbuseSignal.rating_id)
        .where(AbuseSignal.created_at >= since, column.in_(busy), Rating.status == VALID,
               Rating.event_type.is_not(None)))
    days: dict[tuple[str, str], list[tuple[str | None, int, int]]] = defaultdict(list)
    for value, agent, created_at, rating_id, cadre_id in rows:
        days[(value, created_at.astimezone(tz).date().isoformat())].append(
            (agent, rating_id, cadre_id))
    findings = []
    for (value, day), seen in days.items():
        officials = {cadre for _, _, cadre in seen}
        if len(seen) >= s.source_max_ratings or len(officials) >= s.source_max_officials:
            evidence = {"hash": short(value), "day": day, "ratings": len(seen),
                        "officials": len(officials), "devices": len({a for a, _, _ in seen})}
            findings.append(Finding(kind, f"{kind}:{short(value)}", day, evidence,
                                    [r for _, r, _ in seen],
                                    cadre_id=next(iter(officials)) if len(officials) == 1
                                    else None))
    return findings


def fast(session: Session, now: datetime, tz: tzinfo, s: FraudSettings) -> list[Finding]:
    """Flag officials with several ratings a day sent faster than the page can be read."""
    rows = session.execute(
        select(Rating.id, Rating.cadre_id, AbuseSignal.created_at, AbuseSignal.seconds_on_page)
        .join(Rating, Rating.id == AbuseSignal.rating_id)
        .where(AbuseSignal.created_at >= now - timedelta(days=s.lookback_days),
               AbuseSignal.seconds_on_page < s.fast_seconds, Rating.status == VALID))
    days: dict[tuple[int, str], list[tuple[int, int]]] = defaultdict(list)
    for rating_id, cadre_id, created_at, seconds in rows:
        days[(cadre_id, created_at.astimezone(tz).date().isoformat())].append(
            (rating_id, seconds))
    return [Finding("fast", f"cadre:{cadre_id}", day,
                    {"day": day, "ratings": len(seen), "below_seconds": s.fast_seconds,
                     "fastest_seconds": min(sec for _, sec in seen)},
                    [r for r, _ in seen], cadre_id=cadre_id)
            for (cadre_id, day), seen in days.items() if len(seen) >= s.fast_min]


def batch_runs(submissions: Sequence[dict], rating_ids: Sequence[list[int]],
               run_min: int) -> list[Finding]:
    """Find, per campaign, runs of identical top or bottom scores in submission order.

    `submissions` are a release batch's opened items in the order they were submitted, and
    `rating_ids[n]` the ids their rated targets were stored under, in the same order.
    """
    scores: dict[int, list[tuple[int, int]]] = defaultdict(list)
    extremes: dict[int, set[int]] = {}
    for sub, ids in zip(submissions, rating_ids, strict=True):
        if sub.get("kind") == "ballot" and sub.get("campaign_id") is not None:
            extremes[sub["campaign_id"]] = set(sub.get("extremes") or ())
            scores[sub["campaign_id"]].extend(
                (row["score"], rating_id) for row, rating_id in zip(sub["rows"], ids,
                                                                    strict=True))
    findings = []
    for campaign_id, seen in scores.items():
        runs = extreme_runs(seen, extremes[campaign_id], run_min)
        if runs:
            ids = [i for _, run in runs for i in run]
            evidence = {"ratings_in_runs": len(ids),
                        "runs": [{"score": score, "length": len(run)} for score, run in runs]}
            findings.append(Finding("campaign_run", f"campaign:{campaign_id}",
                                    f"batch:{min(ids)}", evidence, ids,
                                    campaign_id=campaign_id))
    return findings


def extreme_runs(seen: Sequence[tuple[int, int]], extremes: set[int],
                 run_min: int) -> list[tuple[int, list[int]]]:
    """Return (score, rating ids) of each run of at least run_min top or bottom scores."""
    runs, current, score = [], [], None
    for value, rating_id in [*seen, (None, None)]:
        if value == score and value in extremes:
            current.append(rating_id)
            continue
        if score in extremes and len(current) >= run_min:
            runs.append((score, current))
        current, score = [rating_id], value
    return runs


RATING_DETECTORS = (bursts, shared_sources, fast)
