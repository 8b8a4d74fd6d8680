"""Plan the demo's multi-rater campaign (民主测评): its roster and the half that has answered.

Pure and deterministic, like backend/services/demo/plan.py. The campaign opened some days
ago in the current quarter and closes weeks from now, so its unanswered ballots are live.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta, tzinfo

from backend.scoring.periods import current_period, parse_period
from backend.services.demo.plan import Official, Roles, Tags, phone_number, pick_tags, rng_for

TEMPLATE = "democratic_appraisal"
OPENED_DAYS_AGO = 9
OPEN_DAYS = 30
SUPERIORS = ("周振华", "郑国庆")
STAFF = ("沈佳怡", "韩立新", "冯晓燕", "曹文涛", "彭丽华", "蒋志鹏", "蔡雪梅", "丁浩然")
REPRESENTATIVES = ("邓淑芬（县人大代表）", "许卫东（县人大代表）", "谢春燕（县政协委员）",
                   "宋建军（县政协委员）", "唐秀兰（县人大代表）", "袁志刚（县政协委员）")
# Ballot scores 1..10 by how the official is seen by those who work with them.
BALLOT_SCORES = {"good": (0.5, 0.5, 0.5, 1, 2, 5, 14, 32, 28, 16.5),
                 "weak": (2, 3, 6, 9, 14, 18, 20, 15, 8, 5),
                 "poor": (6, 8, 12, 15, 16, 15, 12, 8, 5, 3)}
ABSTAIN = {"representative": 0.25, "subordinate": 0.05}
# The campaign also rates 城关镇's leadership team as a whole (created when first named).
TEAM = "T-XZ100"


@dataclass(frozen=True)
class PlannedBallot:
    """One rater's ballot and, for those who have answered, when and what."""

    code: str
    name: str
    group: str
    phone: str
    targets: tuple[str, ...]
    answer_after: timedelta | None = None
    answers: tuple[tuple[str, int | None, tuple[str, ...]], ...] = ()


@dataclass(frozen=True)
class PlannedCampaign:
    code: str
    name: str
    period: str
    created_at: datetime
    closes_at: datetime
    ballots: tuple[PlannedBallot, ...]


def opening(now: datetime, tz: tzinfo) -> datetime:
    """Return when the campaign opened: days ago, but inside the current quarter."""
    local = now.astimezone(tz)
    first = parse_period(current_period("quarter", local, tz)).months[0]
    quarter_start = datetime.combine(datetime.strptime(first, "%Y-%m").date(), time(0), tz)
    opened = max(datetime.combine(local.date() - timedelta(days=OPENED_DAYS_AGO), time(10), tz),
                 quarter_start + timedelta(minutes=1))
    return min(opened, now - timedelta(minutes=10))


def roster(officials: Sequence[Official], roles: Roles,
           rng: random.Random) -> list[tuple[str, str, str, tuple[str, ...]]]:
    """Return (code, name, group, targets) per rater: superiors, peers, staff, representatives.

    Every rater also rates the leadership team (TEAM) as a whole.
    """
    targets = (*roles.campaign, TEAM)
    names = {o.code: o.name for o in officials}
    raters = [(f"SJ{n + 1:02d}", name, "superior", targets) for n, name in enumerate(SUPERIORS)]
    raters += [(code, names[code], "peer", tuple(t for t in targets if t != code))
               for code in roles.campaign]
    raters += [(f"XJ{n + 1:02d}", name, "subordinate", targets) for n, name in enumerate(STAFF)]
    raters += [(f"DB{n + 1:02d}", name, "representative", targets)
               for n, name in enumerate(REPRESENTATIVES)]
    rng.shuffle(raters)  # who answers is drawn below; the order only varies the draw
    return raters


def answers(rng: random.Random, group: str, targets: Sequence[str], roles: Roles,
            tags: Tags) -> tuple[tuple[str, int | None, tuple[str, ...]], ...]:
    """Return a rater's score and tags per target (None: 无法评价)."""
    given = []
    for code in targets:
        if rng.random() < ABSTAIN.get(group, 0.0):
            given.append((code, None, ()))
            continue
        profile = roles.profile(code)
        weights = BALLOT_SCORES.get(profile, BALLOT_SCORES["good"])
        score = rng.choices(range(1, 11), weights)[0]
        given.append((code, score, pick_tags(rng, score, tags)))
    return tuple(given)


def plan_campaign(officials: Sequence[Official], roles: Roles, now: datetime, tz: tzinfo,
                  tags: Tags) -> PlannedCampaign:
    """Plan the campaign: opened days ago, half of its raters have answered since."""
    rng = rng_for("campaign")
    created = opening(now, tz)
    period = current_period("quarter", created, tz)
    closes = datetime.combine((created + timedelta(days=OPEN_DAYS)).date(), time(18), tz)
    raters = roster(officials, roles, rng)
    answering = set(rng.sample(range(len(raters)), len(raters) // 2))
    ballots = []
    for n, (code, name, group, targets) in enumerate(raters):
        phone = phone_number(rng)
        if n not in answering:
            ballots.append(PlannedBallot(code, name, group, phone, targets))
            continue
        after = (now - created) * rng.uniform(0.05, 0.95)
        ballots.append(PlannedBallot(code, name, group, phone, targets, after,
                                     answers(rng, group, targets, roles, tags)))
    year, quarter = period.split("-Q")
    return PlannedCampaign(f"{period}-MZCP", f"{year}年第{quarter}季度县管干部民主测评", period,
                           created, closes, tuple(ballots))
