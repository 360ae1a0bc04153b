"""``dctenant forecast [PATH]``: the day each pool's demand or usage reaches what it can give."""

from __future__ import annotations

import datetime as dt
import re

import click

from dctenant.cli import options

_DAYS = {"d": 1.0, "w": 7.0, "m": 365 / 12, "y": 365.0}  # a month is a twelfth of a year: 12m = 365 days


def span(_ctx: click.Context, _param: click.Parameter, value: str) -> int:
    found = re.fullmatch(r"(\d+)([dwmy])", value.strip())
    if not found or int(found[1]) == 0:
        raise click.BadParameter(f"{value!r} is not a span; write e.g. 90d, 26w, 12m or 2y")
    return round(int(found[1]) * _DAYS[found[2]])


@click.command("forecast")
@options.quotas_path
@options.at
@click.option("--horizon", default="12m", show_default=True, callback=span, help="How far ahead to look.")
@options.ledger
@click.option("--record", is_flag=True, help="First append today's plan totals to the ledger (once a day).")
@options.prometheus(required=False, help="Also forecast measured usage against envelopes.")
@click.option("--prometheus-config", "config", metavar="FILE", help="Prometheus settings (docs/enforcement.md).")
@click.option("--history", default="90d", show_default=True, callback=span, help="Usage history to fit.")
@click.option("-o", "--output", type=click.Choice((*options.FORMATS, "html")), default="table", show_default=True,
              help="Output format; html is the page of `dctenant report forecast` (charts, no ledger record).")
@click.option("--calendar", type=click.Choice(("gregorian", "jalali")), default="gregorian", show_default=True,
              help="Calendar of the dates in the HTML page.")
def command(path: str, at: dt.date, horizon: int, ledger: str | None, record: bool, url: str | None,
            config: str | None, history: int, output: str, calendar: str) -> None:
    """Fit demand (ledger) and usage (Prometheus) trends and say when each pool runs out (docs/planning.md)."""
    from dctenant.cli import console, forecast_tables
    from dctenant.ops import forecasting

    result = forecasting.forecast(path, today=at, horizon_days=horizon, ledger=ledger, record=record, url=url,
                                  config=config, history_days=history)
    if output == "html":
        from dctenant.ops import runway_reporting
        from dctenant.render.reports import cells, html_form

        report = runway_reporting.forecast_report(result, path=path, now=dt.datetime.now(dt.UTC), calendar=calendar)
        click.echo(html_form.render(report, style=cells.Style(calendar=calendar)), nl=False)
        return
    console.emit(result, output=output, table=lambda: forecast_tables.show(result))
