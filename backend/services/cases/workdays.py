"""Working days on the Chinese calendar: public holidays and adjusted working days (调休).

The State Council publishes each year's table late in the year before. `chinesecalendar`
holds the published years; a YAML file named by `CASE_CALENDAR_FILE` adds years it does not
know yet (or corrects one), in this form:

    2027:
      holidays: [2027-01-01, 2027-02-06, ...]   # 放假（含周末调整的休息日）
      workdays: [2027-02-20, ...]               # 调休上班的周末

A year neither source knows counts Monday to Friday and is reported by `unknown_years`, so
the console can warn that deadlines in that year ignore its holidays.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import chinese_calendar
import yaml

from backend.errors import InvalidInput


@dataclass(frozen=True)
class YearTable:
    """One year's holidays and adjusted working days from configuration."""

    holidays: frozenset[date] = frozenset()
    workdays: frozenset[date] = frozenset()


@dataclass
class WorkCalendar:
    """Answers whether a date is a working day and counts working days forward."""

    extra: Mapping[int, YearTable] = field(default_factory=dict)
    unknown_years: set[int] = field(default_factory=set)

    def knows(self, year: int) -> bool:
        """Return whether the year's official table is known (library or configuration)."""
        return year in self.extra or _library_knows(year)

    def is_workday(self, day: date) -> bool:
        """Return whether day is a working day."""
        table = self.extra.get(day.year)
        if table is not None:
            if day in table.workdays:
                return True
            return day.weekday() < 5 and day not in table.holidays
        if _library_knows(day.year):
            return chinese_calendar.is_workday(day)
        self.unknown_years.add(day.year)
        return day.weekday() < 5

    def add_workdays(self, start: date, n: int) -> date:
        """Return the n-th working day after start (start itself never counts)."""
        if n < 1:
            raise InvalidInput("期限须至少为 1 个工作日")
        day, left = start, n
        while left:
            day += timedelta(days=1)
            if self.is_workday(day):
                left -= 1
        return day

    def workdays_between(self, start: date, end: date) -> int:
        """Count working days after start up to and including end (0 when end <= start)."""
        count, day = 0, start
        while day < end:
            day += timedelta(days=1)
            count += self.is_workday(day)
        return count


# The years the package's official tables cover (it refuses any other date).
_LIBRARY_YEARS = range(min(day.year for day in chinese_calendar.holidays),
                       max(day.year for day in chinese_calendar.holidays) + 1)


def _library_knows(year: int) -> bool:
    return year in _LIBRARY_YEARS


def load_calendar(path: str | None) -> WorkCalendar:
    """Build the calendar, adding the years of the YAML file at path (when given)."""
    if not path:
        return WorkCalendar()
    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise InvalidInput(f"节假日文件 {path} 无法读取：{exc}") from exc
    if not isinstance(raw, Mapping):
        raise InvalidInput(f"节假日文件 {path} 须为「年份: {{holidays, workdays}}」的映射")
    return WorkCalendar({year: parse_year(path, year, table) for year, table in raw.items()})


def parse_year(path: str, year: object, table: object) -> YearTable:
    """Check one year of the file: only its own dates, never both a holiday and a workday."""
    if not isinstance(year, int) or not 2000 <= year <= 2100:
        raise InvalidInput(f"节假日文件 {path}：年份 {year!r} 无效")
    if not isinstance(table, Mapping) or set(table) - {"holidays", "workdays"}:
        raise InvalidInput(f"节假日文件 {path}：{year} 年只能有 holidays 与 workdays 两项")
    holidays = _dates(path, year, "holidays", table.get("holidays") or [])
    workdays = _dates(path, year, "workdays", table.get("workdays") or [])
    if both := holidays & workdays:
        raise InvalidInput(f"节假日文件 {path}：{min(both)} 既是假日又是调休上班日")
    return YearTable(holidays, workdays)


def _dates(path: str, year: int, name: str, values: Iterable[object]) -> frozenset[date]:
    if isinstance(values, str | bytes) or not isinstance(values, Iterable):
        raise InvalidInput(f"节假日文件 {path}：{year}.{name} 须为日期列表")
    out = set()
    for value in values:
        if type(value) is not date or value.year != year:
            raise InvalidInput(
                f"节假日文件 {path}：{year}.{name} 中的 {value!r} 不是 {year} 年的日期")
        out.add(value)
    return frozenset(out)
