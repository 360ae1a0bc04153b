"""A report as plain rows of display text, for the CLI to draw as rich tables (rich stays in the CLI)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from dctenant.domain import reports
from dctenant.render.reports import cells


@dataclass(frozen=True, kw_only=True)
class Table:
    title: str
    headers: tuple[str, ...]
    right: tuple[str, ...]  # headers of right-aligned (numeric) columns
    rows: tuple[tuple[str, ...], ...]


def tables(report: reports.Report, *, style: cells.Style) -> tuple[Table, ...]:
    out = []
    for section in report.sections:
        headers = tuple(c.title for c in section.columns)
        right = tuple(c.title for c in section.columns if c.kind in cells.RIGHT)
        rows = tuple(tuple(_name(report, c, row, style) for c in section.columns) for row in section.rows)
        out.append(Table(title=section.title, headers=headers, right=right, rows=rows))
    return tuple(out)


def _name(report: reports.Report, column: reports.Column, row: Mapping[str, Any], style: cells.Style) -> str:
    text = cells.show(column, row, style=style)
    if column.kind == reports.NAME and text in report.names:
        return f"{text} ({report.names[text]['fa']})"
    return text
