"""Periods begin at their first local midnight: a period that has not begun is not published."""

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from backend.scoring import has_begun, parse_period, period_start

SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.mark.parametrize(("label", "start"), [
    ("2026-11", datetime(2026, 11, 1)), ("2026-Q4", datetime(2026, 10, 1)),
    ("2026-H2", datetime(2026, 7, 1)), ("2026", datetime(2026, 1, 1)),
])
def test_each_kind_of_period_begins_on_its_first_local_day(label, start):
    assert period_start(parse_period(label), SHANGHAI) == start.replace(tzinfo=SHANGHAI)


def test_a_period_begins_at_local_midnight_not_at_utc_midnight():
    december = parse_period("2026-12")
    assert not has_begun(december, datetime(2026, 11, 30, 15, 59, tzinfo=UTC), SHANGHAI)
    assert has_begun(december, datetime(2026, 11, 30, 16, 0, tzinfo=UTC), SHANGHAI)


def test_a_period_in_progress_or_past_has_begun_and_a_later_one_has_not():
    now = datetime(2026, 12, 6, 10, 0, tzinfo=SHANGHAI)
    assert all(has_begun(parse_period(p), now, SHANGHAI)
               for p in ("2026-12", "2026-Q4", "2026-H2", "2026", "2025-01"))
    assert not any(has_begun(parse_period(p), now, SHANGHAI)
                   for p in ("2027-01", "2027-Q1", "2027-H1", "2027", "2030-01"))
