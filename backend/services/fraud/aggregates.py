"""Aggregate detectors: per official and period, against peers and the official's own history.

They read only aggregates that exist without any link between a rating and its rater:
links issued per official (invitations), links used per official and day (the funnel's
counters, written at release), unstamped submissions per official and day (the same
counters), score histograms per official and event type (ratings carry no rater), and
events per source. Their items name the official and the period, never a rating: excluding
ratings is for the detectors that can name the ratings carrying their signal.

- link_use: links used / links issued per (official, event type) and ISO week;
- top_per_link: top scores / links issued, the same way (what stuffing adds is exactly
  this: links that would have gone unused or rated lower, rated at the top);
- score_shape: the share of top scores and the entropy of the score histogram per
  (official, event type) and week;
- unstamped: submissions without a valid opening stamp per official and day;
- source_share: an official's events from one source this month against the share its
  peers' event types and its own past months would give.
Peers are the officials of units of the same category rated for the same event type (all
officials of that event type when a category has too few); statistics are robust (median,
MAD) and allow for both sampling noise and the spread between honest officials.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session

from backend.models import Cadre, FunnelCount, Invitation, Rating, ServiceEvent, Unit
from backend.models.ratings import VALID
from backend.models.templates import SurveyTemplate
from backend.services.fraud import stats
from backend.services.fraud.findings import Finding, FraudSettings, id_floor

Cell = tuple[int, str]  # (official, event type)


@dataclass(frozen=True)
class Week:
    """An ISO week in local time: its label and its bounds as local dates and instants."""

    label: str
    first: date  # Monday
    start: datetime
    end: datetime

    @classmethod
    def of(cls, day: date, tz: tzinfo) -> Week:
        """Return the week containing a local day."""
        monday = day - timedelta(days=day.weekday())
        start = datetime.combine(monday, time(), tzinfo=tz)
        year, number, _ = monday.isocalendar()
        return cls(f"{year}-W{number:02d}", monday, start, start + timedelta(days=7))

    def shifted(self, weeks: int, tz: tzinfo) -> Week:
        """Return the week `weeks` later (negative: earlier)."""
        return Week.of(self.first + timedelta(weeks=weeks), tz)

    def days(self) -> list[date]:
        """Return the seven local days of the week."""
        return [self.first + timedelta(days=n) for n in range(7)]


def judged_weeks(now: datetime, tz: tzinfo) -> list[Week]:
    """Return the weeks detection judges: the current one and the one before it."""
    current = Week.of(now.astimezone(tz).date(), tz)
    return [current.shifted(-1, tz), current]


def categories(session: Session) -> dict[int, str]:
    """Return each official's unit category."""
    return dict(session.execute(select(Cadre.id, Unit.category)
                                .join(Unit, Unit.id == Cadre.unit_id)).all())


def week_index(weeks: list[Week], day: date) -> int | None:
    """Return the index of the week a local day falls in, or None."""
    for n, week in enumerate(weeks):
        if week.first <= day < week.first + timedelta(days=7):
            return n
    return None


def span(judged: Week, s: FraudSettings, tz: tzinfo) -> list[Week]:
    """Return the judged week preceded by its history weeks, oldest first."""
    return [judged.shifted(-k, tz) for k in range(s.history_weeks, -1, -1)]


def issued(session: Session, weeks: list[Week]) -> dict[Cell, list[int]]:
    """Return event links issued per (official, event type) in each week."""
    columns = [func.sum(case((and_(Invitation.created_at >= w.start,
                                   Invitation.created_at < w.end), 1), else_=0))
               for w in weeks]
    rows = session.execute(
        select(Invitation.cadre_id, Invitation.event_type, *columns)
        .where(Invitation.kind == "event", Invitation.cadre_id.is_not(None),
               Invitation.created_at >= weeks[0].start, Invitation.created_at < weeks[-1].end)
        .group_by(Invitation.cadre_id, Invitation.event_type))
    return {(row[0], row[1]): [int(v or 0) for v in row[2:]] for row in rows}


def funnel(session: Session, first: date, last: date) -> list:
    """Return the funnel's rows (day, official, event type, rated, unstamped) in a range."""
    return session.execute(
        select(FunnelCount.day, FunnelCount.cadre_id, FunnelCount.event_type,
               func.sum(FunnelCount.rated), func.sum(FunnelCount.unstamped))
        .where(FunnelCount.day >= first, FunnelCount.day <= last)
        .group_by(FunnelCount.day, FunnelCount.cadre_id, FunnelCount.event_type)).all()


def used(session: Session, weeks: list[Week]) -> dict[Cell, list[int]]:
    """Return links used (rated) per (official, event type) in each week."""
    found: dict[Cell, list[int]] = defaultdict(lambda: [0] * len(weeks))
    for day, cadre_id, event_type, rated, _ in funnel(session, weeks[0].first,
                                                      weeks[-1].first + timedelta(days=6)):
        n = week_index(weeks, day)
        if n is not None:
            found[(cadre_id, event_type)][n] += int(rated or 0)
    return found


def peers_of(cell: Cell, candidates: Iterable[Cell], category: dict[int, str],
             min_peers: int) -> list[Cell]:
    """Return the cells to compare with: same category and event type, else event type."""
    others = [c for c in candidates if c[1] == cell[1] and c[0] != cell[0]]
    same = [c for c in others if category.get(c[0]) == category.get(cell[0])]
    return same if len(same) >= min_peers else others


@dataclass(frozen=True)
class RateTest:
    """One official's rate in a week against peers and own history."""

    k: int
    n: int
    peer_rate: float
    spread: float
    peers: int
    z_peer: float
    own_rate: float | None
    z_own: float | None

    def flagged(self, s: FraudSettings) -> bool:
        """Tell whether the rate stands out enough."""
        if self.z_peer >= s.strong_z:
            return True
        return self.z_peer >= s.peer_z and (self.z_own is None or self.z_own >= s.own_z)

    def evidence(self) -> dict:
        """Return the test as evidence (rounded)."""
        return {"count": self.k, "of": self.n, "rate": round(self.k / self.n, 3),
                "peer_rate": round(self.peer_rate, 3), "peer_spread": round(self.spread, 3),
                "peers": self.peers, "z_peers": round(self.z_peer, 1),
                "own_rate": None if self.own_rate is None else round(self.own_rate, 3),
                "z_own": None if self.z_own is None else round(self.z_own, 1)}


def rate_test(cell: Cell, counts: dict[Cell, list[tuple[int, int]]], category: dict[int, str],
              s: FraudSettings, minimum: int) -> RateTest | None:
    """Test a cell's last-week rate k/n; `counts[cell]` holds (k, n) per week, oldest first."""
    k, n = counts[cell][-1]
    if n < minimum:
        return None
    judged = [c for c, weeks in counts.items() if weeks[-1][1] >= minimum]
    peers = peers_of(cell, judged, category, s.min_peers)
    if len(peers) < s.min_peers:
        return None
    rates = [counts[c][-1][0] / counts[c][-1][1] for c in peers]
    sizes = [counts[c][-1][1] for c in peers]
    p0, tau = stats.median(rates), stats.between_spread(rates, sizes, s.spread_floor)
    own_k = sum(w[0] for w in counts[cell][:-1])
    own_n = sum(w[1] for w in counts[cell][:-1])
    own = own_k / own_n if own_n >= minimum else None
    z_own = None if own is None else stats.overdispersed_z(k, n, own, s.spread_floor)
    return RateTest(k, n, p0, tau, len(peers), stats.overdispersed_z(k, n, p0, tau), own, z_own)


def link_use(session: Session, now: datetime, tz: tzinfo, s: FraudSettings) -> list[Finding]:
    """Flag officials who used far more of their links in a week than peers and themselves,
    or got far more top scores per link issued (the two together are what stuffing adds:
    links that would have gone unused, rated at the top)."""
    category = categories(session)
    findings = []
    for judged in judged_weeks(now, tz):
        weeks = span(judged, s, tz)
        links, rated = issued(session, weeks), used(session, weeks)
        hists, scale_of = histograms(session, weeks, tz)
        uses = {cell: [(min(rated.get(cell, [0] * len(weeks))[i], n), n)
                       for i, n in enumerate(per_week)] for cell, per_week in links.items()}
        tops = {cell: [(min(hists[cell][i][scale_of[cell][1]], n) if cell in hists else 0, n)
                       for i, n in enumerate(per_week)] for cell, per_week in links.items()}
        for kind, counts in (("link_use", uses), ("top_per_link", tops)):
            flagged: dict[int, list[dict]] = defaultdict(list)
            for cell in counts:
                test = rate_test(cell, counts, category, s, s.min_links)
                if test is not None and test.flagged(s):
                    flagged[cell[0]].append({"event_type": cell[1], **test.evidence()})
            findings += [Finding(kind, f"cadre:{cadre_id}", judged.label,
                                 {"week": judged.label, "cells": cells}, cadre_id=cadre_id)
                         for cadre_id, cells in flagged.items()]
    return findings


def histograms(session: Session, weeks: list[Week], tz: tzinfo
               ) -> tuple[dict[Cell, list[Counter]], dict[Cell, tuple[int, int]]]:
    """Return score histograms per (official, event type) and week, and each cell's scale."""
    floor = id_floor(session, weeks[0].first)
    columns = [func.sum(case((and_(Rating.batch_at >= w.start, Rating.batch_at < w.end), 1),
                             else_=0)) for w in weeks]
    rows = session.execute(
        select(Rating.cadre_id, Rating.event_type, Rating.template_id, Rating.score, *columns)
        .where(Rating.id > floor, Rating.status == VALID, Rating.event_type.is_not(None),
               Rating.batch_at >= weeks[0].start, Rating.batch_at < weeks[-1].end)
        .group_by(Rating.cadre_id, Rating.event_type, Rating.template_id, Rating.score)).all()
    scales = {tid: (d["scale"]["min"], d["scale"]["max"]) for tid, d in session.execute(
        select(SurveyTemplate.id, SurveyTemplate.definition)
        .where(SurveyTemplate.id.in_({r[2] for r in rows})))}
    found: dict[Cell, list[Counter]] = defaultdict(lambda: [Counter() for _ in weeks])
    scale_of: dict[Cell, tuple[int, int]] = {}
    for cadre_id, event_type, template_id, score, *per_week in rows:
        cell = (cadre_id, event_type)
        scale_of[cell] = scales[template_id]
        for n, count in enumerate(per_week):
            if count:
                found[cell][n][score] += int(count)
    return found, scale_of


def score_shape(session: Session, now: datetime, tz: tzinfo, s: FraudSettings) -> list[Finding]:
    """Flag officials whose scores in a week are far more uniformly top than peers' and own."""
    category = categories(session)
    findings = []
    for judged in judged_weeks(now, tz):
        weeks = span(judged, s, tz)
        hists, scale_of = histograms(session, weeks, tz)
        tops = {cell: [(h[scale_of[cell][1]], sum(h.values())) for h in per_week]
                for cell, per_week in hists.items()}
        flagged: dict[int, list[dict]] = defaultdict(list)
        for cell in tops:
            top = rate_test(cell, tops, category, s, s.min_ratings)
            low = entropy_test(cell, hists, scale_of, category, s)
            if (top is not None and top.flagged(s)) or (low is not None and low["flagged"]):
                flagged[cell[0]].append({"event_type": cell[1],
                                         "top_share": top.evidence() if top else None,
                                         "entropy": low})
        findings += [Finding("score_shape", f"cadre:{cadre_id}", judged.label,
                             {"week": judged.label, "cells": cells}, cadre_id=cadre_id)
                     for cadre_id, cells in flagged.items()]
    return findings


UNSTAMPED_PRIOR, PRIOR_WEIGHT = 0.01, 50  # a usual unstamped share, worth 50 submissions
ENTROPY_FLOOR = 0.05  # least spread of normalised entropies assumed between officials


def entropy_test(cell: Cell, hists: dict[Cell, list[Counter]],
                 scale_of: dict[Cell, tuple[int, int]], category: dict[int, str],
                 s: FraudSettings) -> dict | None:
    """Test how much lower a cell's score entropy is than its peers' and its own past weeks'.

    Entropy is noisier than a share and its plug-in estimate grows with the sample, so it
    flags alone only far out (strong_z against peers, own_z against the median of the
    official's own weeks of a similar size); otherwise it is evidence beside the top share.
    """
    points = scale_of[cell][1] - scale_of[cell][0] + 1
    current = hists[cell][-1]
    if sum(current.values()) < s.min_ratings:
        return None
    judged = [c for c, weeks in hists.items() if sum(weeks[-1].values()) >= s.min_ratings]
    peers = peers_of(cell, judged, category, s.min_peers)
    if len(peers) < s.min_peers:
        return None
    value = stats.entropy(current, points)
    values = [stats.entropy(hists[c][-1], points) for c in peers]
    scale = max(stats.mad(values), ENTROPY_FLOOR)
    z_peer = (stats.median(values) - value) / scale
    past = [stats.entropy(week, points) for week in hists[cell][:-1]
            if sum(week.values()) >= s.min_ratings]
    own = stats.median(past) if past else None
    z_own = None if own is None else (own - value) / scale
    flagged = z_peer >= s.strong_z and (z_own is None or z_own >= s.own_z)
    return {"entropy": round(value, 3), "peer_entropy": round(stats.median(values), 3),
            "z_peers": round(z_peer, 1), "own_entropy": None if own is None else round(own, 3),
            "z_own": None if z_own is None else round(z_own, 1), "flagged": flagged}


def unstamped(session: Session, now: datetime, tz: tzinfo, s: FraudSettings) -> list[Finding]:
    """Flag official-days on which many submissions came without a valid opening stamp."""
    today = now.astimezone(tz).date()
    rows = funnel(session, today - timedelta(days=s.lookback_days), today)
    days: dict[tuple[int, date], list[int]] = defaultdict(lambda: [0, 0])
    for day, cadre_id, _, rated, missing in rows:
        days[(cadre_id, day)][0] += int(rated or 0)
        days[(cadre_id, day)][1] += int(missing or 0)
    total_rated = sum(r for r, _ in days.values())
    total_missing = sum(m for _, m in days.values())
    findings = []
    for (cadre_id, day), (rated, missing) in sorted(days.items()):
        if missing < s.unstamped_min or missing < s.unstamped_share * rated:
            continue
        # Everyone else's share, drawn towards 1% when there are few others to go by.
        usual = (total_missing - missing + UNSTAMPED_PRIOR * PRIOR_WEIGHT) / (
            total_rated - rated + PRIOR_WEIGHT)
        z = stats.overdispersed_z(missing, rated, usual, s.spread_floor)
        if z >= s.peer_z:
            label = day.isoformat()
            findings.append(Finding("unstamped", f"cadre:{cadre_id}", label,
                                    {"day": label, "unstamped": missing, "rated": rated,
                                     "share": round(missing / rated, 3),
                                     "usual_share": round(usual, 3), "z": round(z, 1)},
                                    cadre_id=cadre_id))
    return findings


def month_start(local: datetime, back: int = 0) -> datetime:
    """Return the start of the local month `back` months before `local`'s."""
    year, month = local.year, local.month - back
    while month < 1:
        year, month = year - 1, month + 12
    return local.replace(year=year, month=month, day=1, hour=0, minute=0, second=0,
                         microsecond=0)


def event_mix(session: Session, start: datetime, end: datetime
              ) -> dict[int, dict[str, Counter]]:
    """Return events per official, event type and source in a time range."""
    rows = session.execute(
        select(ServiceEvent.cadre_id, ServiceEvent.event_type, ServiceEvent.source, func.count())
        .where(ServiceEvent.created_at >= start, ServiceEvent.created_at < end)
        .group_by(ServiceEvent.cadre_id, ServiceEvent.event_type, ServiceEvent.source)).all()
    mix: dict[int, dict[str, Counter]] = defaultdict(lambda: defaultdict(Counter))
    for cadre_id, event_type, source, count in rows:
        mix[cadre_id][event_type][source] += count
    return mix


def expected_share(types: dict[str, Counter], source: str,
                   references: list[dict[str, Counter]]) -> float | None:
    """Return the share of `source` an official's event-type mix would give: per event type,
    the median share of that source among the references (peers, or the official's own past)
    that had events of that type; None when no type is covered."""
    total = covered = 0.0
    for event_type, sources in types.items():
        shares = [ref[event_type][source] / sum(ref[event_type].values())
                  for ref in references if sum(ref.get(event_type, Counter()).values())]
        if shares:
            n = sum(sources.values())
            total += n * stats.median(shares)
            covered += n
    return total / covered if covered else None


def source_shares(session: Session, now: datetime, tz: tzinfo,
                  s: FraudSettings) -> list[Finding]:
    """Flag officials whose events this month come from one source far more than their own
    past months and their peers (same unit category, same event types) would give."""
    local = now.astimezone(tz)
    start, past = month_start(local), month_start(local, 3)
    current, history = event_mix(session, start, now), event_mix(session, past, start)
    category = categories(session)
    findings, month = [], local.strftime("%Y-%m")
    for cadre_id, types in current.items():
        sources = sum(types.values(), Counter())
        (source, top), n = sources.most_common(1)[0], sum(sources.values())
        share = top / n
        if n < s.share_min_events or share < s.share_threshold:
            continue
        others = [c for c in current if c != cadre_id]
        same = [c for c in others if category.get(c) == category.get(cadre_id)]
        peers = same if len(same) >= s.min_peers else others
        usual = expected_share(types, source, [current[c] for c in peers])
        own = expected_share(types, source, [history[cadre_id]] if cadre_id in history else [])
        if (usual is None or share - usual >= s.share_excess) and \
                (own is None or share - own >= s.share_excess):
            findings.append(Finding("source_share", f"cadre:{cadre_id}", month,
                                    {"month": month, "source": source, "events": n,
                                     "from_source": top, "share": round(share, 3),
                                     "peer_share": None if usual is None else round(usual, 3),
                                     "own_share": None if own is None else round(own, 3)},
                                    cadre_id=cadre_id))
    return findings
