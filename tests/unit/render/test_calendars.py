"""Solar Hijri formatting with Persian digits; periods are parsed in ``domain.periods`` (tests there)."""

from __future__ import annotations

import datetime as dt

from dctenant.domain import periods
from dctenant.render import calendars


def test_formatting() -> None:
    day = dt.date(2026, 11, 27)
    assert calendars.format_date(day) == "2026-11-27"
    assert calendars.format_date(day, calendar="jalali") == "1405/09/06"
    assert calendars.format_date(day, calendar="jalali", digits=True) == "۱۴۰۵/۰۹/۰۶"
    at = dt.datetime(2026, 11, 27, 23, 45, tzinfo=dt.UTC)
    assert calendars.format_time(at, calendar="jalali") == "1405/09/06 23:45 UTC"


def test_describe_names_the_days_time_zone() -> None:
    azar = periods.parse("1405-09", calendar="jalali")
    assert calendars.describe(azar, calendar="jalali") == "1405-09 (1405/09/01 – 1405/09/30); days 00:00–24:00 " \
                                                          "Asia/Tehran"
    october = periods.parse("2026-10")
    assert calendars.describe(october) == "2026-10 (2026-10-01 – 2026-10-31); days 00:00–24:00 UTC"
