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
SCHEMA_VERSION = 2

# Column kinds: how a renderer shows a cell. "amount" cells are in the base unit of the resource
# named by the row's "resource" cell; "bytes" are bytes; "fraction" is 0..1 shown as a percent;
# "coverage" is the fraction of the period with data (shown as a percent, or "no data").
TEXT, NAME, AMOUNT, BYTES, FRACTION, INTEGER, DATE, TIME, DURATION, COVERAGE = (
    "text", "name", "amount", "bytes", "fraction", "integer", "date", "time", "duration", "coverage")
# A row whose "status" cell is this has no data: its empty cells are said as "no data", not a dash.
NO_DATA = "no data"


@dataclass(frozen=True, kw_only=True)
class Column:
    key: str
    title: str
    kind: str = TEXT


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
class Section:
    name: str
    title: str
    columns: tuple[Column, ...]
    rows: tuple[Mapping[str, Any], ...]
    chart: Chart | None = None


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
