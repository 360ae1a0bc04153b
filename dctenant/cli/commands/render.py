"""``dctenant render [PATH] --out DIR``: write every pool's Kubernetes manifests for review or GitOps."""

from __future__ import annotations

import datetime as dt

import click

from dctenant.cli import options


@click.command("render")
@options.quotas_path
@options.at
@click.option("--out", "out", required=True, metavar="DIR", type=click.Path(file_okay=False),
              help="Directory to write DIR/<pool>/_cluster.yaml and DIR/<pool>/<namespace>.yaml into.")
@click.option("--force", is_flag=True, help="Write into a non-empty directory that dctenant render did not write.")
@options.output
def command(path: str, at: dt.date, out: str, force: bool, output: str) -> None:
    """Write the desired Kubernetes objects of every pool, one YAML file per namespace.

    The summary goes to stderr (the manifests are the result); with -o json or yaml the summary
    is written to stdout instead.
    """
    from dctenant.cli import console
    from dctenant.ops import rendering

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
