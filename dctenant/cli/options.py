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


def _quotas_dir(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str:
    """PATH must be a directory; say what PATH is and where its default comes from when it is not."""
    import os

    path = value or _default_path()
    if os.path.isdir(path):
        return path
    where = ("given as PATH" if value else
             "$DCTENANT_QUOTAS" if os.environ.get("DCTENANT_QUOTAS") else "the default, from the current directory")
    problem = "is not a directory" if os.path.exists(path) else "does not exist"
    raise click.BadParameter(f"the quotas directory {path!r} ({where}) {problem}; pass the directory that holds "
                             "datacentre.yaml, e.g. `dctenant validate quotas/`, or set $DCTENANT_QUOTAS",
                             param_hint="PATH")


def quotas_path(func: F) -> F:
    """The optional PATH argument: the quotas directory (default ``quotas/`` or ``$DCTENANT_QUOTAS``)."""
    return click.argument("path", required=False, default=None, metavar="[PATH]", callback=_quotas_dir,
                          type=click.Path())(func)


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


def period(text: str, *, calendar: str, zone: str | None = None) -> Any:
    """Parse ``--period`` (YYYY-MM, YYYY-Qn, FROM..TO) as a usage error (exit 2), like every other option."""
    from dctenant.errors import UserError
    from dctenant.ops import reporting

    try:
        return reporting.period(text, calendar=calendar, zone=zone)
    except UserError as exc:
        raise click.BadParameter(exc.message, param_hint="'--period'") from None


def _quotas_for(ctx: click.Context) -> Any:
    """The quotas/ of the command being completed (its PATH, else the default), or None if unreadable."""
    import os
    import shlex

    from dctenant.loaders import loading

    # Click's completion stops parsing at the option being completed, so a PATH typed before it never
    # reaches ctx.params; every shell click supports passes the command line in COMP_WORDS instead.
    try:
        words = shlex.split(os.environ.get("COMP_WORDS", ""))
    except ValueError:
        words = []
    typed = [w for w in words[1:] if not w.startswith("-") and os.path.isfile(os.path.join(w, "datacentre.yaml"))]
    if not typed and any(not w.startswith("-") and os.path.isdir(w) for w in words[1:]):
        return None  # a directory was given as PATH but holds no quotas: nothing to offer
    root: click.Context | None = ctx
    path = typed[0] if typed else None
    while root is not None and path is None:
        path = root.params.get("path")
        root = root.parent
    try:
        return loading.load(path or _default_path())
    except Exception:  # completion must never print a traceback into the user's shell
        return None


def complete_pools(ctx: click.Context, _param: click.Parameter, incomplete: str) -> list[str]:
    """Shell completion of a pool name from quotas/datacentre.yaml."""
    model = _quotas_for(ctx)
    names = sorted(model.datacentre.pool_names) if model is not None else []
    return [n for n in names if n.startswith(incomplete)]


def complete_tenants(ctx: click.Context, _param: click.Parameter, incomplete: str) -> list[str]:
    """Shell completion of a tenant id from quotas/tenants/."""
    model = _quotas_for(ctx)
    names = sorted(t.id for t in model.tenants) if model is not None else []
    return [n for n in names if n.startswith(incomplete)]


# Options with these parameter names complete from quotas/ in every command (cli.main attaches them,
# so commands owned by other areas need no change to take part).
COMPLETERS: dict[str, Callable[[click.Context, click.Parameter, str], list[str]]] = {
    "pool": complete_pools, "pools": complete_pools, "tenant": complete_tenants, "explain": complete_tenants,
}


PROMETHEUS_ENV = "DCTENANT_PROMETHEUS_URL"
"""The one environment variable every command reads the PromQL endpoint from (docs/cli.md)."""
DEPRECATED_PROMETHEUS_ENV = "DCTENANT_PROMETHEUS"
"""Its older name (snapshot, reclaim and forecast read it until 0.1): still accepted, with a warning."""


def _prometheus_url(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """``--prometheus``, else ``$DCTENANT_PROMETHEUS_URL``, else the deprecated ``$DCTENANT_PROMETHEUS``."""
    import os

    from dctenant.cli import console

    old = os.environ.get(DEPRECATED_PROMETHEUS_ENV)
    if old:
        if value is None:
            console.warn(f"${DEPRECATED_PROMETHEUS_ENV} is deprecated and will be removed: set ${PROMETHEUS_ENV} "
                         "instead (same value)")
            value = old
        elif ctx.get_parameter_source(param.name or "") is click.core.ParameterSource.ENVIRONMENT and old != value:
            console.warn(f"${DEPRECATED_PROMETHEUS_ENV} is deprecated and ignored: ${PROMETHEUS_ENV} is set too "
                         "(unset the old name)")
    return value


def prometheus(*, required: bool, help: str) -> Callable[[F], F]:
    """``--prometheus URL`` (or ``$DCTENANT_PROMETHEUS_URL``), the same in every command that reads Prometheus."""

    def decorate(func: F) -> F:
        def check(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
            found = _prometheus_url(ctx, param, value)
            if found is None and required:
                raise click.MissingParameter(ctx=ctx, param=param,
                                             message=f"give --prometheus URL or set ${PROMETHEUS_ENV}")
            return found

        return click.option("--prometheus", "url", envvar=PROMETHEUS_ENV, metavar="URL", callback=check,
                            help=f"{help} [env {PROMETHEUS_ENV}]")(func)

    return decorate
