"""Fraud detection on a seeded simulation: does paced, rotating stuffing still get caught?

A county of 40 officials (four unit categories, ten each) gets service events every working
hour for four weeks; each link is rated or not by its recipient (an organic rater on a phone,
behind a carrier's shared addresses, who opens the page first and reads it), with rates and
score mixes that differ between honest officials. In the last week the staff of four
officials take over a share of their links and rate them 10, so that the stuffed links are
5% or 10% of all the week's links, in one of three ways:
- naive: a script on one office address and one desktop browser, a few seconds apart, which
  never opens the page (no opening stamp);
- paced: one office address and browser, at most 6 an hour, opening each page and waiting;
- rotating: at most 6 an hour, 20 addresses in 5 carrier ranges shared with organic raters,
  8 common phone agents, opening each page and waiting.
Everything goes through the services on PostgreSQL at simulated times (an injected clock:
events, submissions with their stamps, the hourly release job, detection at the end of the
week); no row is rewritten. The three organic weeks are built once and copied per variant.
Three counties (seeds) are simulated and their counts summed: 12 stuffing and 108 honest
officials per variant (`--quick`: one county, two organic weeks). BENCH_FRAUD_VARIANTS
(e.g. "rotating 5%,paced 10%") runs only the variants named, BENCH_FRAUD_SEEDS (e.g.
"2027") only the counties named.

Reported per variant: recall per stuffed rating (named by an item), per stuffing official
(named by any item) and per episode (an official's day of stuffing, covered by an item's
window or named ratings); false flags on organic ratings (named by an item) and on honest
officials (named by any item). Targets (issue 25): recall >= 90% of stuffing officials in
every variant; false flags < 1% of organic ratings and < 5% of honest officials.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import random
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from tests.perf.report import Result
from tests.perf.support import admin_url, bench_app

TZ = ZoneInfo("Asia/Shanghai")
SEEDS = (2025, 2026, 2027)  # three counties; --quick runs the first with less history
START = datetime(2026, 11, 2, tzinfo=TZ)  # a Monday
WEEKS = 4  # three organic weeks, then the week of stuffing
CATEGORIES = {"township": "village_visit", "department": "approval",
              "institution": "approval", "village": "village_visit"}
PER_CATEGORY = 10
STUFFERS = 4
SHARES = (0.05, 0.10)
VARIANTS = ("naive", "paced", "rotating")
PHONES = [f"Mozilla/5.0 (Linux; Android {v}; {m}) MicroMessenger/8.0.{b}"
          for v, m, b in [(13, "V2203A", 47), (14, "PJD110", 49), (12, "M2011K2C", 44),
                          (13, "SM-S9180", 47), (14, "ALN-AL00", 49), (12, "NOH-AN00", 42),
                          (13, "22081212C", 47), (14, "23127PN0CC", 49), (11, "PCLM10", 40),
                          (13, "V2309A", 48), (12, "RMX3366", 43), (14, "PHB110", 50)]] + [
    f"Mozilla/5.0 (iPhone; CPU iPhone OS {v} like Mac OS X) MicroMessenger/8.0.{b}"
    for v, b in [("17_1", 47), ("16_6", 44), ("17_4", 49), ("15_7", 40), ("18_0", 50)]]
DESKTOPS = ["Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/120.0 Safari/537.36",
            "Mozilla/5.0 (Windows NT 6.1; WOW64) Chrome/86.0 Safari/537.36 QBCore/4.0",
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) Safari/605.1.15"]
CARRIER_RANGES = 120  # /24 ranges of carrier NAT shared by all organic raters


@dataclass
class Official:
    """A simulated official: code, category, habits of its recipients."""

    code: str
    category: str
    event_type: str
    links_per_day: float
    use_rate: float
    top_share: float
    office: str  # the unit's office /24
    stuffer: bool = False


@dataclass
class Truth:
    """What the simulation knows: which stored rating is whose, stuffed or organic."""

    stuffed: dict[str, tuple[str, date]] = field(default_factory=dict)  # receipt hash -> ep.
    organic: set[str] = field(default_factory=set)
    episodes: set[tuple[str, date]] = field(default_factory=set)


@dataclass
class Link:
    """An issued link: who, when, its presented token."""

    official: Official
    issued: datetime
    token: str


def county(rng: random.Random) -> list[Official]:
    """Return 40 officials whose recipients' habits differ as honest offices do."""
    officials = []
    for c, (category, event_type) in enumerate(CATEGORIES.items()):
        for n in range(PER_CATEGORY):
            officials.append(Official(
                f"F{c}{n:02d}", category, event_type, rng.uniform(3.0, 7.0),
                min(0.8, max(0.4, rng.gauss(0.6, 0.06))),
                min(0.6, max(0.2, rng.gauss(0.38, 0.06))), f"10.{c}.{n}"))
    return officials


def organic_client(rng: random.Random, official: Official) -> tuple[str, str]:
    """Return the address and agent of an organic rater."""
    if rng.random() < 0.03:  # rated on the office's wireless network
        address = f"{official.office}.{rng.randint(2, 250)}"
    elif rng.random() < 0.1:
        address = f"2408:{rng.randint(0, 199):x}:{rng.randint(0, 9999):x}::{rng.randint(1, 999)}"
    else:
        r = min(int(rng.paretovariate(1.2)) - 1, CARRIER_RANGES - 1)
        address = f"112.{r // 250}.{r % 250}.{rng.randint(1, 254)}"
    weights = [1 / (k + 1) for k in range(len(PHONES))]
    agent = (rng.choice(DESKTOPS) if rng.random() < 0.04
             else rng.choices(PHONES, weights)[0])
    return address, agent


def organic_score(rng: random.Random, official: Official) -> int:
    """Return an organic score: 10 with the official's top share, else mostly 6 to 9."""
    if rng.random() < official.top_share:
        return 10
    return rng.choices(range(1, 10), [2, 1, 2, 2, 4, 8, 14, 20, 18])[0]


class Simulation:
    """Drives one database through simulated hours with the real services."""

    def __init__(self, app, officials: list[Official], seed: int) -> None:
        self.app, self.officials, self.rng = app, officials, random.Random(seed)
        self.truth = Truth()
        self.pending: list[tuple[datetime, int, object]] = []
        self.order = 0

    def at(self, when: datetime, action) -> None:
        """Schedule an action at a simulated time."""
        self.order += 1
        self.pending.append((when, self.order, action))

    def run_until(self, end: datetime) -> None:
        """Run every hour up to `end`: due actions in time order, then the release job."""
        from backend.extensions import db
        from backend.services.ratings.release import ReleaseContext, release
        from backend.wiring import sealer, vault

        hour = min((w for w, _, _ in self.pending), default=end).replace(minute=0, second=0)
        while hour < end:
            nxt = hour + timedelta(hours=1)
            due = sorted(p for p in self.pending if p[0] < nxt)
            self.pending = [p for p in self.pending if p[0] >= nxt]
            for when, _, action in due:
                action(when)
            ctx = ReleaseContext(sealer(self.app), vault(self.app), TZ, nxt, batch_min=20,
                                 shuffle=random.Random(self.order).shuffle)
            release(db.session, ctx)
            hour = nxt

    def issue_day(self, day: date, rate_link) -> None:
        """Schedule a day's events (08:00-18:00), posted hourly by the business system."""
        for hour in range(8, 18):
            at = datetime(day.year, day.month, day.day, hour, 59, tzinfo=TZ)
            events = []
            for official in self.officials:
                for _ in range(self.poisson(official.links_per_day / 10)):
                    events.append(official)
            if events:
                self.at(at, lambda when, e=events: self.ingest(when, e, rate_link))

    def poisson(self, lam: float) -> int:
        """Draw a Poisson count (Knuth)."""
        limit, k, p = pow(2.718281828459045, -lam), 0, 1.0
        while True:
            p *= self.rng.random()
            if p <= limit:
                return k
            k += 1

    def ingest(self, when: datetime, officials: list[Official], rate_link) -> None:
        """Post an hour's events and hand each link to whoever will rate it."""
        from backend.extensions import db
        from backend.services.invitations.events import EventInput, IngestContext, Result
        from backend.services.invitations.ingestion import ingest_events
        from backend.wiring import sealer, token_codec, vault

        ctx = IngestContext(codec=token_codec(self.app), vault=vault(self.app),
                            catalogue=self.app.extensions["catalogue"],
                            base_url=self.app.config["PUBLIC_BASE_URL"], tz=TZ, now=when,
                            sealer=sealer(self.app))
        items = [EventInput("counter", uuid.uuid4().hex, o.code, o.event_type,
                            when - timedelta(minutes=self.rng.randint(1, 58)))
                 for o in officials]
        outcomes, _ = ingest_events(db.session, ctx, items)
        for official, outcome in zip(officials, outcomes, strict=True):
            assert outcome.result is Result.CREATED, outcome
            rate_link(Link(official, when, outcome.body["invitation"]["token"]))

    def organic(self, link: Link) -> None:
        """Have the recipient rate the link (or not) some time later."""
        rng = self.rng
        if rng.random() >= link.official.use_rate:
            return
        delay = timedelta(minutes=2 + rng.expovariate(1 / 300))
        score = organic_score(rng, link.official)
        address, agent = organic_client(rng, link.official)
        reading = 8 + rng.lognormvariate(3.6, 0.6)
        stamped = rng.random() >= 0.02
        self.at(link.issued + delay, lambda when: self.submit(
            when, link, score, address, agent, reading if stamped else None, None))

    def submit(self, when: datetime, link: Link, score: int, address: str, agent: str,
               reading: float | None, episode: tuple[str, date] | None) -> None:
        """Submit a rating at `when`; with `reading`, the page was opened that long before."""
        from backend.extensions import db
        from backend.services.ratings import submission as ratings
        from backend.services.ratings.rules import RatedTarget, Submission
        from backend.wiring import sealer, stamp_codec, token_codec

        codec, stamps = token_codec(self.app), stamp_codec(self.app)
        stamp = (stamps.issue(codec.verify(link.token), when - timedelta(seconds=reading))
                 if reading is not None else None)
        ctx = ratings.SubmitContext(codec, sealer(self.app), TZ, when, stamps)
        receipt = ratings.submit(db.session, ctx, link.token,
                                 Submission([RatedTarget(None, score, ())]),
                                 ratings.ClientSignals(ip=address, agent=agent, stamp=stamp))
        hashed = ratings.receipt_hash(receipt, 0)
        if episode is None:
            self.truth.organic.add(hashed)
        else:
            self.truth.stuffed[hashed] = episode
            self.truth.episodes.add(episode)


class Stuffing:
    """The staff of the stuffing officials, in one of the three manners.

    A link is taken when it is issued, and its rating scheduled at once: naive scripts post
    the day's links after closing time, seconds apart; paced and rotating staff rate each
    link at least 10 minutes after the one before (at most 6 an hour), reading each page.
    """

    def __init__(self, sim: Simulation, manner: str, take: float, rng: random.Random) -> None:
        self.sim, self.manner, self.take, self.rng = sim, manner, take, rng
        self.count: dict[tuple[str, date], int] = defaultdict(int)
        self.next_slot: dict[str, datetime] = {}
        self.addresses = [f"112.{r // 250}.{r % 250}.{rng.randint(1, 254)}"
                          for r in rng.sample(range(CARRIER_RANGES), 5) for _ in range(4)]
        self.agents = rng.sample(PHONES, 8)

    def link(self, link: Link) -> None:
        """Take the link (stuffing official, with probability `take`) or leave it organic."""
        if not (link.official.stuffer and self.rng.random() < self.take):
            self.sim.organic(link)
            return
        code, day = link.official.code, link.issued.astimezone(TZ).date()
        episode = (code, day)
        if self.manner == "naive":  # after closing time, seconds apart, no page opened
            n = self.count[episode]
            self.count[episode] += 1
            start = datetime(day.year, day.month, day.day, 18, 5, tzinfo=TZ)
            self.at(start + timedelta(seconds=4 * n), link, f"{link.official.office}.10",
                    DESKTOPS[0], None, episode)
            return
        slot = max(self.next_slot.get(code, link.issued), link.issued + timedelta(minutes=3))
        self.next_slot[code] = slot + timedelta(minutes=10)
        if self.manner == "paced":
            address, agent = f"{link.official.office}.10", DESKTOPS[1]
        else:
            address, agent = self.rng.choice(self.addresses), self.rng.choice(self.agents)
        self.at(slot + timedelta(seconds=self.rng.randint(0, 120)), link, address, agent,
                self.rng.uniform(15, 60), episode)

    def at(self, when: datetime, link: Link, address: str, agent: str, reading: float | None,
           episode: tuple[str, date]) -> None:
        """Schedule one stuffed rating."""
        self.sim.at(when, lambda w: self.sim.submit(w, link, 10, address, agent, reading,
                                                    episode))


@contextlib.contextmanager
def database(template: str | None = None) -> Iterator[str]:
    """Create a database (a copy of `template` when given) and drop it afterwards."""
    admin = sa.create_engine(admin_url(), isolation_level="AUTOCOMMIT")
    name = f"ssp_fraud_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'
                             + (f' TEMPLATE "{template}"' if template else "")))
    try:
        yield name
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def uri(name: str) -> str:
    """Return the URL of a benchmark database."""
    return admin_url().set(database=name).render_as_string(hide_password=False)


def directory(app, officials: list[Official]) -> None:
    """Create the units and officials."""
    from backend.extensions import db
    from backend.models import Cadre, Unit

    with app.app_context():
        for c, category in enumerate(CATEGORIES):
            for n in range(PER_CATEGORY):
                db.session.add(Unit(code=f"U{c}{n:02d}", name=f"单位{c}{n:02d}",
                                    category=category))
        db.session.flush()
        units = dict(db.session.execute(sa.select(Unit.code, Unit.id)).all())
        for official in officials:
            db.session.add(Cadre(code=official.code, name=f"干部{official.code}",
                                 unit_id=units["U" + official.code[1:]], position="科员",
                                 active=True))
        db.session.commit()


def organic_weeks(app, officials: list[Official], weeks: int, seed: int) -> Truth:
    """Run the organic weeks before the stuffing; return their truth."""
    with app.app_context():
        sim = Simulation(app, officials, seed)
        for d in range(7 * weeks):
            sim.issue_day((START + timedelta(days=d)).date(), sim.organic)
        sim.run_until(START + timedelta(days=7 * weeks))
        return sim.truth


def stuffed_week(app, officials: list[Official], manner: str, share: float,
                 weeks: int, seed: int) -> tuple[Truth, dict]:
    """Run the week of stuffing, detect at its end; return its truth and the review items."""
    from backend.extensions import db
    from backend.models import Cadre, ReviewItem
    from backend.services.fraud import detect
    from backend.wiring import fraud_settings

    with app.app_context():
        sim = Simulation(app, officials, seed + 7 * weeks)
        first = START + timedelta(days=7 * weeks)
        stuffers = [o for o in officials if o.stuffer]
        week_links = sum(o.links_per_day for o in officials)
        take = min(1.0, share * week_links / sum(o.links_per_day for o in stuffers))
        staff = Stuffing(sim, manner, take, random.Random(seed + 1))
        for d in range(7):
            sim.issue_day((first + timedelta(days=d)).date(), staff.link)
        end = first + timedelta(days=7)
        sim.run_until(end)
        detect(db.session, end - timedelta(minutes=30), TZ, fraud_settings(app))
        codes = dict(db.session.execute(sa.select(Cadre.id, Cadre.code)).all())
        hashes = dict(db.session.execute(sa.text("SELECT id, receipt_hash FROM ratings")).all())
        items = [{"kind": i.kind, "official": codes.get(i.cadre_id), "window": i.window,
                  "evidence": i.evidence,
                  "ratings": {hashes[r] for r in i.rating_ids or []}}
                 for i in db.session.scalars(sa.select(ReviewItem))]
        return sim.truth, {"items": items, "take": take}


def covers(window: str, day: date) -> bool:
    """Tell whether an item's window (hour, day, ISO week or month) covers a local day."""
    if "-W" in window:
        year, week = window.split("-W")
        return day.isocalendar()[:2] == (int(year), int(week))
    if len(window) == 7:
        return window == day.strftime("%Y-%m")
    return window[:10] == day.isoformat()


def measure(organic: Truth, week: Truth, found: dict, officials: list[Official]) -> Counter:
    """Return the counts of one variant in one county (recall and false flags)."""
    items = found["items"]
    named = set().union(*(i["ratings"] for i in items)) if items else set()
    flagged = {i["official"] for i in items if i["official"]}
    stuffers = {o.code for o in officials if o.stuffer}
    honest = {o.code for o in officials} - stuffers
    caught = [ep for ep in week.episodes if any(
        i["official"] == ep[0] and covers(i["window"], ep[1]) for i in items)
        or any(week.stuffed[h] == ep for h in named if h in week.stuffed)]
    organic_all = organic.organic | week.organic
    counts = Counter({"stuffed": len(week.stuffed),
                      "stuffed_named": len(named & set(week.stuffed)),
                      "stuffers": len(stuffers), "stuffers_named": len(flagged & stuffers),
                      "episodes": len(week.episodes), "episodes_caught": len(caught),
                      "organic": len(organic_all), "organic_named": len(named & organic_all),
                      "honest": len(honest), "honest_named": len(flagged & honest)})
    counts.update(f"items {i['kind']}" for i in items)
    counts.update(f"false {i['kind']}" for i in items if i["official"] in honest)
    return counts


def ratio(m: Counter, part: str, whole: str) -> float:
    """Return a share of two counts (0 when there is nothing to count)."""
    return m[part] / m[whole] if m[whole] else 0.0


def rows(name: str, m: Counter) -> list[Result]:
    """Return a variant's report rows (summed over the counties)."""
    officials = ratio(m, "stuffers_named", "stuffers")
    organic = ratio(m, "organic_named", "organic")
    honest = ratio(m, "honest_named", "honest")
    return [
        Result("fraud", f"{name}: recall per stuffing official ({m['stuffers']})",
               100 * officials, "%", target=">= 90% of stuffing officials",
               met=officials >= 0.9),
        Result("fraud", f"{name}: recall per stuffed rating ({m['stuffed']})",
               100 * ratio(m, "stuffed_named", "stuffed"), "%"),
        Result("fraud", f"{name}: recall per episode ({m['episodes']} official-days)",
               100 * ratio(m, "episodes_caught", "episodes"), "%"),
        Result("fraud", f"{name}: organic ratings flagged (of {m['organic']})", 100 * organic,
               "%", target="< 1% of organic ratings", met=organic < 0.01),
        Result("fraud", f"{name}: honest officials flagged (of {m['honest']})", 100 * honest,
               "%", target="< 5% of honest officials", met=honest < 0.05),
    ]


def simulate(quick: bool = False, smoke: bool = False) -> dict[str, Counter]:
    """Run every variant in every county; return the counts per variant, summed."""
    totals: dict[str, Counter] = defaultdict(Counter)
    seeds = [int(v) for v in os.environ.get("BENCH_FRAUD_SEEDS", "").split(",") if v.strip()]
    for seed in seeds or (SEEDS[:1] if quick or smoke else SEEDS):
        for name, counts in county_run(seed, quick, smoke):
            totals[name] += counts
    return totals


def release_connections(app) -> None:
    """Close an app's pooled connections before its database is dropped."""
    with app.app_context():
        from backend.extensions import db
        db.session.remove()
        db.engine.dispose()


def county_run(seed: int, quick: bool, smoke: bool = False) -> list[tuple[str, Counter]]:
    """Simulate one county: its organic weeks once, then each variant on a copy."""
    rng = random.Random(seed)
    officials = county(rng)
    for official in rng.sample(officials, STUFFERS):
        official.stuffer = True
    weeks = 1 if smoke else WEEKS - 2 if quick else WEEKS - 1
    only = [v.strip() for v in os.environ.get("BENCH_FRAUD_VARIANTS", "").split(",")
            if v.strip()]
    if smoke and not only:
        only = [f"{VARIANTS[0]} {SHARES[0]:.0%}"]
    results = []
    with database() as history:
        app = bench_app(uri(history))
        directory(app, officials)
        started = time.perf_counter()
        organic = organic_weeks(app, officials, weeks, seed)
        print(f"   county {seed}: {weeks} organic weeks, {len(organic.organic)} ratings, "
              f"{time.perf_counter() - started:.0f} s", flush=True)
        release_connections(app)
        for manner, share in itertools.product(VARIANTS, SHARES):
            name = f"{manner} {share:.0%}"
            if only and name not in only:
                continue
            with database(history) as copy:
                started = time.perf_counter()
                stuffed_app = bench_app(uri(copy))
                try:
                    week, found = stuffed_week(stuffed_app, officials, manner, share, weeks,
                                               seed)
                finally:
                    release_connections(stuffed_app)
                counts = measure(organic, week, found, officials)
                results.append((name, counts))
                print(f"   {name}: {summary(counts)} ({time.perf_counter() - started:.0f} s)",
                      flush=True)
    return results


def summary(m: Counter) -> str:
    """Return one line of a variant's counts."""
    kinds = {k[6:]: v for k, v in sorted(m.items()) if k.startswith("items ")}
    false = {k[6:]: v for k, v in sorted(m.items()) if k.startswith("false ")}
    return (f"officials {m['stuffers_named']}/{m['stuffers']}, ratings {m['stuffed_named']}/"
            f"{m['stuffed']}, episodes {m['episodes_caught']}/{m['episodes']}; false: organic "
            f"{m['organic_named']}/{m['organic']}, honest officials {m['honest_named']}/"
            f"{m['honest']}; items {kinds}; items on honest officials {false}")


def run(quick: bool = False, smoke: bool = False) -> list[Result]:
    """Run the simulation and return its report rows (smoke: one week, one variant)."""
    out: list[Result] = []
    for name, counts in simulate(quick, smoke).items():
        print(f"   all counties, {name}: {summary(counts)}", flush=True)
        out += rows(name, counts)
    return out
