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
@click.option("--what-if", "what_if", metavar="CHANGES.yaml", type=click.Path(dir_okay=False),
              help="Compare the plan with the plan after the edits in CHANGES.yaml (docs/planning.md); "
                   "with --explain (any value) the largest losers are explained; "
                   "--exit-code exits 3 when a tenant falls below its guarantee.")
@click.option("--exit-code", is_flag=True,
    help="Exit 3 when a tenant gets less than its demand or a warning is raised.",
)
@options.output
def command(path: str, at: dt.date, explain: str | None, strict: bool, what_if: str | None, exit_code: bool,
            output: str) -> None:
    """Divide every pool's free capacity by weighted Dominant Resource Fairness and show the envelopes."""
    from dctenant.cli import console, plan_tables
    from dctenant.ops import planning

    if what_if:
        _what_if(path, at=at, changes=what_if, explain=explain is not None, exit_code=exit_code, output=output)
        return

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


def _what_if(path: str, *, at: dt.date, changes: str, explain: bool, exit_code: bool, output: str) -> None:
    from dctenant.cli import console, whatif_tables
    from dctenant.ops import whatif_planning

    result = whatif_planning.what_if(path, changes_file=changes, at=at)
    console.emit(result, output=output, table=lambda: whatif_tables.show(result, explain=explain))
    if exit_code and result.below_guarantee:
        sys.exit(EXIT_PENDING)
