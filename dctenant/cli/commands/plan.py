"""``dctenant plan [PATH]``: who gets what of the data centre's free capacity, and why."""

from __future__ import annotations

import datetime as dt
import sys

import click

from dctenant.cli import options

EXIT_PENDING = 3


@click.command("plan")
@options.quotas_path
@options.at
@click.option("--explain", metavar="TENANT", help="Explain in words why TENANT got what it got.")
@click.option("--strict", is_flag=True, help="Treat tier guarantees that do not fit as an error.")
@click.option("--exit-code", is_flag=True,
    help="Exit 3 when a tenant gets less than its demand or a warning is raised.",
)
@options.output
def command(path: str, at: dt.date, explain: str | None, strict: bool, exit_code: bool, output: str) -> None:
    """Divide every pool's free capacity by weighted Dominant Resource Fairness and show the envelopes."""
    from dctenant.cli import console, plan_tables
    from dctenant.ops import planning

    result = planning.plan(path, at=at, explain=explain, strict=strict)

    def table() -> None:
        if explain:
            plan_tables.explain(result.explanation)
            return
        plan_tables.show(result)

    console.emit(result, output=output, table=table)
    for warning in result.allocation.warnings:
        console.warn(warning)
    if exit_code and result.pending:
        sys.exit(EXIT_PENDING)
