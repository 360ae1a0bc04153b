"""Reporting periods: a month, a quarter or a span of days, as half-open UTC intervals.

Reports, snapshots and the ledger's queries must agree on where a period starts and ends, or a
month's usage would be counted twice or not at all; so every period is ``[start, end)`` at
midnight UTC and carries the label the user wrote (``2026-10``, ``2026-Q4``,
``2026-10-01..2026-10-15`` — the end day included). Jalali months (``1405-09``) are built by
``render.calendars`` and carry their own label.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from dctenant.errors import UserError

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_QUARTER = re.compile(r"^(\d{4})-[Qq]([1-4])$")


@dataclass(frozen=True, kw_only=True)
class Period:
    """``[start, end)`` in UTC; ``label`` is how it was asked for and how snapshots are keyed."""

    label: str
    start: dt.datetime
    end: dt.datetime
    calendar: str = "gregorian"
    zone: str = "UTC"  # the time zone whose midnights bound the period and its days

    @property
    def days(self) -> int:
        return (self.end - self.start).days

    @property
    def seconds(self) -> int:
        return int((self.end - self.start).total_seconds())

    @property
    def first_day(self) -> dt.date:
        return self.start.date()

    @property
    def last_day(self) -> dt.date:
        return (self.end - dt.timedelta(days=1)).date()

    def contains(self, other: Period) -> bool:
        return self.start <= other.start and other.end <= self.end

    def day_starts(self) -> tuple[dt.datetime, ...]:
        return tuple(self.start + dt.timedelta(days=i) for i in range(self.days))


def midnight(day: dt.date) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)


def month(year: int, number: int) -> Period:
    start = dt.date(year, number, 1)
    end = dt.date(year + number // 12, number % 12 + 1, 1)
    return Period(label=f"{year:04d}-{number:02d}", start=midnight(start), end=midnight(end))


def months(period: Period) -> tuple[Period, ...]:
    """The Gregorian months wholly inside ``period``, in order."""
    out = []
    day = period.first_day.replace(day=1)
    while True:
        candidate = month(day.year, day.month)
        if candidate.start >= period.end:
            break
        if period.contains(candidate):
            out.append(candidate)
        day = candidate.end.date()
    return tuple(out)


def parse(text: str) -> Period:
    """``YYYY-MM``, ``YYYY-Qn`` or ``FROM..TO`` (ISO days, both included); a ``UserError`` otherwise."""
    text = text.strip()
    where = "--period"
    if m := _MONTH.match(text):
        year, number = int(m[1]), int(m[2])
        if not 1 <= number <= 12:
            raise UserError(f"{text!r}: there is no month {number}", location=where)
        return month(year, number)
    if m := _QUARTER.match(text):
        year, quarter = int(m[1]), int(m[2])
        opening, closing = month(year, 3 * quarter - 2), month(year, 3 * quarter)
        return Period(label=f"{year:04d}-Q{quarter}", start=opening.start, end=closing.end)
    if ".." in text:
        first_text, _, last_text = text.partition("..")
        try:
            first, last = dt.date.fromisoformat(first_text), dt.date.fromisoformat(last_text)
        except ValueError:
            raise UserError(f"{text!r}: write FROM..TO as ISO days, e.g. 2026-10-01..2026-10-15",
                            location=where) from None
        if last < first:
            raise UserError(f"{text!r}: the period ends before it starts", location=where)
        return span(first, last)
    raise UserError(f"{text!r} is not a period; write YYYY-MM, YYYY-Qn or FROM..TO (e.g. 2026-10, 2026-Q4, "
                    "2026-10-01..2026-10-15)", location=where)


def span(first: dt.date, last: dt.date, *, label: str | None = None, calendar: str = "gregorian") -> Period:
    """The days ``first`` to ``last``, both included."""
    return Period(label=label or f"{first.isoformat()}..{last.isoformat()}", start=midnight(first),
                  end=midnight(last + dt.timedelta(days=1)), calendar=calendar)
