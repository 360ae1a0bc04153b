"""Dates for people in Iran: the Solar Hijri (Jalali) calendar and Persian digits.

The regulator's auditors read dates as Solar Hijri (1405/09/06), so reports can show every date
that way; conversion is delegated to ``jdatetime`` through ``domain.periods`` (imported only when
a Jalali date is actually asked for). Times of events stay in UTC in every calendar: the
ledger's clock is UTC, and an auditor comparing a report with the ledger must not have to convert
time zones. Days, on the other hand, are the period's own (``describe`` names their time zone).
"""

from __future__ import annotations

import datetime as dt

from dctenant.domain import periods

GREGORIAN = periods.GREGORIAN
JALALI = periods.JALALI
_DIGITS = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")


def persian_digits(text: str) -> str:
    return text.translate(_DIGITS)


def format_date(day: dt.date, *, calendar: str = GREGORIAN, digits: bool = False) -> str:
    """``2026-11-27`` or ``1405/09/06`` (``۱۴۰۵/۰۹/۰۶`` with Persian digits)."""
    if calendar == JALALI:
        y, m, d = periods.to_jalali(day)
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
    """The period for people: its label, first and last day in the chosen calendar, and its days' zone."""
    first = format_date(period.first_day, calendar=calendar, digits=digits)
    last = format_date(period.last_day, calendar=calendar, digits=digits)
    label = persian_digits(period.label) if digits else period.label
    return f"{label} ({first} – {last}); days 00:00–24:00 {period.zone}"
