"""``dctenant snapshot [PATH] --period P --prometheus URL``: keep usage rollups after Prometheus forgets them."""

from __future__ import annotations

import datetime as dt

import click

from dctenant.cli import options


@click.command("snapshot")
@options.quotas_path
@click.option("--period", required=True, metavar="PERIOD", help="YYYY-MM, YYYY-Qn or FROM..TO (see docs/reports.md).")
@click.option("--calendar", type=click.Choice(("gregorian", "jalali")), default="gregorian", show_default=True,
              help="Calendar of --period (jalali accepts 1405-09).")
@click.option("--timezone", "zone", metavar="ZONE",
              help="Time zone of the period's days [default: UTC; Asia/Tehran with --calendar jalali].")
@options.prometheus(required=False, help="Prometheus (or a PromQL-compatible) endpoint (required).")
@click.option("--prometheus-config", "config", metavar="FILE", help="Prometheus settings (docs/enforcement.md).")
@click.option("--step", default="5m", show_default=True, help="Resolution of the rollups' subqueries.")
@options.ledger
@options.output
def command(path: str, period: str, calendar: str, zone: str | None, url: str | None, config: str | None, step: str,
            ledger: str | None, output: str) -> None:
    """Store a new version of a period's per-tenant usage rollups (older versions kept) and record it in the ledger."""
    from dctenant.cli import console
    from dctenant.clients import ledger_db
    from dctenant.errors import UserError
    from dctenant.ops import snapshotting

    chosen = options.period(period, calendar=calendar, zone=zone)
    if not url:
        raise UserError("a snapshot reads Prometheus: give its URL, e.g. `dctenant snapshot --period "
                        f"{chosen.label}{' --calendar jalali' if calendar == 'jalali' else ''} --prometheus "
                        "http://prometheus.monitoring:9090`, or set DCTENANT_PROMETHEUS_URL", location="--prometheus")
    with ledger_db.open_ledger(ledger) as opened:
        result = snapshotting.snapshot(path, period=chosen, now=dt.datetime.now(dt.UTC), ledger=opened, url=url,
                                       config=config, step=step, actor=ledger_db.os_actor())

    def table() -> None:
        verb = f"stored version {result.info.version} (older versions kept)" if result.info.version > 1 else "stored"
        console.stdout.print(f"period {result.period.label} ({result.period.zone} days): {verb}, snapshot "
                             f"{result.info.id}: {result.rows} rollups of {result.tenants} tenants "
                             f"({result.queries} queries); ledger event {result.event.seq}", markup=False)

    console.emit(result, output=output, table=table)
    for warning in result.warnings:
        console.warn(warning)
