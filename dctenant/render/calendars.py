"""Dates for people in Iran: the Solar Hijri (Jalali) calendar and Persian digits.

The regulator's auditors read dates as Solar Hijri (1405/09/06), so reports can show every date
that way; conversion is delegated to ``jdatetime`` (imported only here, and only when a Jalali
date is actually asked for). Times stay in UTC in every calendar: the ledger's clock is UTC,
and an auditor comparing a report with the ledger must not have to convert time zones.

Jalali periods: with ``--calendar jalali``, a period whose year is below 1700 is read as Solar
Hijri — ``1405-09`` (Azar 1405), ``1405-Q3`` (Mehr to Azar), ``1405-09-01..1405-09-15`` — and
becomes the same half-open UTC interval of Gregorian days as any other period.
"""

from __future__ import annotations

import datetime as dt
import re

from dctenant.domain import periods
from dctenant.errors import UserError

GREGORIAN = "gregorian"
JALALI = "jalali"
CALENDARS = (GREGORIAN, JALALI)
MONTHS = ("فروردین", "اردیبهشت", "خرداد", "تیر", "مرداد", "شهریور", "مهر", "آبان", "آذر", "دی", "بهمن", "اسفند")
_DIGITS = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")
_JALALI_YEAR_BELOW = 1700


def persian_digits(text: str) -> str:
    return text.translate(_DIGITS)


def to_jalali(day: dt.date) -> tuple[int, int, int]:
    """(year, month, day) in the Solar Hijri calendar."""
    import jdatetime  # type: ignore[import-untyped]

    j = jdatetime.date.fromgregorian(date=day)
    return (j.year, j.month, j.day)


def from_jalali(year: int, month: int, day: int) -> dt.date:
    """The Gregorian day of a Solar Hijri date; ``ValueError`` when there is no such day."""
    import jdatetime

    result: dt.date = jdatetime.date(year, month, day).togregorian()
    return result


def month_length(year: int, month: int) -> int:
    import jdatetime

    if month <= 6:
        return 31
    if month <= 11:
        return 30
    return 30 if jdatetime.date(year, 1, 1).isleap() else 29


def format_date(day: dt.date, *, calendar: str = GREGORIAN, digits: bool = False) -> str:
    """``2026-11-27`` or ``1405/09/06`` (``۱۴۰۵/۰۹/۰۶`` with Persian digits)."""
    if calendar == JALALI:
        y, m, d = to_jalali(day)
        text = f"{y:04d}/{m:02d}/{d:02d}"
    else:
        text = day.isoformat()
    return persian_digits(text) if digits else text


def format_time(at: dt.datetime, *, calendar: str = GREGORIAN, digits: bool = False) -> str:
    """A UTC time to the minute: ``2026-11-27 08:00 UTC`` or ``1405/09/06 08:00 UTC``."""
    utc = at.astimezone(dt.UTC)
    text = f"{format_date(utc.date(), calendar=calendar)} {utc:%H:%M} UTC"
    return persian_digits(text) if digits else text


def describe(period: periods.Period, *, calendar: str = GREGORIAN, digits: bool = False) -> str:
    """The period for people: its label and its first and last day in the chosen calendar."""
    first = format_date(period.first_day, calendar=calendar, digits=digits)
    last = format_date(period.last_day, calendar=calendar, digits=digits)
    label = persian_digits(period.label) if digits else period.label
    return f"{label} ({first} – {last})"


_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_QUARTER = re.compile(r"^(\d{4})-[Qq]([1-4])$")
_DAY = re.compile(r"^(\d{4})[-/](\d{2})[-/](\d{2})$")


def parse_period(text: str, *, calendar: str = GREGORIAN) -> periods.Period:
    """A period as ``periods.parse`` reads it; in the Jalali calendar, Solar Hijri years are accepted too."""
    text = text.strip()
    if calendar != JALALI or not text[:4].isdigit() or int(text[:4]) >= _JALALI_YEAR_BELOW:
        return periods.parse(text)
    where = "--period"
    if m := _MONTH.match(text):
        year, month = int(m[1]), int(m[2])
        if not 1 <= month <= 12:
            raise UserError(f"{text!r}: there is no Jalali month {month}", location=where)
        return periods.span(from_jalali(year, month, 1), from_jalali(year, month, month_length(year, month)),
                            label=f"{year:04d}-{month:02d}", calendar=JALALI)
    if m := _QUARTER.match(text):
        year, quarter = int(m[1]), int(m[2])
        last_month = 3 * quarter
        return periods.span(from_jalali(year, last_month - 2, 1),
                            from_jalali(year, last_month, month_length(year, last_month)),
                            label=f"{year:04d}-Q{quarter}", calendar=JALALI)
    if ".." in text:
        first_text, _, last_text = text.partition("..")
        first, last = _jalali_day(first_text, where), _jalali_day(last_text, where)
        if last < first:
            raise UserError(f"{text!r}: the period ends before it starts", location=where)
        return periods.span(first, last, label=text.replace("/", "-"), calendar=JALALI)
    raise UserError(f"{text!r} is not a Jalali period; write YYYY-MM, YYYY-Qn or FROM..TO "
                    "(e.g. 1405-09, 1405-Q3, 1405-09-01..1405-09-15)", location=where)


def _jalali_day(text: str, where: str) -> dt.date:
    m = _DAY.match(text.strip())
    try:
        if not m:
            raise ValueError(text)
        return from_jalali(int(m[1]), int(m[2]), int(m[3]))
    except ValueError:
        raise UserError(f"{text!r} is not a Jalali day; write YYYY-MM-DD, e.g. 1405-09-06", location=where) from None
