"""The demo county's cast and vocabulary: who plays which part, what raters say and do.

Pure and deterministic: every draw comes from a random generator seeded per official (an
official's history does not depend on how many others there are) and nothing here touches
the database. backend/services/demo/events.py plans the events with these pieces and
backend/services/demo/history.py carries the plan out through the services.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo

SEED = "suishiping-demo"
HISTORY_DAYS = 183
MIN_OFFICIALS = 12
LATE_REPORT_DAYS_AGO = 40
REPORT_TIMES = (time(12, 30), time(18, 30))  # business systems report events twice a day
# One business system reports every event: per-type systems would make officials who mostly do
# one kind of work look like the fraud detector's "one source far more than usual".
SOURCE = "gov-service-platform"
PREFIXES = {"approval": "SP", "village_visit": "XC", "enterprise_reception": "QY"}
MIX = {"township": {"village_visit": 5, "approval": 3, "enterprise_reception": 2},
       "village": {"village_visit": 7, "approval": 3},
       "department": {"approval": 6, "enterprise_reception": 3, "village_visit": 1},
       "institution": {"approval": 8, "enterprise_reception": 2}}
CHANNELS = {"sms": 40, "qr": 45, "wechat": 15}
ANSWER_RATE = {"sms": 0.7, "qr": 0.88, "wechat": 0.78}
OPEN_ONLY_RATE = 0.35  # of those who do not answer, how many open the page all the same
# Weights of the scores 1..10 by how an official serves people.
SCORES = {
    "good": (1, 0.5, 0.5, 1, 2, 4, 10, 22, 28, 31),
    "steady": (1, 0.5, 1, 1.5, 3, 6, 16, 30, 24, 17),
    "excellent": (0.5, 0.5, 0.5, 0.5, 1, 2, 6, 15, 30, 44),
    "weak": (5, 5, 9, 11, 10, 9, 13, 15, 12, 11),
    "poor": (16, 14, 17, 15, 8, 7, 8, 6, 5, 4),
}
PRAISE = ("办事效率高，一次就办好了", "工作人员很耐心，解释得很清楚", "主动上门服务，给他们点赞",
          "材料不全也耐心指导，省了不少事", "态度很好，谢谢！", "现场就帮我们把问题解决了")
MIXED = ("总体还行，就是排队时间太长", "流程还是有点复杂，希望再简化", "人挺好，就是回复慢了点")
COMPLAINTS = ("材料交了三次还说不全，来回跑了好几趟", "窗口人员态度生硬，问什么都说不知道",
              "约好的时间没人来，电话也不接", "说是承诺时限办结，结果拖了两个多星期",
              "互相踢皮球，让我去找别的部门", "反映的问题到现在也没有人回复",
              "办个事还要托关系，很失望")
PHONE_PREFIXES = ("135", "138", "139", "150", "151", "158", "186", "187", "189")
MOBILE_NETS = ("117.136", "223.104", "112.97", "39.144", "120.229")
AGENTS = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 Mobile",
          "Mozilla/5.0 (Linux; Android 14; V2307A) AppleWebKit/537.36 Chrome/120 Mobile Safari",
          "Mozilla/5.0 (Linux; Android 13; PGT-AN10) AppleWebKit/537.36 Chrome/118 Mobile",
          "Mozilla/5.0 (Linux; Android 12; M2012K11AC) AppleWebKit/537.36 Chrome/116 Mobile")
WECHAT_AGENT = "Mozilla/5.0 (iPhone) AppleWebKit/605.1.15 MicroMessenger/8.0.50 miniProgram"


@dataclass(frozen=True)
class Official:
    """A rostered official as the plan sees them."""

    code: str
    name: str
    category: str  # the unit's category


@dataclass(frozen=True)
class Roles:
    """Which officials play which part in the story (codes)."""

    poor: str  # rated badly throughout: reassignment review
    weak: str  # rated badly often: warning talk
    slipping: str  # good at first, worse in the last two months
    sparse: str  # hardly ever serves anyone: too few ratings (low sample)
    late: str  # whose events a business system once reported two days late
    burst: str  # target of a burst of forged top scores
    campaign: tuple[str, ...]  # the officials the campaign rates
    live: tuple[str, ...]  # the officials of the printed rating links

    @classmethod
    def of(cls, codes: Sequence[str]) -> Roles:
        """Assign the parts over a roster of at least ten officials."""
        if len(codes) < MIN_OFFICIALS:
            raise ValueError(f"演示县至少需要 {MIN_OFFICIALS} 名干部")
        return cls(poor=codes[2], weak=codes[5], slipping=codes[8], sparse=codes[-1],
                   late=codes[9], burst=codes[6], campaign=tuple(codes[:6]),
                   live=(codes[0], codes[1], codes[3]))

    def profile(self, code: str) -> str:
        """Return the official's kind: poor, weak, slipping, sparse or good."""
        for kind in ("poor", "weak", "slipping", "sparse"):
            if getattr(self, kind) == code:
                return kind
        return "good"


@dataclass(frozen=True)
class Signals:
    """What the rater's phone tells the platform (abuse signals)."""

    ip: str
    agent: str
    seconds_on_page: int


@dataclass(frozen=True)
class PlannedRating:
    """A rating someone will give, some time after the invitation exists."""

    delay: timedelta
    score: int | None
    tags: tuple[str, ...] = ()
    comment: str | None = None
    followup_phone: str | None = None
    signals: Signals | None = None


@dataclass(frozen=True)
class PlannedEvent:
    """A service event as a business system reports it, and what its recipient does."""

    source: str
    external_id: str
    cadre_code: str
    event_type: str
    occurred_at: datetime
    channels: tuple[str, ...]
    phone: str | None = None
    openid: str | None = None
    rating: PlannedRating | None = None
    opened_after: timedelta | None = None  # opened the page without rating
    delayed: timedelta = timedelta(0)  # reported this much later than usual


@dataclass(frozen=True)
class Tags:
    """A template's positive and negative tags."""

    positive: tuple[str, ...]
    negative: tuple[str, ...]


def rng_for(*parts: object) -> random.Random:
    """Return a generator seeded by the demo seed and the given parts."""
    return random.Random(":".join([SEED, *map(str, parts)]))


def poisson(rng: random.Random, mean: float) -> int:
    """Draw from a Poisson distribution (Knuth; the means here are small)."""
    limit, k, product = math.exp(-mean), 0, rng.random()
    while product > limit:
        k += 1
        product *= rng.random()
    return k


def weighted(rng: random.Random, weights: dict[str, float]) -> str:
    """Draw a key with probability proportional to its weight."""
    keys = list(weights)
    return rng.choices(keys, [weights[k] for k in keys])[0]


def history_start(now: datetime, tz: tzinfo) -> date:
    """Return the first local day of the history."""
    return now.astimezone(tz).date() - timedelta(days=HISTORY_DAYS - 1)


def month_index(day: date, start: date) -> int:
    """Return how many calendar months `day` lies after the start's month."""
    return (day.year - start.year) * 12 + day.month - start.month


def score_kind(profile: str, months_before_end: int, personal: str) -> str:
    """Return the score distribution of an official's ratings in a given month."""
    if profile == "slipping":
        return "weak" if months_before_end <= 1 else "good"
    return {"poor": "poor", "weak": "weak"}.get(profile, personal)


def pick_tags(rng: random.Random, score: int, tags: Tags) -> tuple[str, ...]:
    """Return the tags a rater ticks for a score (often none)."""
    if score >= 8 and rng.random() < 0.75:
        return tuple(rng.sample(tags.positive, rng.randint(1, 3)))
    if score <= 4 and rng.random() < 0.9:
        return tuple(rng.sample(tags.negative, rng.randint(1, 3)))
    if 5 <= score <= 7 and rng.random() < 0.5:
        return (rng.choice(tags.positive if score == 7 else tags.negative),)
    return ()


def pick_comment(rng: random.Random, score: int) -> str | None:
    """Return a comment, or None (most raters write none)."""
    if score <= 4:
        return rng.choice(COMPLAINTS) if rng.random() < 0.55 else None
    if score <= 7:
        return rng.choice(MIXED) if rng.random() < 0.2 else None
    return rng.choice(PRAISE) if rng.random() < 0.12 else None


def answer_delay(rng: random.Random, channel: str) -> timedelta:
    """Return how long after the invitation a recipient answers."""
    if channel == "qr":
        return timedelta(minutes=rng.randint(3, 40))
    draw = rng.random()
    if draw < 0.6:
        return timedelta(minutes=rng.randint(5, 120))
    if draw < 0.9:
        return timedelta(hours=rng.uniform(2, 24))
    return timedelta(hours=rng.uniform(24, 72))


def phone_number(rng: random.Random) -> str:
    """Return a made-up mainland mobile number."""
    return rng.choice(PHONE_PREFIXES) + f"{rng.randrange(10 ** 8):08d}"


def signals_for(rng: random.Random, channel: str) -> Signals:
    """Return a phone's abuse signals: a mobile address, its browser, time spent reading."""
    ip = f"{rng.choice(MOBILE_NETS)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
    agent = WECHAT_AGENT if channel == "wechat" else rng.choice(AGENTS)
    return Signals(ip, agent, rng.randint(12, 240))


def openid_of(rng: random.Random) -> str:
    """Return a made-up WeChat openid (28 characters)."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    return "o" + "".join(rng.choice(alphabet) for _ in range(27))


def event_mix(category: str, event_types: Sequence[str]) -> dict[str, float]:
    """Return the weights of the declared event types for an official of a unit category."""
    usual = MIX.get(category, MIX["department"])
    return {t: usual.get(t, 1) for t in event_types}


def external_id(event_type: str, moment: datetime, code: str, suffix: str) -> str:
    """Return the business system's id of an event: type prefix, day, official, number."""
    return f"{PREFIXES.get(event_type, 'EV')}-{moment:%Y%m%d}-{code}-{suffix}"
