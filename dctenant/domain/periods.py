"""Reporting periods: a month, a quarter or a span of days, as half-open intervals of local days.

Reports, snapshots and the ledger's queries must agree on where a period and each of its days
start and end, or a month's usage would be counted twice or not at all (a spike at 23:55 must
count for one day, not two). So every period is ``[start, end)`` between two midnights of its
calendar's time zone, and so is each of its days: ``[00:00, 24:00)``. Gregorian periods use UTC
unless told otherwise; Jalali (Solar Hijri) periods use Asia/Tehran, the regulator's clock. The
label is what the user wrote (``2026-10``, ``2026-Q4``, ``2026-10-01..2026-10-15`` — the end day
included; ``1405-09`` with the Jalali calendar); snapshots are keyed by calendar and instants.

This is where a user's ``--period`` text is parsed (``parse``), so its errors name the option.
Jalali conversion is delegated to ``jdatetime``, imported only when a Jalali period is asked for.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from dctenant.errors import UserError

GREGORIAN = "gregorian"
JALALI = "jalali"
# The time zone whose midnights bound a period's days when none is given.
DEFAULT_ZONES = {GREGORIAN: "UTC", JALALI: "Asia/Tehran"}
# Below this year a Gregorian period is almost certainly a Solar Hijri year typed without --calendar.
_FIRST_GREGORIAN_YEAR = 1900
_JALALI_YEAR_BELOW = 1700

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_QUARTER = re.compile(r"^(\d{4})-[Qq]([1-4])$")
_DAY = re.compile(r"^(\d{4})[-/](\d{2})[-/](\d{2})$")


def tz(zone: str) -> dt.tzinfo:
    """The ``tzinfo`` of an IANA zone name; a ``UserError`` naming ``--timezone`` for an unknown one."""
    if zone == "UTC":
        return dt.UTC
    import zoneinfo

    try:
        return zoneinfo.ZoneInfo(zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise UserError(f"no time zone {zone!r}; write an IANA name such as Asia/Tehran or UTC",
                        location="--timezone") from None


@dataclass(frozen=True, kw_only=True)
class Period:
    """``[start, end)`` (UTC instants at local midnights); ``label`` is how it was asked for."""

    label: str
    start: dt.datetime
    end: dt.datetime
    calendar: str = GREGORIAN
    zone: str = "UTC"  # the time zone whose midnights bound the period and its days

    @property
    def first_day(self) -> dt.date:
        return self.start.astimezone(tz(self.zone)).date()

    @property
    def last_day(self) -> dt.date:
        return (self.end.astimezone(tz(self.zone)) - dt.timedelta(days=1)).date()

    @property
    def days(self) -> int:
        return (self.last_day - self.first_day).days + 1

    @property
    def seconds(self) -> int:
        return int((self.end - self.start).total_seconds())

    def contains(self, other: Period) -> bool:
        return self.start <= other.start and other.end <= self.end

    def day_list(self) -> tuple[dt.date, ...]:
        return tuple(self.first_day + dt.timedelta(days=i) for i in range(self.days))

    def day_bounds(self) -> tuple[tuple[dt.date, dt.datetime, dt.datetime], ...]:
        """Each local day with its ``[00:00, 24:00)`` as UTC instants (23 or 25 hours across a DST change)."""
        return tuple((day, midnight(day, zone=self.zone), midnight(day + dt.timedelta(days=1), zone=self.zone))
                     for day in self.day_list())


def midnight(day: dt.date, *, zone: str = "UTC") -> dt.datetime:
    """The UTC instant of ``day``'s 00:00 in ``zone``."""
    local = dt.datetime(day.year, day.month, day.day, tzinfo=tz(zone))
    return local.astimezone(dt.UTC)


def span(first: dt.date, last: dt.date, *, label: str | None = None, calendar: str = GREGORIAN,
         zone: str | None = None) -> Period:
    """The days ``first`` to ``last`` (Gregorian dates), both included, in ``zone``."""
    zone = zone or DEFAULT_ZONES[calendar]
    return Period(label=label or f"{first.isoformat()}..{last.isoformat()}", start=midnight(first, zone=zone),
                  end=midnight(last + dt.timedelta(days=1), zone=zone), calendar=calendar, zone=zone)


def month(year: int, number: int, *, calendar: str = GREGORIAN, zone: str | None = None) -> Period:
    label = f"{year:04d}-{number:02d}"
    if calendar == JALALI:
        return span(from_jalali(year, number, 1), from_jalali(year, number, jalali_month_length(year, number)),
                    label=label, calendar=JALALI, zone=zone)
    first = dt.date(year, number, 1)
    last = dt.date(year + number // 12, number % 12 + 1, 1) - dt.timedelta(days=1)
    return span(first, last, label=label, zone=zone)


def months(period: Period) -> tuple[Period, ...]:
    """The months of ``period``'s calendar and zone wholly inside it, in order."""
    out = []
    if period.calendar == JALALI:
        year, number, _ = to_jalali(period.first_day)
    else:
        year, number = period.first_day.year, period.first_day.month
    while True:
        candidate = month(year, number, calendar=period.calendar, zone=period.zone)
        if candidate.start >= period.end:
            break
        if period.contains(candidate):
            out.append(candidate)
        year, number = (year + 1, 1) if number == 12 else (year, number + 1)
    return tuple(out)


def parse(text: str, *, calendar: str = GREGORIAN, zone: str | None = None) -> Period:
    """``YYYY-MM``, ``YYYY-Qn`` or ``FROM..TO`` (days, both included) in ``calendar``; a ``UserError`` otherwise.

    With the Jalali calendar a year below 1700 is Solar Hijri (``1405-09``); a later year is read
    as Gregorian, with Tehran days. A Gregorian year below 1900 is refused: it is a Solar Hijri
    year typed without ``--calendar jalali``, and would otherwise report on AD dates silently.
    """
    text = text.strip()
    where = "--period"
    if calendar not in DEFAULT_ZONES:
        raise UserError(f"no calendar {calendar!r}; choose gregorian or jalali", location="--calendar")
    zone = zone or DEFAULT_ZONES[calendar]
    tz(zone)
    year_text = text[:4]
    if calendar == JALALI and year_text.isdigit() and int(year_text) < _JALALI_YEAR_BELOW:
        return _parse_jalali(text, zone=zone)
    if year_text.isdigit() and int(year_text) < _FIRST_GREGORIAN_YEAR:
        raise UserError(f"{text!r}: Gregorian year {int(year_text)} is before {_FIRST_GREGORIAN_YEAR}; for a Solar "
                        f"Hijri period add --calendar jalali (e.g. --calendar jalali --period 1405-08)",
                        location=where)
    # A Gregorian period asked for under --calendar jalali keeps the Jalali zone (its days are Tehran days).
    if m := _MONTH.match(text):
        year, number = int(m[1]), int(m[2])
        if not 1 <= number <= 12:
            raise UserError(f"{text!r}: there is no month {number}", location=where)
        return month(year, number, zone=zone)
    if m := _QUARTER.match(text):
        year, quarter = int(m[1]), int(m[2])
        opening, closing = month(year, 3 * quarter - 2, zone=zone), month(year, 3 * quarter, zone=zone)
        return span(opening.first_day, closing.last_day, label=f"{year:04d}-Q{quarter}", zone=zone)
    if ".." in text:
        first_text, _, last_text = text.partition("..")
        try:
            first, last = dt.date.fromisoformat(first_text), dt.date.fromisoformat(last_text)
        except ValueError:
            raise UserError(f"{text!r}: write FROM..TO as ISO days, e.g. 2026-10-01..2026-10-15",
                            location=where) from None
        if last < first:
            raise UserError(f"{text!r}: the period ends before it starts", location=where)
        if last.year < _FIRST_GREGORIAN_YEAR:
            raise UserError(f"{text!r}: Gregorian year {last.year} is before {_FIRST_GREGORIAN_YEAR}; for Solar "
                            "Hijri days add --calendar jalali", location=where)
        return span(first, last, zone=zone)
    raise UserError(f"{text!r} is not a period; write YYYY-MM, YYYY-Qn or FROM..TO (e.g. 2026-10, 2026-Q4, "
                    "2026-10-01..2026-10-15)", location=where)


def _parse_jalali(text: str, *, zone: str) -> Period:
    where = "--period"
    if m := _MONTH.match(text):
        year, number = int(m[1]), int(m[2])
        if not 1 <= number <= 12:
            raise UserError(f"{text!r}: there is no Jalali month {number}", location=where)
        return month(year, number, calendar=JALALI, zone=zone)
    if m := _QUARTER.match(text):
        year, quarter = int(m[1]), int(m[2])
        last_month = 3 * quarter
        return span(from_jalali(year, last_month - 2, 1),
                    from_jalali(year, last_month, jalali_month_length(year, last_month)),
                    label=f"{year:04d}-Q{quarter}", calendar=JALALI, zone=zone)
    if ".." in text:
        first_text, _, last_text = text.partition("..")
        first, last = _jalali_day(first_text), _jalali_day(last_text)
        if last < first:
            raise UserError(f"{text!r}: the period ends before it starts", location=where)
        return span(first, last, label=text.replace("/", "-"), calendar=JALALI, zone=zone)
    raise UserError(f"{text!r} is not a Jalali period; write YYYY-MM, YYYY-Qn or FROM..TO "
                    "(e.g. 1405-09, 1405-Q3, 1405-09-01..1405-09-15)", location=where)


def _jalali_day(text: str) -> dt.date:
    m = _DAY.match(text.strip())
    try:
        if not m:
            raise ValueError(text)
        return from_jalali(int(m[1]), int(m[2]), int(m[3]))
    except ValueError:
        raise UserError(f"{text!r} is not a Jalali day; write YYYY-MM-DD, e.g. 1405-09-06",
                        location="--period") from None


def to_jalali(day: dt.date) -> tuple[int, int, int]:
    """(year, month, day) in the Solar Hijri calendar."""
    import jdatetime  # type: ignore[import-untyped]

    j = jdatetime.date.fromgregorian(date=day)
    return (j.year, j.month, j.day)


def from_jalali(year: int, number: int, day: int) -> dt.date:
    """The Gregorian day of a Solar Hijri date; ``ValueError`` when there is no such day."""
    import jdatetime

    result: dt.date = jdatetime.date(year, number, day).togregorian()
    return result


def jalali_month_length(year: int, number: int) -> int:
    import jdatetime

    if number <= 6:
        return 31
    if number <= 11:
        return 30
    return 30 if jdatetime.date(year, 1, 1).isleap() else 29
