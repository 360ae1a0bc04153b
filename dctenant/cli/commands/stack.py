"""``dctenant stack preview|up|refresh --pool P [PATH]``: run a pool's Pulumi stack (stacks/datacentre).

Pulumi's own progress goes to stderr as it runs; the summary of changes is the result. When the
pulumi CLI is not installed the command says how to install it and exits 4 (dctenant never
downloads it); this is the only place that exit code is given.
"""

from __future__ import annotations

import sys

import click

from dctenant.cli import options

EXIT_PENDING = 3
EXIT_NO_PULUMI = 4


@click.command("stack")
@click.argument("action", type=click.Choice(["preview", "up", "refresh"]))
@options.quotas_path
@click.option("--pool", required=True, metavar="POOL", help="The pool whose stack to run (Pulumi.<POOL>.yaml).")
@click.option("--project", default="stacks/datacentre", show_default=True, type=click.Path(file_okay=False),
              help="The Pulumi project directory.")
@click.option("--policy/--no-policy", default=True, show_default=True,
              help="Run the CrossGuard pack in stacks/policy on preview and up.")
@click.option("--exit-code", is_flag=True,
              help="Exit 3 when preview would change something or refresh found drift.")
@options.output
def command(action: str, path: str, pool: str, project: str, policy: bool, exit_code: bool, output: str) -> None:
    """Preview, update or refresh the Pulumi stack of one pool through the Automation API.

    The backend is a local file backend under dctenant's state directory unless PULUMI_BACKEND_URL
    is set. Drift: `refresh` then `dctenant diff` (docs/stacks.md).
    """
    from dctenant.cli import console
    from dctenant.clients import pulumi as pulumi_client
    from dctenant.ops import stacking

    def relay(line: str) -> None:
        console.stderr.print(line.rstrip("\n"), markup=False, highlight=False)

    try:
        result = stacking.run(action, pool=pool, path=path, project=project, policy=policy, on_output=relay)
    except pulumi_client.PulumiNotInstalledError as exc:
        click.secho(str(exc), fg="red", err=True)
        sys.exit(EXIT_NO_PULUMI)

    def table() -> None:
        t = console.new_table(f"stack {result.pool}: {result.action} ({result.backend})", "operation", "resources",
                              right=("resources",))
        for op, count in sorted(result.changes.items()):
            t.add_row(op, str(count))
        console.stdout.print(t)

    console.emit(result, output=output, table=table)
    if exit_code and result.pending:
        sys.exit(EXIT_PENDING)
