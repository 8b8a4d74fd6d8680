"""The trend of a headline over the last six months and four quarters, with its interval band."""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.models import RatingCount
from backend.scoring import OK, headline_document, shift_month, trailing_months
from backend.services.reports.figures import Counts, score_counts

if TYPE_CHECKING:  # only the settings' type: results imports this module
    from backend.services.reports.results import ReportSettings

MONTHS, QUARTERS = 6, 4


def quarter_of(month: str) -> str:
    """Return the quarter label of a "YYYY-MM" month."""
    year, number = month.split("-")
    return f"{year}-Q{(int(number) - 1) // 3 + 1}"


def quarter_months(label: str) -> list[str]:
    """Return the three months of a quarter label."""
    year, number = label.split("-Q")
    first = 3 * int(number) - 2
    return [f"{year}-{m:02d}" for m in range(first, first + 3)]


def last_quarters(month: str, count: int = QUARTERS) -> list[str]:
    """Return `count` quarters ending with the one holding a month, oldest first."""
    first_month = quarter_months(quarter_of(month))[0]
    return [quarter_of(shift_month(first_month, -3 * k)) for k in range(count - 1, -1, -1)]


def monthly_counts(session: Session, cadre_ids: list[int],
                   months: list[str]) -> dict[str, Counts]:
    """Return the valid-rating histograms per month, summed over the officials."""
    found: dict[str, Counts] = defaultdict(Counts)
    rows = session.execute(
        select(RatingCount.month, RatingCount.rater_group, RatingCount.score,
               func.sum(RatingCount.count))
        .where(RatingCount.cadre_id.in_(cadre_ids), RatingCount.month.in_(months))
        .group_by(RatingCount.month, RatingCount.rater_group, RatingCount.score))
    for month, group, score, count in rows:
        hist = found[month].histograms[group]
        hist[int(score)] = hist.get(int(score), 0) + int(count or 0)
    return found


def point(label: str, months: list[str], by_month: dict[str, Counts],
          settings: ReportSettings) -> dict[str, Any]:
    """Score one period of the trend: its headline, n and the index's interval band."""
    merged = Counts()
    for month in months:
        if month in by_month:
            merged.add(by_month[month])
    figures = score_counts(merged, settings.scheme, settings.scheme.low_sample_min)
    recipient = figures.groups.get("recipient")
    band = None
    if (figures.headline.kind == "recipient_index" and recipient is not None
            and recipient.status == OK and recipient.ci95 is not None):
        band = [round(10 * recipient.ci95[0], 2), round(10 * recipient.ci95[1], 2)]
    return {"period": label, "headline": headline_document(figures.headline),
            "n": merged.total(), "band": band}


def trend(session: Session, cadre_ids: list[int], last_month: str,
          settings: ReportSettings) -> dict[str, list[dict[str, Any]]]:
    """Return the headline of each of the last six months and four quarters."""
    months = trailing_months(last_month, MONTHS)
    quarters = last_quarters(last_month)
    needed = sorted({*months, *(m for q in quarters for m in quarter_months(q))})
    by_month = monthly_counts(session, cadre_ids, needed)
    return {"months": [point(m, [m], by_month, settings) for m in months],
            "quarters": [point(q, quarter_months(q), by_month, settings) for q in quarters]}
