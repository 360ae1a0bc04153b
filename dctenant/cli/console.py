"""All of dctenant's terminal output: rich tables on a terminal, JSON or YAML for machines.

Results go to stdout and diagnostics to stderr. ``emit`` serialises the very result object a
table shows (its ``as_dict()``), so the formats cannot drift apart.

Tables fit the terminal (80 columns and up): a table too wide for it is shown as several narrower
tables that each repeat its key columns (the tenant), instead of rich squeezing columns to nothing.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from decimal import Decimal
from typing import Any, Protocol

from rich.console import Console, ConsoleOptions, RenderResult
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

from dctenant.domain import resources

stdout = Console(highlight=False, soft_wrap=False)
stderr = Console(stderr=True, highlight=False)


class Result(Protocol):
    def as_dict(self) -> dict[str, Any]: ...


def emit(result: Result, *, output: str, table: Callable[[], None]) -> None:
    """Print ``result`` as JSON, YAML, or (by calling ``table``) as rich tables."""
    if output == "json":
        sys.stdout.write(json.dumps(result.as_dict(), ensure_ascii=False, indent=2, sort_keys=False) + "\n")
    elif output == "yaml":
        import yaml

        sys.stdout.write(yaml.safe_dump(result.as_dict(), allow_unicode=True, sort_keys=False))
    else:
        table()


def amount(key: str, value: Decimal) -> str:
    """A resource amount for a table: short and approximate (``204.8Ti``); JSON/YAML stay exact."""
    return resources.humanize(key, value)


# A table with n columns spends 3n + 1 characters on its borders and padding (box edges, one space each side).
BORDER_PER_COLUMN = 3


class FittingTable(Table):
    """A rich table that never squeezes a column below its widest cell.

    When the columns do not fit the console, it renders as several tables, each with the ``keys``
    columns (by default those that identify a row) followed by as many of the others as fit; only the ``wrap``
    columns (free text such as a reason) may wrap, at word boundaries.
    """

    def __init__(self, *args: Any, keys: tuple[str, ...] = (), wrap: tuple[str, ...] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.keys = keys
        self.wrap = wrap

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        needed = [self._needed(console, i) for i in range(len(self.columns))]
        parts = self.parts(needed, width=options.max_width)
        if len(parts) == 1:
            for column, width in zip(self.columns, needed, strict=True):
                column.min_width = width
            yield from super().__rich_console__(console, options)
            return
        for number, part in enumerate(parts, start=1):
            yield self._subtable(part, needed, width=options.max_width, suffix=f" ({number}/{len(parts)})")

    def parts(self, needed: list[int], *, width: int) -> list[list[int]]:
        """Column indexes of each table to print: one list when the whole table fits ``width``."""
        if self._width(needed) <= width:
            return [list(range(len(self.columns)))]
        keys = self.identifying()
        widest = max((needed[i] for i in range(len(needed)) if i not in keys), default=0)
        if self._width([*(needed[k] for k in keys), widest]) > width:
            keys = keys[:1]  # identifiers this wide would leave no room for the values
        parts: list[list[int]] = []
        current: list[int] = []
        for i in range(len(self.columns)):
            if i in keys:
                continue
            if current and self._width([needed[k] for k in keys + current + [i]]) > width:
                parts.append(keys + current)
                current = []
            current.append(i)
        parts.append(keys + current)
        return parts

    def identifying(self) -> list[int]:
        """The key columns: those named, else the first and the fewest text columns that tell the rows apart."""
        if self.keys:
            return [i for i, c in enumerate(self.columns) if c.header in self.keys] or [0]
        texts = [[str(cell) for cell in column.cells] for column in self.columns]
        keys = [0]  # the first column is what a reader scans down, even when it repeats
        distinct = len(set(texts[0]))
        for i, column in enumerate(self.columns):
            if i == 0 or distinct == len(self.rows):
                continue
            if column.justify == "right" or i in self.wrap_indexes():
                continue
            seen = len(set(zip(*(texts[k] for k in [*keys, i]), strict=True)))
            if seen > distinct:
                keys.append(i)
                distinct = seen
        return keys

    def wrap_indexes(self) -> list[int]:
        return [i for i, c in enumerate(self.columns) if c.header in self.wrap]

    def _needed(self, console: Console, index: int) -> int:
        """The narrowest a column may be: its widest cell, or its longest word if it may wrap."""
        column = self.columns[index]
        options = console.options.update(max_width=10_000)
        measures = [Measurement.get(console, options, cell) for cell in [column.header, *column.cells]]
        if column.header in self.wrap:
            return max(m.minimum for m in measures)
        return max(m.maximum for m in measures)

    @staticmethod
    def _width(widths: list[int]) -> int:
        return sum(widths) + BORDER_PER_COLUMN * len(widths) + 1

    def _subtable(self, indexes: list[int], needed: list[int], *, width: int, suffix: str) -> Table:
        title = f"{self.title}{suffix}" if self.title else suffix.strip()
        table = Table(title=title, title_justify=self.title_justify, header_style=self.header_style)
        keys = self.identifying()
        # A part too wide even alone (keys and one long value) keeps its keys whole and wraps the value.
        fits = self._width([needed[i] for i in indexes]) <= width
        for i in indexes:
            column = self.columns[i]
            table.add_column(column.header, justify=column.justify, no_wrap=column.no_wrap and fits,
                             overflow="fold", min_width=needed[i] if fits or i in keys else None)
        cells = [list(self.columns[i].cells) for i in indexes]
        for row_index, row in enumerate(self.rows):
            table.add_row(*(column_cells[row_index] for column_cells in cells), style=row.style,
                          end_section=row.end_section)
        return table


def new_table(title: str, *columns: str, right: tuple[str, ...] = (), keys: tuple[str, ...] = (),
              wrap: tuple[str, ...] = ()) -> FittingTable:
    """A table whose ``right`` columns are right-aligned (numbers) and that fits the terminal.

    ``keys`` name the columns repeated when the table must be split (default: the first column);
    ``wrap`` the free-text columns that may wrap at word boundaries rather than split the table.
    """
    table = FittingTable(title=title, title_justify="left", header_style="bold", keys=keys, wrap=wrap)
    for column in columns:
        table.add_column(column, justify="right" if column in right else "left", no_wrap=column in right,
                         overflow="fold")
    return table


def keep(table: Table, *names: str) -> None:
    """Make the named columns the keys repeated in every part of a table too wide to print whole."""
    if isinstance(table, FittingTable):
        table.keys = names


def styled(text: str, style: str) -> Text:
    """Text with a rich style, for table cells."""
    return Text(text, style=style)


STATE_STYLES = {
    "active": "green",
    "expiring": "yellow",
    "grace": "dark_orange",
    "expired": "red",
    "suspended": "red",
    "revoked": "bold red",
    "allocated": "green",
}


def state(text: str, detail: str = "") -> Text:
    """A licence or allocation state, coloured by severity."""
    return Text(text + (f" ({detail})" if detail else ""), style=STATE_STYLES.get(text, ""))


def warn(message: str) -> None:
    stderr.print(Text("warning: " + message, style="yellow"))
