"""Working days across 春节 and 国庆 with 调休, and years configuration adds."""

from __future__ import annotations

from datetime import date

import pytest

from backend.errors import InvalidInput
from backend.services.cases.workdays import WorkCalendar, load_calendar


def test_spring_festival_2026_counts_the_adjusted_saturday_and_skips_the_holiday():
    calendar = WorkCalendar()
    # Friday 13 February: Saturday the 14th is a working day (调休), 15-23 are the holiday.
    assert calendar.is_workday(date(2026, 2, 14))
    assert not any(calendar.is_workday(date(2026, 2, d)) for d in range(15, 24))
    assert calendar.add_workdays(date(2026, 2, 13), 5) == date(2026, 2, 27)


def test_national_day_2026_skips_the_week_and_counts_saturday_10_october():
    calendar = WorkCalendar()
    assert calendar.add_workdays(date(2026, 9, 30), 1) == date(2026, 10, 8)
    assert calendar.is_workday(date(2026, 10, 10))  # Saturday, 调休
    assert calendar.add_workdays(date(2026, 9, 30), 5) == date(2026, 10, 13)
    assert calendar.workdays_between(date(2026, 9, 30), date(2026, 10, 13)) == 5


def test_an_ordinary_week_counts_monday_to_friday():
    calendar = WorkCalendar()
    assert calendar.add_workdays(date(2026, 11, 18), 5) == date(2026, 11, 25)
    assert calendar.workdays_between(date(2026, 11, 25), date(2026, 11, 18)) == 0


def test_a_year_nobody_published_falls_back_to_weekdays_and_is_reported():
    calendar = WorkCalendar()
    # 2026-12-30 is a Wednesday: 31 Dec, then 1 Jan 2027 (unknown, a Friday) counts.
    assert calendar.add_workdays(date(2026, 12, 30), 5) == date(2027, 1, 6)
    assert calendar.unknown_years == {2027}
    assert not calendar.knows(2027) and calendar.knows(2026)


def test_configuration_adds_a_year(tmp_path):
    path = tmp_path / "holidays.yaml"
    path.write_text("2027:\n  holidays: [2027-01-01]\n  workdays: [2027-01-09]\n",
                    encoding="utf-8")
    calendar = load_calendar(str(path))
    assert calendar.knows(2027)
    assert not calendar.is_workday(date(2027, 1, 1))
    assert calendar.is_workday(date(2027, 1, 9))  # a Saturday made a working day
    assert calendar.add_workdays(date(2026, 12, 30), 5) == date(2027, 1, 7)
    assert calendar.unknown_years == set()


@pytest.mark.parametrize("text, fragment", [
    ("2027:\n  holidays: [2028-01-01]\n", "不是 2027 年的日期"),
    ("2027:\n  holidays: [2027-01-01]\n  workdays: [2027-01-01]\n", "既是假日又是调休上班日"),
    ("2027:\n  vacations: []\n", "只能有 holidays 与 workdays"),
    ("abc:\n  holidays: []\n", "年份"),
    ("2027:\n  holidays: 2027-01-01\n", "须为日期列表"),
    ("2027:\n  holidays: ['x']\n", "不是 2027 年的日期"),
    ("- 1\n- 2\n", "须为「年份"),
    ("2027: [unclosed\n", "无法读取"),
])
def test_a_bad_calendar_file_is_refused_in_chinese(tmp_path, text, fragment):
    path = tmp_path / "holidays.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InvalidInput) as caught:
        load_calendar(str(path))
    assert fragment in caught.value.message


def test_a_missing_calendar_file_is_refused(tmp_path):
    with pytest.raises(InvalidInput, match="无法读取"):
        load_calendar(str(tmp_path / "none.yaml"))


def test_zero_working_days_is_refused():
    with pytest.raises(InvalidInput):
        WorkCalendar().add_workdays(date(2026, 11, 18), 0)
