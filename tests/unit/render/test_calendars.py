"""Solar Hijri conversion on known dates, leap years, Jalali periods and Persian digits."""

from __future__ import annotations

import datetime as dt

import pytest

from dctenant.errors import UserError
from dctenant.render import calendars


@pytest.mark.parametrize(("gregorian", "jalali"), [
    (dt.date(2024, 3, 20), (1403, 1, 1)),  # Nowruz 1403
    (dt.date(2025, 3, 21), (1404, 1, 1)),  # Nowruz 1404
    (dt.date(2025, 3, 20), (1403, 12, 30)),  # 1403 is leap: 30 Esfand exists
    (dt.date(2026, 3, 20), (1404, 12, 29)),  # 1404 is not: 29 Esfand is its last day
    (dt.date(2026, 11, 27), (1405, 9, 6)),
])
def test_known_dates(gregorian: dt.date, jalali: tuple[int, int, int]) -> None:
    assert calendars.to_jalali(gregorian) == jalali
    assert calendars.from_jalali(*jalali) == gregorian


def test_leap_years() -> None:
    assert calendars.month_length(1403, 12) == 30
    assert calendars.month_length(1404, 12) == 29
    with pytest.raises(ValueError):
        calendars.from_jalali(1404, 12, 30)


def test_formatting() -> None:
    day = dt.date(2026, 11, 27)
    assert calendars.format_date(day) == "2026-11-27"
    assert calendars.format_date(day, calendar="jalali") == "1405/09/06"
    assert calendars.format_date(day, calendar="jalali", digits=True) == "۱۴۰۵/۰۹/۰۶"
    at = dt.datetime(2026, 11, 27, 23, 45, tzinfo=dt.UTC)
    assert calendars.format_time(at, calendar="jalali") == "1405/09/06 23:45 UTC"


def test_jalali_periods() -> None:
    azar = calendars.parse_period("1405-09", calendar="jalali")
    assert (azar.first_day, azar.last_day, azar.days) == (dt.date(2026, 11, 22), dt.date(2026, 12, 21), 30)
    assert azar.label == "1405-09" and azar.calendar == "jalali"
    esfand = calendars.parse_period("1403-12", calendar="jalali")
    assert esfand.days == 30 and esfand.last_day == dt.date(2025, 3, 20)
    autumn = calendars.parse_period("1405-Q3", calendar="jalali")
    assert (autumn.first_day, autumn.last_day) == (dt.date(2026, 9, 23), dt.date(2026, 12, 21))
    days = calendars.parse_period("1405-09-01..1405-09-06", calendar="jalali")
    assert (days.first_day, days.last_day) == (dt.date(2026, 11, 22), dt.date(2026, 11, 27))
    # Gregorian years still mean Gregorian periods in the Jalali calendar.
    assert calendars.parse_period("2026-10", calendar="jalali").first_day == dt.date(2026, 10, 1)
    assert calendars.describe(azar, calendar="jalali") == "1405-09 (1405/09/01 – 1405/09/30)"


@pytest.mark.parametrize("text", ["1405-13", "1404-12-30..1405-01-01", "1405-09-06..1405-09-01", "1405/9"])
def test_bad_jalali_periods(text: str) -> None:
    with pytest.raises(UserError):
        calendars.parse_period(text, calendar="jalali")
