"""An auditor's report as a value: provenance plus named sections of rows.

Every report kind (allocation, usage, traffic, violations, licences) is built as this one shape,
so that each output format (table, CSV, JSON, HTML) is written once and cannot disagree with
the others. Cells hold exact, machine-readable values (decimal strings in base units, ISO
dates); the column's ``kind`` tells a renderer how to show them to people.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from dctenant.domain import periods

KINDS = ("allocation", "usage", "traffic", "violations", "licences")
# Planning reports (docs/planning.md): built from a forecast or a reclaim, not from a period's ledger and snapshots.
PLANNING_KINDS = ("forecast", "reclaim")
SCHEMA_VERSION = 2

# Column kinds: how a renderer shows a cell. "amount" cells are in the base unit of the resource
# named by the row's "resource" cell; "bytes" are bytes; "fraction" is 0..1 shown as a percent;
# "coverage" is the fraction of the period with data (shown as a percent, or "no data").
TEXT, NAME, AMOUNT, BYTES, FRACTION, INTEGER, DATE, TIME, DURATION, COVERAGE = (
    "text", "name", "amount", "bytes", "fraction", "integer", "date", "time", "duration", "coverage")
# A row whose "status" cell is this has no data: its empty cells are said as "no data", not a dash.
NO_DATA = "no data"
# A row whose "status" cell is this could not be computed (e.g. too little history): its empty cells say so.
UNKNOWN = "unknown"


@dataclass(frozen=True, kw_only=True)
class Column:
    key: str
    title: str
    kind: str = TEXT
    empty: str = ""  # what an empty cell means, in words (e.g. "beyond horizon"); "" shows a dash or nothing


@dataclass(frozen=True, kw_only=True)
class Bar:
    """One bar of a chart: a label (possibly Persian) and a value in the chart's unit."""

    label: str
    value: float
    note: str = ""


@dataclass(frozen=True, kw_only=True)
class Chart:
    title: str
    unit: str  # "fraction" (drawn as percent), "bytes" or a resource key
    bars: tuple[Bar, ...]


@dataclass(frozen=True, kw_only=True)
class Runway:
    """A runway chart: the daily history, the fitted trend with its interval band, the limit, and the
    day the trend (and the band's edges) reach it. Values are in the base unit of ``unit`` (a resource key)."""

    title: str
    unit: str
    today: dt.date
    history: tuple[tuple[dt.date, float], ...]
    band: tuple[tuple[dt.date, float, float, float], ...]  # day, low, expected, high; empty without a trend
    limit: float
    crossing: dt.date | None  # None: not within the horizon
    earliest: dt.date | None
    latest: dt.date | None
    end: dt.date  # the horizon's last day
    note: str = ""  # why there is no trend, in words


@dataclass(frozen=True, kw_only=True)
class Need:
    """One tenant's envelope and observed need (``None``: no data) in an envelope-vs-need chart."""

    label: str  # tenant id (its Persian name is looked up in the report's names)
    envelope: float
    need: float | None


@dataclass(frozen=True, kw_only=True)
class NeedChart:
    title: str
    unit: str  # a resource key
    needs: tuple[Need, ...]


@dataclass(frozen=True, kw_only=True)
class Section:
    name: str
    title: str
    columns: tuple[Column, ...]
    rows: tuple[Mapping[str, Any], ...]
    chart: Chart | None = None
    plots: tuple[Runway | NeedChart, ...] = ()  # the planning reports' charts (render/reports/plots.py)


@dataclass(frozen=True, kw_only=True)
class Source:
    """Where data came from: ``quotas``, ``ledger``, ``snapshot`` … and the detail that pins it down."""

    name: str
    detail: str


@dataclass(frozen=True, kw_only=True)
class Report:
    kind: str
    title: str
    period: periods.Period
    generated_at: dt.datetime
    sources: tuple[Source, ...]
    ledger_hash: str | None  # the hash of the last ledger event the report covered
    ledger_seq: int | None
    sections: tuple[Section, ...]
    names: Mapping[str, Mapping[str, str]] = field(default_factory=dict)  # tenant → {"en", "fa"}
    warnings: tuple[str, ...] = ()
    # True when a snapshot it read was taken before its period ended: the figures stop early.
    partial: bool = False
    # What recomputing the report needs, machine-readable: quotas path, tenant filter, the ledger
    # position covered, and each snapshot's id, version, digest and query provenance.
    inputs: Mapping[str, Any] = field(default_factory=dict)

    def section(self, name: str) -> Section:
        for s in self.sections:
            if s.name == name:
                return s
        raise KeyError(name)
