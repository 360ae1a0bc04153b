"""Periods as half-open intervals of local days: Gregorian (UTC), Jalali (Tehran), and bad input."""

from __future__ import annotations

import datetime as dt

import pytest

from dctenant.domain import periods
from dctenant.errors import UserError


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=dt.UTC)


@pytest.mark.parametrize(("gregorian", "jalali"), [
    (dt.date(2024, 3, 20), (1403, 1, 1)),  # Nowruz 1403
    (dt.date(2025, 3, 21), (1404, 1, 1)),  # Nowruz 1404
    (dt.date(2025, 3, 20), (1403, 12, 30)),  # 1403 is leap: 30 Esfand exists
    (dt.date(2026, 3, 20), (1404, 12, 29)),  # 1404 is not: 29 Esfand is its last day
    (dt.date(2026, 11, 27), (1405, 9, 6)),
])
def test_known_dates(gregorian: dt.date, jalali: tuple[int, int, int]) -> None:
    assert periods.to_jalali(gregorian) == jalali
    assert periods.from_jalali(*jalali) == gregorian


def test_leap_years() -> None:
    assert periods.jalali_month_length(1403, 12) == 30
    assert periods.jalali_month_length(1404, 12) == 29
    with pytest.raises(ValueError):
        periods.from_jalali(1404, 12, 30)


def test_gregorian_month_is_utc_midnights() -> None:
    october = periods.parse("2026-10")
    assert (october.start, october.end, october.days) == (utc(2026, 10, 1), utc(2026, 11, 1), 31)
    first, last = october.day_bounds()[0], october.day_bounds()[-1]
    assert first == (dt.date(2026, 10, 1), utc(2026, 10, 1), utc(2026, 10, 2))
    assert last == (dt.date(2026, 10, 31), utc(2026, 10, 31), utc(2026, 11, 1))


def test_jalali_periods_are_tehran_days() -> None:
    azar = periods.parse("1405-09", calendar="jalali")
    assert (azar.first_day, azar.last_day, azar.days) == (dt.date(2026, 11, 22), dt.date(2026, 12, 21), 30)
    assert azar.label == "1405-09" and azar.calendar == "jalali" and azar.zone == "Asia/Tehran"
    # Tehran is UTC+03:30 all year (no daylight saving since 2022): 1 Azar 00:00 is 21 November 20:30 UTC.
    assert (azar.start, azar.end) == (utc(2026, 11, 21, 20, 30), utc(2026, 12, 21, 20, 30))
    assert azar.day_bounds()[1] == (dt.date(2026, 11, 23), utc(2026, 11, 22, 20, 30), utc(2026, 11, 23, 20, 30))
    esfand = periods.parse("1403-12", calendar="jalali")
    assert esfand.days == 30 and esfand.last_day == dt.date(2025, 3, 20)
    autumn = periods.parse("1405-Q3", calendar="jalali")
    assert (autumn.first_day, autumn.last_day) == (dt.date(2026, 9, 23), dt.date(2026, 12, 21))
    assert [m.label for m in periods.months(autumn)] == ["1405-07", "1405-08", "1405-09"]
    days = periods.parse("1405-09-01..1405-09-06", calendar="jalali")
    assert (days.first_day, days.last_day) == (dt.date(2026, 11, 22), dt.date(2026, 11, 27))
    # Gregorian years still mean Gregorian periods in the Jalali calendar, with Tehran days.
    october = periods.parse("2026-10", calendar="jalali")
    assert (october.first_day, october.start, october.calendar) == (dt.date(2026, 10, 1), utc(2026, 9, 30, 20, 30),
                                                                    "gregorian")


def test_zone_is_configurable() -> None:
    azar = periods.parse("1405-09", calendar="jalali", zone="UTC")
    assert azar.start == utc(2026, 11, 22) and azar.zone == "UTC"
    with pytest.raises(UserError, match="no time zone") as caught:
        periods.parse("2026-10", zone="Mars/Olympus")
    assert caught.value.location == "--timezone"


@pytest.mark.parametrize("text", ["1405-08", "1405-08-10..1405-08-13", "1899-12", "1405-Q3"])
def test_a_gregorian_year_below_1900_is_refused_with_the_fix(text: str) -> None:
    with pytest.raises(UserError, match="add --calendar jalali") as caught:
        periods.parse(text)
    assert caught.value.location == "--period"


def test_1900_is_accepted() -> None:
    assert periods.parse("1900-01").start == utc(1900, 1, 1)


@pytest.mark.parametrize("text", ["1405-13", "1404-12-30..1405-01-01", "1405-09-06..1405-09-01", "1405/9"])
def test_bad_jalali_periods(text: str) -> None:
    with pytest.raises(UserError):
        periods.parse(text, calendar="jalali")


def test_quarter_months() -> None:
    q4 = periods.parse("2026-Q4")
    assert [m.label for m in periods.months(q4)] == ["2026-10", "2026-11", "2026-12"]
    assert q4.end == utc(2027, 1, 1)
