"""The rich tables of ``dctenant plan``: pools (capacity to free) and tenants (envelope vs demand)."""

from __future__ import annotations

from decimal import Decimal

from rich.padding import Padding
from rich.text import Text

from dctenant.cli import console
from dctenant.domain import allocations
from dctenant.ops import planning


def show(result: planning.PlanResult) -> None:
    allocation = result.allocation
    console.stdout.print(f"[bold]Allocation plan[/bold] as of {allocation.at}")
    for pool in allocation.pools.values():
        _pool(allocation, pool)


def explain(lines: tuple[str, ...]) -> None:
    """The explanation's lines, each wrapped under its own indentation (a hanging indent)."""
    for line in lines:
        text = line.lstrip(" ")
        console.stdout.print(Padding(Text(text), (0, 0, 0, len(line) - len(text)), expand=False))


def _pool(allocation: allocations.Allocation, pool: allocations.PoolAllocation) -> None:
    amount = console.amount
    t = console.new_table(f"Pool {pool.name}", "resource", "capacity", "reserve", "allocatable", "allocated",
                          "free", right=("capacity", "reserve", "allocatable", "allocated", "free"))
    for r in pool.resources:
        t.add_row(Text(r.key + (" (saturated)" if r.saturated else ""), style="bold red" if r.saturated else ""),
                  amount(r.key, r.capacity), amount(r.key, r.reserve), amount(r.key, r.allocatable),
                  amount(r.key, r.allocated), amount(r.key, r.free))
    console.stdout.print(t)
    keys = [r.key for r in pool.resources]
    t = console.new_table(f"Tenants in {pool.name}: envelope / demand", "tenant", "state", "served",
                          "w. share", "limited by", *keys, right=("served", "w. share", *keys))
    for tid, tenant in allocation.tenants.items():
        share = tenant.shares.get(pool.name)
        if share is None:
            continue
        cells = []
        for k in keys:
            if k not in share.demand:
                cells.append(Text("—", style="dim"))
                continue
            env, dem = share.envelope.get(k, Decimal(0)), share.demand[k]
            cells.append(Text(f"{amount(k, env)} / {amount(k, dem)}", style="yellow" if env < dem else ""))
        t.add_row(tid, console.state(tenant.state), f"{share.fraction:.1%}", f"{share.weighted_share:.4f}",
                  share.limited_by, *cells)
    console.keep(t, "tenant")
    console.stdout.print(t)
