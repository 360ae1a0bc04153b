"""``dctenant validate [PATH]``: check the quotas directory and list every problem."""

from __future__ import annotations

import click

from dctenant.cli import options


@click.command("validate")
@options.quotas_path
def command(path: str) -> None:
    """Check quotas/ and report every problem as FILE:LINE: FIELD: message (exit 1 if any)."""
    from dctenant.cli import console
    from dctenant.ops import describing

    model = describing.validate(path)
    namespaces = sum(len(t.namespaces) for t in model.tenants)
    console.stderr.print(
        f"[green]✓[/green] {path} is valid: {len(model.datacentre.pools)} pools, "
        f"{len(model.datacentre.storage_classes)} storage classes, {len(model.policy.tiers)} tiers, "
        f"{len(model.tenants)} tenants, {namespaces} namespaces",
        soft_wrap=True,
    )
