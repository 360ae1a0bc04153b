"""All of dctenant's terminal output: rich tables on a terminal, JSON or YAML for machines.

Results go to stdout and diagnostics to stderr. ``emit`` serialises the very result object a
table shows (its ``as_dict()``), so the formats cannot drift apart.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from decimal import Decimal
from typing import Any, Protocol

from rich.console import Console
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


def new_table(title: str, *columns: str, right: tuple[str, ...] = ()) -> Table:
    """A table whose ``right`` columns are right-aligned (numbers)."""
    table = Table(title=title, title_justify="left", header_style="bold")
    for column in columns:
        table.add_column(column, justify="right" if column in right else "left", no_wrap=column in right)
    return table


def keep(table: Table, *names: str) -> None:
    """Never squeeze the named columns below their widest cell (identifiers must stay readable)."""
    for column in table.columns:
        if column.header in names:
            column.min_width = max([len(str(column.header)), *(len(str(c)) for c in column.cells)])


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
