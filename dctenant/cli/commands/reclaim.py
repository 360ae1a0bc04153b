"""``dctenant reclaim [PATH] --prometheus URL``: idle envelope per tenant, and a proposal to reclaim it."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal, InvalidOperation

import click

from dctenant.cli import options

_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def _duration(_ctx: click.Context, param: click.Parameter, value: str) -> int:
    found = re.fullmatch(r"(\d+)([smhdw])", value.strip())
    if not found or int(found[1]) == 0:
        raise click.BadParameter(f"{value!r} is not a duration; write e.g. 14d, 36h or 5m")
    return int(found[1]) * _SECONDS[found[2]]


def _fraction(_ctx: click.Context, param: click.Parameter, value: str) -> Decimal:
    text = value.strip()
    try:
        number = Decimal(text[:-1]) / 100 if text.endswith("%") else Decimal(text)
    except InvalidOperation:
        raise click.BadParameter(f"{value!r} is not a fraction; write e.g. 0.95 or 95%") from None
    if not (0 <= number <= 1):
        raise click.BadParameter(f"{value!r} is outside 0..1 (0%..100%)")
    return number


@click.command("reclaim")
@options.quotas_path
@options.prometheus(required=True, help="Prometheus (or Thanos/Mimir) query endpoint.")
@click.option("--prometheus-config", "config", metavar="FILE", help="Prometheus settings (docs/enforcement.md).")
@click.option("--at", "at", metavar="TIME", callback=options.instant, help="End of the window (default: now).")
@click.option("--window", default="14d", show_default=True, callback=_duration, help="How far back to look.")
@click.option("--step", default="5m", show_default=True, callback=_duration, help="Resolution of the window.")
@click.option("--quantile", default="0.95", show_default=True, callback=_fraction,
              help="Need of cpu, GPUs and bandwidth: this quantile of the tenant's total.")
@click.option("--margin", default="15%", show_default=True, callback=_fraction,
              help="Need of memory and storage: the peak plus this margin.")
@click.option("--min-idle", default="20%", show_default=True, callback=_fraction,
              help="Propose a lower demand only when at least this much of the envelope is idle.")
@click.option("--changes-out", metavar="FILE", type=click.Path(dir_okay=False),
              help="Write the proposals as a what-if file (for plan --what-if).")
@options.output
def command(path: str, url: str, config: str | None, at: dt.datetime | None, window: int, step: int,
            quantile: Decimal, margin: Decimal, min_idle: Decimal, changes_out: str | None, output: str) -> None:
    """Compare every envelope with the need observed over a window and propose lower demands.

    Nothing is applied: proposals are rows, and with --changes-out a what-if file to review with
    `dctenant plan --what-if FILE` before editing quotas/ (docs/planning.md).
    """
    from dctenant.cli import console, reclaim_tables
    from dctenant.domain import reclaim
    from dctenant.ops import reclaim_planning

    method = reclaim.Method(window_seconds=window, step_seconds=step, quantile=quantile, margin=margin,
                            min_idle=min_idle)
    when = at or dt.datetime.now(dt.UTC)
    result = reclaim_planning.reclaim_plan(path, url=url, at=when, method=method, config=config)
    if changes_out:
        reclaim_planning.write_changes(result, changes_out)
    console.emit(result, output=output, table=lambda: reclaim_tables.show(result))
