"""An official's results for a period: the read model of the console page, the feedback PDF,
the JSON report and the official's own view.

Nothing derived from a group below its minimum sample leaves here: such a group shows its n
and the minimum only; tags come from ok groups only; comments only from groups that reached
their minimum in the comment's month (see `comments`). Standing is a percentile among the
officials of the same unit category and position level, never a list of them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, tzinfo
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from backend.errors import InvalidInput, NotFound
from backend.models import Cadre, Unit
from backend.models.directory import TARGET_KINDS, TEAM
from backend.scoring import (
    OK,
    Period,
    PeriodError,
    Scheme,
    group_document,
    has_begun,
    headline_document,
    month_label,
    pairs_digest,
    parse_period,
    score_document,
    sorted_counts,
    trailing_months,
)
from backend.scoring.vocabulary import DEFAULT_SCHEME, Vocabulary
from backend.services.reports.figures import Counts, Figures, read_counts, score_counts
from backend.services.reports.standing import peer_standing
from backend.services.reports.trend import trend
from backend.services.reports.wording import (
    FLAG_LABELS,
    HEADLINE_LABELS,
    insufficient_text,
    official_level,
    percent,
)
from backend.services.scores.targets import target_of


@dataclass(frozen=True)
class ReportSettings:
    """What a report needs besides the database: the scheme, tag polarity, clock and zone."""

    scheme: Scheme  # the default scheme: units' roll-ups; officials take their own
    polarity: Mapping[str, str]  # tag -> "positive" | "negative"
    tz: tzinfo
    now: datetime
    vocabulary: Vocabulary
    schemes: Mapping[str, Scheme] = field(default_factory=dict)  # every scheme rules name
    min_peers: int = 5
    top_tags: int = 5
    # Peer headlines per (category, level, period), kept for the settings' life: a batch of
    # a unit's reports scores each set of peers once, not once per official. Officials of one
    # category and level share a scheme, so their peers are scored under it.
    memo: dict = field(default_factory=dict, compare=False, hash=False)

    def for_official(self, cadre: Cadre) -> ReportSettings:
        """Return these settings under the scheme that applies to the official."""
        key = self.vocabulary.scheme_for(cadre.unit.category, cadre.level)
        scheme = self.schemes.get(key) if key != DEFAULT_SCHEME else None
        return replace(self, scheme=scheme) if scheme is not None else self


def report_period(label: str, settings: ReportSettings) -> Period:
    """Parse a report's period; refuse (422) a malformed one or one that has not begun."""
    try:
        period = parse_period(label)
    except PeriodError as exc:
        raise InvalidInput(str(exc), {"period": str(exc)}) from exc
    if not has_begun(period, settings.now, settings.tz):
        raise InvalidInput(f"期间 {label} 尚未开始", {"period": f"期间 {label} 尚未开始"})
    return period


def find_official(session: Session, code: str | None = None,
                  cadre_id: int | None = None) -> Cadre:
    """Return an official by code or id (with the unit loaded); NotFound otherwise."""
    query = select(Cadre).options(joinedload(Cadre.unit))
    query = query.where(Cadre.code == code) if code is not None else query.where(
        Cadre.id == cadre_id)
    cadre = session.scalar(query)
    if cadre is None:
        raise NotFound("干部不存在", {"code": "干部不存在"})
    return cadre


def last_month(period: Period, settings: ReportSettings) -> str:
    """Return the period's last month, or the current month if the period is running."""
    return min(period.months[-1], month_label(settings.now, settings.tz))


def window_total(session: Session, cadre_ids: list[int], period: Period,
                 settings: ReportSettings) -> int:
    """Return the valid ratings of the low-sample window ending with the period."""
    months = trailing_months(last_month(period, settings), settings.scheme.low_sample_months)
    counts = read_counts(session, cadre_ids, months, with_tags=False)
    return sum(c.total() for c in counts.values())


def figures_for(session: Session, cadre_ids: list[int], period: Period,
                settings: ReportSettings, window_n: int) -> Figures:
    """Score one official, or the officials together as one roll-up, for a period."""
    merged = Counts()
    for counts in read_counts(session, cadre_ids, period.months).values():
        merged.add(counts)
    return score_counts(merged, settings.scheme, window_n)


def group_views(figures: Figures, settings: ReportSettings) -> list[dict[str, Any]]:
    """Return each group's result; an insufficient group as its n and minimum only."""
    views = []
    for name, group in figures.groups.items():
        rule = settings.scheme.groups[name]
        view = {"group": name, "name": settings.vocabulary.group_name(name), "min_n": rule.min_n,
                **group_document(group)}
        if group.status != OK:
            view["text"] = insufficient_text(group.n, rule.min_n)
        views.append(view)
    return views


def tag_bars(figures: Figures, settings: ReportSettings) -> dict[str, list[dict[str, Any]]]:
    """Return the most frequent positive and negative tags of the ok groups, with counts."""
    totals: dict[str, int] = {}
    for group in figures.groups.values():
        if group.status == OK:
            for tag, count in (group.tags or {}).items():
                totals[tag] = totals.get(tag, 0) + count
    bars: dict[str, list[dict[str, Any]]] = {"positive": [], "negative": []}
    for tag, count in sorted(totals.items(), key=lambda item: (-item[1], item[0])):
        side = bars.get(settings.polarity.get(tag, ""))
        if side is not None and len(side) < settings.top_tags:
            side.append({"tag": tag, "count": count})
    return bars


def flag_views(figures: Figures, window_n: int, settings: ReportSettings) -> list[dict]:
    """Return the raised flags, each with its reason in plain Chinese and its numbers."""
    scheme = settings.scheme
    group = figures.groups.get(scheme.flag_group)
    who = settings.vocabulary.group_name(scheme.flag_group)
    sat = percent(float(group.satisfaction)) if group and group.satisfaction is not None else ""
    dis = (percent(float(group.dissatisfaction))
           if group and group.dissatisfaction is not None else "")
    bars = {name: percent(float(value)) for name, value in (
        ("excellent", scheme.not_excellent_below), ("warning", scheme.warning_talk_above),
        ("reassign", scheme.reassignment_above))}
    reasons = {
        "not_excellent_eligible": f"{who}满意率 {sat}，低于 {bars['excellent']}："
                                  "本期不能评为优秀。",
        "warning_talk": f"{who}不满意率 {dis}，超过 {bars['warning']}："
                        "提示组织部门考虑诫勉谈话。",
        "reassignment_review": f"{who}不满意率 {dis}，超过 {bars['reassign']}："
                               "提示组织部门研究调整岗位。",
        "low_sample": f"近{scheme.low_sample_months}个月有效评价 {window_n} 条，少于 "
                      f"{scheme.low_sample_min} 条：样本偏少，已提醒组织部门。",
    }
    return [{"code": flag, "label": FLAG_LABELS.get(flag, flag), "reason": reasons.get(flag, "")}
            for flag in figures.flags]


def official_report(session: Session, cadre: Cadre, label: str,
                    settings: ReportSettings) -> dict[str, Any]:
    """Return an official's results for a period: headline, groups, tags, trend, standing.

    The official's scheme is the first of the scheme rules to match their unit's category and
    their position level (settings/scheme_rules.yaml), else the default.
    """
    settings = settings.for_official(cadre)
    period = report_period(label, settings)
    window_n = window_total(session, [cadre.id], period, settings)
    figures = figures_for(session, [cadre.id], period, settings, window_n)
    level = TARGET_KINDS[TEAM] if cadre.kind == TEAM else official_level(cadre.level,
                                                                          cadre.position)
    report = {
        "cadre": {"code": cadre.code, "name": cadre.name, "position": cadre.position,
                  "level": level, "unit": {"code": cadre.unit.code, "name": cadre.unit.name,
                                           "category": cadre.unit.category,
                                           "category_name": settings.vocabulary.category_name(
                                               cadre.unit.category)}},
        "period": period.label,
        "scheme": {"id": settings.scheme.id, "version": settings.scheme.version},
        "headline": headline_document(figures.headline),
        "headline_label": HEADLINE_LABELS[figures.headline.kind],
        "groups": group_views(figures, settings),
        "composite": {"status": figures.composite.status},
        "tags": tag_bars(figures, settings),
        "flags": flag_views(figures, window_n, settings),
        "window_n": window_n,
        "trend": trend(session, [cadre.id], last_month(period, settings), settings),
        "standing": peer_standing(session, cadre, level, period, figures.headline, settings),
    }
    if figures.composite.score_100 is not None:
        report["composite"]["score_100"] = float(figures.composite.score_100)
    report["score"] = score_document(
        cadre.code, period.label, settings.scheme, figures.groups, figures.composite,
        figures.flags, pairs_digest({g: sorted_counts(h) for g, h in figures.histograms.items()}),
        None, settings.now.astimezone(settings.tz).isoformat(timespec="seconds"))
    report["score"].update(target_of(cadre))
    return report


def unit_subtree(session: Session, unit: Unit, with_subordinates: bool) -> list[int]:
    """Return a unit's id, and with_subordinates those of every unit below it."""
    ids, frontier = [unit.id], [unit.id]
    while with_subordinates and frontier:
        frontier = list(session.scalars(select(Unit.id).where(Unit.parent_id.in_(frontier))))
        ids.extend(frontier)
    return ids
