"""Plan each official's service events and what their recipients do, month by month.

Pure and deterministic (see backend/services/demo/plan.py). Scores come from monthly decks
rather than independent draws, so an official's flags follow from how they serve.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import date, datetime, time, timedelta, tzinfo

from backend.services.demo.plan import (
    ANSWER_RATE,
    CHANNELS,
    OPEN_ONLY_RATE,
    SCORES,
    SOURCE,
    Official,
    PlannedEvent,
    PlannedRating,
    Signals,
    Tags,
    answer_delay,
    event_mix,
    external_id,
    month_index,
    openid_of,
    phone_number,
    pick_comment,
    pick_tags,
    poisson,
    rng_for,
    score_kind,
    signals_for,
    weighted,
)


def response(rng: random.Random,
             channel: str) -> tuple[PlannedRating | None, timedelta | None]:
    """Return whether the recipient will rate (score drawn later), or only open the page."""
    if rng.random() >= ANSWER_RATE[channel]:
        opened = rng.random() < OPEN_ONLY_RATE
        return None, timedelta(minutes=rng.randint(5, 600)) if opened else None
    return PlannedRating(answer_delay(rng, channel), None,
                         signals=signals_for(rng, channel)), None


def one_event(rng: random.Random, code: str, number: int, moment: datetime,
              mix: dict[str, float]) -> PlannedEvent:
    """Plan one service event of an official and whether its recipient responds."""
    event_type = weighted(rng, mix)
    channel = weighted(rng, CHANNELS)
    phone = phone_number(rng) if channel != "qr" else None
    openid = openid_of(rng) if channel == "wechat" else None
    rating, opened = response(rng, channel)
    return PlannedEvent(SOURCE, external_id(event_type, moment, code, f"{number:02d}"), code,
                        event_type, moment, (channel,), phone, openid, rating, opened)


def deck(rng: random.Random, weights: Sequence[float], n: int) -> list[int]:
    """Return n scores 1..10 whose counts follow the weights as closely as n allows, shuffled.

    Quotas rather than independent draws: a month's ratings show the official's usual
    spread, so flags come from how an official serves, not from the luck of a small sample.
    """
    total = sum(weights)
    exact = [w * n / total for w in weights]
    counts = [math.floor(x) for x in exact]
    ranked = sorted(range(len(weights)), key=lambda i: (exact[i] - counts[i], weights[i]),
                    reverse=True)
    for i in ranked[:n - sum(counts)]:
        counts[i] += 1
    scores = [i + 1 for i, c in enumerate(counts) for _ in range(c)]
    rng.shuffle(scores)
    return scores


def scored(rng: random.Random, event: PlannedEvent, score: int, tags: Tags) -> PlannedEvent:
    """Complete an event's rating: score, tags, comment and, for some bad ones, a call back."""
    followup = event.phone if event.phone and score <= 4 and rng.random() < 0.4 else None
    rating = replace(event.rating, score=score, tags=pick_tags(rng, score, tags),
                     comment=pick_comment(rng, score), followup_phone=followup)
    return replace(event, rating=rating)


def score_month(rng: random.Random, events: list[PlannedEvent], kind: str,
                tags: Mapping[str, Tags]) -> list[PlannedEvent]:
    """Give one month's ratings of an official their scores, from the month's deck."""
    answering = [i for i, e in enumerate(events) if e.rating is not None]
    for i, score in zip(answering, deck(rng, SCORES[kind], len(answering)), strict=True):
        events[i] = scored(rng, events[i], score, tags[events[i].event_type])
    return events


def official_events(official: Official, profile: str, start: date, now: datetime, tz: tzinfo,
                    event_types: Sequence[str],
                    tags: Mapping[str, Tags]) -> list[PlannedEvent]:
    """Plan an official's service events, day by day up to now, and their ratings."""
    rng = rng_for("events", official.code)
    monthly = 2.5 if profile == "sparse" else rng.uniform(16, 22)
    personal = rng.choice(("good", "steady", "excellent"))
    mix, today = event_mix(official.category, event_types), now.astimezone(tz).date()
    months: dict[int, list[PlannedEvent]] = {}
    for offset in range((today - start).days + 1):
        day = start + timedelta(days=offset)
        mean = monthly / 21.7 * (1.0 if day.weekday() < 5 else 0.1)
        for number in range(1, poisson(rng, mean) + 1):
            moment = datetime.combine(day, time(8, 30), tz) + timedelta(
                minutes=rng.randint(0, 540))
            event = one_event(rng, official.code, number, moment, mix)
            if moment < now:
                months.setdefault(month_index(day, start), []).append(event)
    last = month_index(today, start)
    return [e for month, events in sorted(months.items())
            for e in score_month(rng, events, score_kind(profile, last - month, personal), tags)]


def reported_late(events: list[PlannedEvent], since: datetime, count: int = 3,
                  by: timedelta = timedelta(hours=50)) -> list[PlannedEvent]:
    """Have the business system report an official's first `count` messaged events late."""
    late = 0
    for n, event in enumerate(events):
        if late < count and event.occurred_at >= since and set(event.channels) & {"sms",
                                                                                 "wechat"}:
            events[n], late = replace(event, delayed=by), late + 1
    return events


def burst_events(code: str, now: datetime, tz: tzinfo, event_type: str,
                 tags: Tags) -> tuple[datetime, list[PlannedEvent]]:
    """Plan a burst: one evening, one office computer rates fourteen unrated cases 10."""
    rng = rng_for("burst", code)
    reported = datetime.combine(now.astimezone(tz).date() - timedelta(days=2), time(21, 5), tz)
    desk = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/109 Safari"
    events = []
    for k in range(14):
        rating = PlannedRating(timedelta(minutes=3 + 3 * k), 10, tags.positive[:3],
                               signals=Signals("10.52.8.23", desk, rng.randint(2, 4)))
        occurred = reported - timedelta(hours=rng.uniform(3, 60))
        events.append(PlannedEvent(SOURCE, external_id(event_type, reported, code, f"B{k + 1:02d}"),
                                   code, event_type, occurred, ("qr",), rating=rating))
    return reported, events
