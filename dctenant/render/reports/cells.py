"""How one report cell is shown to people (tables and HTML): amounts, percents, dates, durations.

Machine formats keep exact values; this is the single place that turns them into short text,
so the terminal table and the HTML page always agree.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from dctenant.domain import audit_events, reports, resources
from dctenant.render import calendars

RIGHT = frozenset({reports.AMOUNT, reports.BYTES, reports.FRACTION, reports.INTEGER, reports.DURATION,
                   reports.COVERAGE})


@dataclass(frozen=True, kw_only=True)
class Style:
    calendar: str = calendars.GREGORIAN
    digits: bool = False  # Persian digits in dates


def show(column: reports.Column, row: Mapping[str, Any], *, style: Style) -> str:
    value = row.get(column.key)
    kind = column.kind
    if kind == reports.COVERAGE and value is not None:
        share = Decimal(value)
        if share <= 0:
            return reports.NO_DATA
        return "100%" if share >= 1 else f"{share * 100:.1f}% (partial)"
    if value is None or value == "":
        # Missing data is said in words; a dash only where a figure is not applicable (e.g. no envelope).
        if row.get("status") == reports.NO_DATA and kind in RIGHT:
            return reports.NO_DATA
        if row.get("status") == reports.UNKNOWN:
            return reports.UNKNOWN
        if column.empty:
            return column.empty
        return "–" if kind in RIGHT else ""
    if kind == reports.AMOUNT:
        return resources.humanize(str(row["resource"]), Decimal(value))
    if kind == reports.BYTES:
        return bytes_text(Decimal(value))
    if kind == reports.FRACTION:
        return f"{Decimal(value) * 100:.1f}%"
    if kind == reports.DATE:
        import datetime as dt

        return calendars.format_date(dt.date.fromisoformat(value), calendar=style.calendar, digits=style.digits)
    if kind == reports.TIME:
        return calendars.format_time(audit_events.parse_stamp(value), calendar=style.calendar, digits=style.digits)
    if kind == reports.DURATION:
        return duration_text(int(value))
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def bytes_text(value: Decimal) -> str:
    text = resources.humanize(resources.MEMORY, value)
    return text + "B" if text[-1].isalpha() else text + " B"


def duration_text(seconds: int) -> str:
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    parts = [f"{days}d"] if days else []
    if hours or days:
        parts.append(f"{hours}h")
    parts.append(f"{minutes}m")
    return " ".join(parts)


def chart_value(unit: str, value: float) -> str:
    if unit == "fraction":
        return f"{value * 100:.1f}%"
    if unit == "bytes":
        return bytes_text(Decimal(str(value)))
    if unit == "count":
        return f"{value:g}"
    return resources.humanize(unit, Decimal(str(value)))


def provenance(report: reports.Report, *, style: Style) -> list[tuple[str, str]]:
    """The report's header lines: partial first, then period, generation time, data sources, ledger hash."""
    lines = [("PARTIAL", "this report reads a snapshot taken before its period ended; see the warnings")] \
        if report.partial else []
    lines += [("Period", calendars.describe(report.period, calendar=style.calendar, digits=style.digits)),
             ("Generated", calendars.format_time(report.generated_at, calendar=style.calendar, digits=style.digits))]
    lines += [(f"Source: {s.name}", s.detail) for s in report.sources]
    ledger = f"{report.ledger_hash} (event {report.ledger_seq})" if report.ledger_hash else "no events"
    lines.append(("Last ledger event covered", ledger))
    return lines
