"""The rich output of ``dctenant forecast``: per pool and resource, when it runs out, with the interval."""

from __future__ import annotations

from rich.text import Text

from dctenant.cli import console
from dctenant.domain import forecasts
from dctenant.ops import forecasting


def show(result: forecasting.ForecastResult) -> None:
    out = console.stdout
    out.print(f"[bold]Runway[/bold] from {result.today}, horizon {result.horizon_days} days "
              f"(80 % interval); sources: {'; '.join(result.sources) or 'the current plan only'}")
    if result.recorded:
        out.print(f"Recorded today's plan totals for {result.recorded} pool(s) in the ledger.")
    t = console.new_table("", "pool", "resource", "series", "now / limit", "runs out", "interval",
                          right=("now / limit",))
    problems: dict[str, int] = {}
    for f in result.forecasts:
        now = "—" if f.current is None else console.amount(f.resource, f.current)
        ratio = f"{now} / {console.amount(f.resource, f.limit)}"
        if f.problem:
            problems[f.problem] = problems.get(f.problem, 0) + 1
            when, interval = Text("unknown", style="dim"), Text(f"{f.points} point(s)", style="dim")
        elif f.crossing is None and f.earliest is None:
            when, interval = Text("beyond horizon", style="green"), Text("")
        else:
            when = Text(f.crossing.isoformat() if f.crossing else "beyond horizon", style="bold red")
            interval = Text(f"{f.earliest or '?'} … {f.latest or 'beyond horizon'}")
        t.add_row(f.pool, f.resource, "demand" if f.series == forecasts.DEMAND else "usage", ratio, when, interval)
    console.keep(t, "pool", "resource")
    out.print(t)
    for problem, count in problems.items():
        out.print(f"unknown ({count} row(s)): {problem}. Record the plan daily with "
                  "`dctenant forecast --record`, or give --prometheus for usage.", markup=False)
