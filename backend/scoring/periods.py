"""Calendar periods: months, quarters, half-years and years, as unions of whole months."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, tzinfo

PATTERNS = (
    (re.compile(r"^(\d{4})-(\d{2})$"), "month"),
    (re.compile(r"^(\d{4})-Q([1-4])$"), "quarter"),
    (re.compile(r"^(\d{4})-H([12])$"), "half"),
    (re.compile(r"^(\d{4})$"), "year"),
)
SPAN = {"month": 1, "quarter": 3, "half": 6, "year": 12}


class PeriodError(ValueError):
    """A period string that names no calendar period."""


@dataclass(frozen=True)
class Period:
    """A calendar period: its label, kind and the months it is made of."""

    label: str
    kind: str
    year: int
    first_month: int

    @property
    def months(self) -> list[str]:
        """Return the period's months as "YYYY-MM" labels."""
        return [f"{self.year}-{m:02d}" for m in
                range(self.first_month, self.first_month + SPAN[self.kind])]


def parse_period(label: str) -> Period:
    """Parse "2026-11", "2026-Q4", "2026-H2" or "2026"; raise PeriodError otherwise."""
    for pattern, kind in PATTERNS:
        match = pattern.match(label or "")
        if not match:
            continue
        year = int(match.group(1))
        number = int(match.group(2)) if kind != "year" else 1
        if not 1900 <= year <= 9999 or (kind == "month" and not 1 <= number <= 12):
            break
        first = {"month": number, "quarter": 3 * number - 2, "half": 6 * number - 5,
                 "year": 1}[kind]
        return Period(label=label, kind=kind, year=year, first_month=first)
    raise PeriodError(f"无效的期间：{label!r}（格式：2026-11、2026-Q4、2026-H2 或 2026）")


def period_start(period: Period, tz: tzinfo) -> datetime:
    """Return the first moment of a period in the deployment's time zone."""
    return datetime(period.year, period.first_month, 1, tzinfo=tz)


def has_begun(period: Period, moment: datetime, tz: tzinfo) -> bool:
    """Tell whether a period has begun at a moment (a period in progress has)."""
    return moment >= period_start(period, tz)


def month_label(moment: datetime, tz: tzinfo) -> str:
    """Return the "YYYY-MM" month of a moment in the deployment's time zone."""
    return moment.astimezone(tz).strftime("%Y-%m")


def shift_month(label: str, delta: int) -> str:
    """Return the month `delta` months after (or before) a "YYYY-MM" month."""
    year, month = map(int, label.split("-"))
    index = year * 12 + (month - 1) + delta
    return f"{index // 12}-{index % 12 + 1:02d}"


def trailing_months(last: str, count: int) -> list[str]:
    """Return `count` months ending with `last` (inclusive), oldest first."""
    return [shift_month(last, -k) for k in range(count - 1, -1, -1)]


def current_period(kind: str, moment: datetime, tz: tzinfo) -> str:
    """Return the label of the period of a kind that contains a moment."""
    local = moment.astimezone(tz)
    return {"month": f"{local.year}-{local.month:02d}",
            "quarter": f"{local.year}-Q{(local.month - 1) // 3 + 1}",
            "half": f"{local.year}-H{(local.month - 1) // 6 + 1}",
            "year": f"{local.year}"}[kind]
