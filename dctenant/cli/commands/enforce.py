"""``dctenant enforce [PATH]``: measure usage in Prometheus, decide, and (with ``--act``) act on breaches.

Dry-run by default: decisions are printed and nothing is changed or written. ``--once`` runs one
cycle (a CronJob); ``--interval 60s`` loops (a Deployment). Exit codes: 1 when data is missing (or
an action failed), 3 with ``--exit-code`` when any tenant is in breach; see docs/enforcement.md.
"""

from __future__ import annotations

import datetime as dt
import pathlib
import re
import sys
import time
from typing import TYPE_CHECKING, Any

import click

from dctenant.cli import options
from dctenant.cli.commands.diff import kubeconfig, pools

if TYPE_CHECKING:
    from dctenant.domain.usage import Decision
    from dctenant.ops.enforcing import Cycle

EXIT_MISSING = 1
EXIT_BREACH = 3
STYLES = {"ok": "green", "warning": "yellow", "breach": "bold red", "unknown": "magenta", "suspended": "red"}


def _day(_ctx: click.Context, _param: click.Parameter, value: str | None) -> dt.date | None:
    """``--at``, or None: a loop then follows the clock from one day to the next."""
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date; write YYYY-MM-DD, e.g. 2026-11-27") from None


def _interval(_ctx: click.Context, _param: click.Parameter, value: str | None) -> int | None:
    if value is None:
        return None
    match = re.fullmatch(r"(\d+)(s|m|h)?", value.strip())
    if not match or int(match.group(1)) == 0:
        raise click.BadParameter(f"{value!r} is not an interval; write e.g. 60s, 5m or 1h")
    return int(match.group(1)) * {"s": 1, "m": 60, "h": 3600, None: 1}[match.group(2)]


@click.command("enforce")
@options.quotas_path
@pools
@options.prometheus(required=True, help="PromQL endpoint (Prometheus, Thanos, Mimir). Credentials come from "
                   "$DCTENANT_PROMETHEUS_TOKEN or $DCTENANT_PROMETHEUS_USER/_PASSWORD.")
@click.option("--metrics-config", type=click.Path(dir_okay=False, exists=True), metavar="FILE",
              help="YAML file with metric names, job selectors, cluster label (docs/enforcement.md).")
@click.option("--cluster-label", metavar="LABEL", help="Label telling clusters apart on a shared endpoint.")
@click.option("--rate-window", metavar="DURATION", help="Window of rate() for CPU and bandwidth (default 5m).")
@click.option("--step", metavar="DURATION",
              help="Resolution of the history that sustained breaches and recoveries are judged on (default 1m).")
@click.option("--timeout", type=float, metavar="SECONDS", help="Timeout of each query (default 10).")
@click.option("--act", is_flag=True, help="Carry out the actions (default: dry run, nothing is changed).")
@click.option("--once", is_flag=True, help="Run one cycle and exit (the default without --interval).")
@click.option("--interval", callback=_interval, metavar="DURATION", help="Loop, one cycle every DURATION (60s).")
@click.option("--at", "at", metavar="YYYY-MM-DD", callback=_day,
              help="Evaluate licences as of this day (default: today).")
@kubeconfig
@click.option("--state", type=click.Path(dir_okay=False), metavar="FILE",
              help="Enforcer state file (default $XDG_STATE_HOME/dctenant/enforcer-<pool or all>.json).")
@click.option("--ledger", metavar="URL", help="Audit ledger (default $DCTENANT_LEDGER or the local SQLite ledger).")
@click.option("--webhook", envvar="DCTENANT_WEBHOOK", metavar="URL",
              help="Alertmanager-compatible webhook for notices; also $DCTENANT_WEBHOOK.")
@click.option("--exit-code", is_flag=True, help="Exit 3 when any tenant is in breach.")
@click.option("--all", "show_all", is_flag=True,
              help="Show every row; by default 'unknown' rows with the same cause are grouped into one.")
@options.output
def command(path: str, pools: tuple[str, ...], url: str, metrics_config: str | None, cluster_label: str | None,
            rate_window: str | None, step: str | None, timeout: float | None, act: bool, once: bool,
            interval: int | None,
            at: dt.date | None, kubeconfig: str | None, state: str | None, ledger: str | None, webhook: str | None,
            exit_code: bool, show_all: bool, output: str) -> None:
    """Compare every tenant's measured usage with its envelope and act on breaches (dry run by default)."""
    from dctenant.clients import prometheus
    from dctenant.ops import enforcing

    if once and interval:
        raise click.UsageError("--once and --interval exclude each other")
    settings = prometheus.settings(url, config=metrics_config, cluster_label=cluster_label,
                                   rate_window=rate_window, step=step, timeout=timeout)
    enforcer = enforcing.Enforcer(path=path, settings=settings, pools=pools, act=act, kubeconfig=kubeconfig,
                                  state_path=pathlib.Path(state) if state else None, ledger=ledger, webhook=webhook)
    try:
        while True:
            started = time.monotonic()
            now = dt.datetime.now(dt.UTC)
            cycle = enforcer.cycle(now=now, at=at or now.date())
            _show(cycle, output=output, show_all=show_all)
            if interval is None:
                break
            time.sleep(max(0.0, interval - (time.monotonic() - started)))
    finally:
        enforcer.close()
    if cycle.missing or cycle.failed:
        sys.exit(EXIT_MISSING)
    if exit_code and cycle.breach:
        sys.exit(EXIT_BREACH)


def _cause(d: Decision) -> str:
    """The reason without its leading "TENANT RESOURCE: ", which is what unknown rows share."""
    return d.reason.split(": ", 1)[-1]


def _named(values: list[str], noun: str) -> str:
    """One name, up to three names, or a count: a grouped row stays one short line."""
    distinct = sorted(set(values))
    return ", ".join(distinct) if len(distinct) <= 3 else f"{len(distinct)} {noun}"


def grouped(rows: list[Decision]) -> list[tuple[list[Decision], str]]:
    """Rows to print: every known row alone; unknown rows with the same action and cause as one group.

    An unreachable Prometheus makes every tenant × pool × resource unknown for the same cause
    (125 rows on the example); one row saying so, with the counts, is what a reader needs.
    """
    groups: dict[tuple[Any, ...], list[Decision]] = {}
    for d in rows:
        key: tuple[Any, ...] = ("unknown", d.action, _cause(d)) if d.state.value == "unknown" else ("row", id(d))
        groups.setdefault(key, []).append(d)
    return [(members, _cause(members[0]) if len(members) > 1 else members[0].reason) for members in groups.values()]


def _show(cycle: Cycle, *, output: str, show_all: bool = False) -> None:
    from dctenant.cli import console
    from dctenant.domain import usage

    def table() -> None:
        rows = [d for d in cycle.decisions if d.state is not usage.State.OK or d.action]
        title = (f"enforcement {cycle.at:%Y-%m-%d %H:%M:%S} UTC ({'act' if cycle.act else 'dry run'}): "
                 f"{len(cycle.decisions)} decisions, {len(rows)} not ok, {cycle.queries} queries")
        grid = console.new_table(title, "tenant", "pool", "resource", "state", "action", "reason",
                                 keys=("tenant", "pool", "resource"), wrap=("reason",))
        groups = [([d], d.reason) for d in rows] if show_all else grouped(rows)
        for members, reason in groups:
            d = members[0]
            state = d.state.value if len(members) == 1 else f"{d.state.value} ×{len(members)}"
            grid.add_row(_named([m.tenant for m in members], "tenants"), _named([m.pool for m in members], "pools"),
                         _named([m.resource for m in members], "resources"),
                         console.styled(state, STYLES[d.state.value]), d.action or "", reason)
        console.stdout.print(grid)
        if len(groups) < len(rows):
            console.stdout.print(f"{len(rows)} rows shown as {len(groups)}: unknown rows with the same cause are "
                                 "grouped; --all shows every row", markup=False)
        for a in cycle.actions:
            line = f"{a.action} {a.namespace}: {a.error or a.done}"
            console.stdout.print(console.styled(line, "red" if a.error else ""))

    console.emit(cycle, output=output, table=table)
    for cause in cycle.missing:
        console.warn(f"missing data: {cause}")
    for a in cycle.actions:
        if a.error:
            console.stderr.print(console.styled(f"action {a.action} on {a.namespace} failed: {a.error}", "red"))
