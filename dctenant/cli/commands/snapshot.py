"""``dctenant snapshot [PATH] --period P``: keep a period's usage rollups after Prometheus forgets them."""

from __future__ import annotations

import datetime as dt

import click

from dctenant.cli import options


@click.command("snapshot")
@options.quotas_path
@click.option("--period", required=True, metavar="PERIOD", help="YYYY-MM, YYYY-Qn or FROM..TO (see docs/reports.md).")
@click.option("--calendar", type=click.Choice(("gregorian", "jalali")), default="gregorian", show_default=True,
              help="Calendar of --period (jalali accepts 1405-09).")
@click.option("--prometheus", "url", envvar="DCTENANT_PROMETHEUS", required=True, metavar="URL",
              help="Prometheus (or a PromQL-compatible) endpoint; default $DCTENANT_PROMETHEUS.")
@click.option("--prometheus-config", "config", metavar="FILE", help="Prometheus settings (docs/enforcement.md).")
@click.option("--step", default="5m", show_default=True, help="Resolution of the rollups' subqueries.")
@options.ledger
@options.output
def command(path: str, period: str, calendar: str, url: str, config: str | None, step: str, ledger: str | None,
            output: str) -> None:
    """Store a period's per-tenant usage rollups (replacing earlier ones) and record it in the ledger."""
    from dctenant.cli import console
    from dctenant.clients import ledger_db
    from dctenant.ops import snapshotting

    chosen = options.period(period, calendar=calendar)
    with ledger_db.open_ledger(ledger) as opened:
        result = snapshotting.snapshot(path, period=chosen, now=dt.datetime.now(dt.UTC), ledger=opened, url=url,
                                       config=config, step=step, actor=ledger_db.os_actor())

    def table() -> None:
        verb = "replaced" if result.as_dict()["replaced"] else "stored"
        console.stdout.print(f"period {result.period.label}: {verb} {result.rows} rollups of {result.tenants} "
                             f"tenants ({result.queries} queries); ledger event {result.event.seq}", markup=False)
        if result.partial:
            console.warn(f"period {result.period.label} has not ended: the snapshot covers it up to now; "
                         "take it again after it ends")

    console.emit(result, output=output, table=table)
