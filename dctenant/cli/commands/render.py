"""``dctenant render [PATH] --out DIR``: write every pool's Kubernetes manifests for review or GitOps."""

from __future__ import annotations

import datetime as dt

import click

from dctenant.cli import options


@click.command("render")
@options.quotas_path
@options.at
@click.option("--out", "out", metavar="DIR", type=click.Path(file_okay=False),
              help="Directory to write DIR/<pool>/_cluster.yaml and DIR/<pool>/<namespace>.yaml into.")
@click.option("--force", is_flag=True, help="Write into a non-empty directory that dctenant render did not write.")
@click.option("--what-if", "what_if", metavar="CHANGES.yaml", type=click.Path(dir_okay=False),
              help="Write nothing; show how the manifests would change after the edits in CHANGES.yaml.")
@options.output
def command(path: str, at: dt.date, out: str | None, force: bool, what_if: str | None, output: str) -> None:
    """Write the desired Kubernetes objects of every pool, one YAML file per namespace.

    The summary goes to stderr (the manifests are the result); with -o json or yaml the summary
    is written to stdout instead.
    """
    from dctenant.cli import console
    from dctenant.ops import rendering

    if what_if:
        _what_if(path, at=at, changes=what_if, output=output)
        return
    if out is None:
        raise click.UsageError("Missing option '--out' (or give --what-if CHANGES.yaml to see a diff instead).")
    result = rendering.render(path, at=at, out=out, force=force)

    def table() -> None:
        console.stderr.print(f"Rendered into {result.out} (as of {result.at}):", markup=False)
        t = console.new_table("", "pool", "namespaces", "objects", right=("namespaces", "objects"))
        for pool in result.pools:
            t.add_row(pool.pool, str(pool.namespaces), str(pool.objects))
        t.add_row("total", str(sum(p.namespaces for p in result.pools)), str(result.objects), style="bold")
        console.stderr.print(t)
        for rel in result.removed:
            console.stderr.print(f"removed {rel} (no longer desired)", markup=False)

    console.emit(result, output=output, table=table)
    for warning in result.warnings:
        console.warn(warning)


def _what_if(path: str, *, at: dt.date, changes: str, output: str) -> None:
    from dctenant.cli import console
    from dctenant.ops import whatif_planning

    result = whatif_planning.manifest_diff(path, changes_file=changes, at=at)

    def table() -> None:
        if not result.diffs:
            console.stderr.print("The changes alter no rendered manifest.")
        for text in result.diffs.values():
            console.stdout.out(text, end="", highlight=False)

    console.emit(result, output=output, table=table)
