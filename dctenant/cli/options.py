"""Options shared by every command that reads the data centre, so they all read it the same way."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])
FORMATS = ("table", "json", "yaml")


def _default_path() -> str:
    import os

    return os.environ.get("DCTENANT_QUOTAS") or "quotas"


def quotas_path(func: F) -> F:
    """The optional PATH argument: the quotas directory (default ``quotas/`` or ``$DCTENANT_QUOTAS``)."""
    return click.argument("path", required=False, default=None, metavar="[PATH]",
                          callback=lambda _c, _p, v: v or _default_path())(func)


def output(func: F) -> F:
    return click.option("-o", "--output", type=click.Choice(FORMATS), default="table", show_default=True,
                        help="Output format; json and yaml serialise the same result the table shows.")(func)


def _date(_ctx: click.Context, _param: click.Parameter, value: str | None) -> dt.date:
    if value is None:
        return dt.date.today()
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date; write YYYY-MM-DD, e.g. 2026-11-27") from None


def at(func: F) -> F:
    """``--at YYYY-MM-DD``: the day to evaluate licences on (default today)."""
    return click.option("--at", "at", metavar="YYYY-MM-DD", callback=_date,
                        help="Evaluate licences as of this day (default: today).")(func)


def ledger(func: F) -> F:
    """``--ledger URL``: the audit ledger (default ``$DCTENANT_LEDGER`` or SQLite in the state directory)."""
    return click.option("--ledger", metavar="URL", default=None,
                        help="Ledger database: a SQLite path or a postgresql:// URL "
                             "(default: $DCTENANT_LEDGER, else $XDG_STATE_HOME/dctenant/ledger.db).")(func)


def instant(_ctx: click.Context, _param: click.Parameter, value: str | None) -> dt.datetime | None:
    """An ISO day or time, read as UTC when it names no zone."""
    if value is None:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not an ISO 8601 day or time, e.g. 2026-11-27 or "
                                 "2026-11-27T08:00:00Z") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)
