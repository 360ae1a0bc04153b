"""``dctenant report KIND [PATH]``: an auditor's report as a table, CSV, JSON or self-contained HTML.

With ``--out FILE`` the report is written to the file and its issue (with the file's SHA-256
and the ledger position it covers) is recorded in the ledger. ``--reproduce FILE`` recomputes an
issued JSON or CSV report from the inputs it recorded and says whether it comes out identical.
"""

from __future__ import annotations

import datetime as dt
import sys
from typing import Any

import click

from dctenant.cli import options
from dctenant.cli.commands import forecast

PLANNING = ("forecast", "reclaim")  # built from a forecast or observed need, not from a period's snapshots

KINDS = ("allocation", "usage", "traffic", "violations", "licences", "forecast", "reclaim")


@click.command("report")
@click.argument("kind", type=click.Choice(KINDS), required=False)
@options.quotas_path
@click.option("--period", metavar="PERIOD",
              help="YYYY-MM, YYYY-Qn or FROM..TO (ISO days); with --calendar jalali also 1405-09, 1405-Q3.")
@click.option("--tenant", metavar="TENANT", help="Only this tenant's rows.")
@click.option("--calendar", type=click.Choice(("gregorian", "jalali")), default="gregorian", show_default=True,
              help="Calendar of the dates shown (table and HTML) and of --period.")
@click.option("--timezone", "zone", metavar="ZONE",
              help="Time zone of the period's days [default: UTC; Asia/Tehran with --calendar jalali].")
@click.option("--persian-digits", is_flag=True, help="Write dates with Persian digits (table and HTML).")
@click.option("-o", "--output", type=click.Choice(("table", "csv", "json", "html")), default="table",
              show_default=True, help="Output format; csv and json are stable schemas (docs/reports.md).")
@click.option("--out", "out", metavar="FILE", type=click.Path(dir_okay=False),
              help="Write to FILE and record the report's issue in the ledger.")
@click.option("--reproduce", metavar="FILE", type=click.Path(dir_okay=False),
              help="Recompute the issued JSON or CSV report FILE from its recorded inputs and compare.")
@options.ledger
@click.option("--horizon", default="12m", show_default=True, callback=forecast.span,
              help="forecast: how far ahead to look (from the report's day).")
@click.option("--history", default="90d", show_default=True, callback=forecast.span,
              help="forecast: days of usage history to fit.")
@options.prometheus(required=False, help="forecast (usage) and reclaim (need): Prometheus query endpoint.")
@click.option("--prometheus-config", "config", metavar="FILE", help="Prometheus settings (docs/enforcement.md).")
@click.option("--generated-at", "generated_at", metavar="WHEN", callback=options.instant, hidden=True,
              help="Generation time to state (to reproduce an earlier report).")
def command(kind: str | None, path: str, period: str | None, tenant: str | None, calendar: str, zone: str | None,
            persian_digits: bool, output: str, out: str | None, reproduce: str | None, ledger: str | None,
            horizon: int, history: int, url: str | None, config: str | None,
            generated_at: dt.datetime | None) -> None:
    """Auditors' reports: allocation, usage, traffic, violations, licences; forecast and reclaim (docs/planning.md).

    forecast needs no --period (its period is the --horizon from today); reclaim's --period is the
    window of observed need (default: the last 14 whole days).
    """
    from dctenant.cli import console
    from dctenant.clients import ledger_db
    from dctenant.errors import UserError
    from dctenant.ops import reporting
    from dctenant.render.reports import cells, tables

    if reproduce:
        with ledger_db.open_ledger(ledger) as opened:
            result = reporting.reproduce(reproduce, ledger=opened)

        def show() -> None:
            if result.identical:
                console.stdout.print(f"identical: {result.file} (sha256 {result.sha256}) recomputes byte for byte "
                                     "from its recorded inputs", markup=False, soft_wrap=True)
                return
            console.stdout.print(f"DIFFERENT: {result.file} does not recompute identically "
                                 f"({len(result.differences)} difference(s)):", markup=False, soft_wrap=True)
            for line in result.differences[:50]:
                console.stdout.print(f"  {line}", markup=False, soft_wrap=True)

        console.emit(result, output="json" if output == "json" else "table", table=show)
        if not result.identical:
            sys.exit(3)
        return
    if kind is None or (period is None and kind not in PLANNING):
        raise UserError("give a report KIND and --period (e.g. `dctenant report usage --period 2026-10`), or "
                        "--reproduce FILE", location="--period" if kind else "KIND")
    now = generated_at or dt.datetime.now(dt.UTC)
    style = cells.Style(calendar=calendar, digits=persian_digits)
    with ledger_db.open_ledger(ledger) as opened:
        if kind in PLANNING:
            report = _planning(kind, path=path, period=period, calendar=calendar, zone=zone, now=now, ledger=opened,
                               tenant=tenant, horizon=horizon, history=history, url=url, config=config)
        else:
            chosen = options.period(period or "", calendar=calendar, zone=zone)
            report = reporting.build(kind, path=path, period=chosen, now=now, ledger=opened, tenant=tenant)
        if output == "table":
            if out:
                raise UserError("--out needs --output csv, json or html", location="--out")
            for key, value in cells.provenance(report, style=style):
                console.stdout.print(f"{key}: {value}", markup=False, soft_wrap=True)
            for t in tables.tables(report, style=style):
                table = console.new_table(t.title, *t.headers, right=t.right)
                for row in t.rows:
                    table.add_row(*row)
                console.stdout.print(table)
        else:
            text = reporting.render(report, output=output, style=style)
            if out:
                issued = reporting.issue(report, text=text, out=out, output=output, ledger=opened,
                                         actor=ledger_db.os_actor(), now=now, tenant=tenant)
                console.stderr.print(f"wrote {issued.path} (sha256 {issued.sha256}); recorded as ledger event "
                                     f"{issued.event.seq}", markup=False, soft_wrap=True)
            else:
                click.echo(text, nl=False)
    for warning in report.warnings:
        console.warn(warning)


def _planning(kind: str, *, path: str, period: str | None, calendar: str, zone: str | None, now: dt.datetime,
              ledger: Any, tenant: str | None, horizon: int, history: int, url: str | None,
              config: str | None) -> Any:
    from dctenant.domain import periods
    from dctenant.errors import UserError
    from dctenant.ops import runway_reporting

    if kind == "forecast":
        if period is not None or tenant is not None:
            raise UserError("report forecast is per pool from today: give --horizon, not --period or --tenant",
                            location="--period" if period is not None else "--tenant")
        return runway_reporting.build_forecast(path=path, now=now, ledger=ledger, horizon_days=horizon, url=url,
                                               config=config, history_days=history, calendar=calendar, zone=zone)
    if period is None:  # the last 14 whole days of the chosen calendar's zone
        today = now.astimezone(periods.tz(zone or periods.DEFAULT_ZONES[calendar])).date()
        window = periods.span(today - dt.timedelta(days=14), today - dt.timedelta(days=1), calendar=calendar,
                              zone=zone)
    else:
        window = options.period(period, calendar=calendar, zone=zone)
    return runway_reporting.build_reclaim(path=path, now=now, ledger=ledger, period=window, url=url, config=config,
                                          tenant=tenant)
