"""The rich output of ``dctenant plan --what-if``: what moved, who falls below a guarantee, and why."""

from __future__ import annotations

from rich.text import Text

from dctenant.cli import console
from dctenant.ops import whatif_planning


def show(result: whatif_planning.WhatIfResult, *, explain: bool) -> None:
    c = result.comparison
    out = console.stdout
    out.print(f"[bold]What-if[/bold] as of {result.after.allocation.at}: {len(result.changes)} change(s)")
    for ch in result.changes:
        out.print(f"  • {ch.describe()}", markup=False)
    if not c.envelopes:
        out.print("No envelope changes.")
    else:
        t = console.new_table("Envelopes that change", "tenant", "pool", "resource", "before", "after", "Δ %",
                              right=("before", "after", "Δ %"))
        for e in c.envelopes:
            before = "—" if e.before is None else console.amount(e.resource, e.before)
            after = "—" if e.after is None else console.amount(e.resource, e.after)
            pct = "new" if e.ratio is None else f"{e.ratio:+.1%}"
            t.add_row(e.tenant, e.pool, e.resource, before, after, Text(pct, style="red" if e.delta < 0 else "green"))
        console.keep(t, "tenant", "pool", "resource")
        out.print(t)
    for s in c.states:
        out.print(f"State of {s.tenant}: {s.before or 'absent'} → {s.after or 'absent'}", markup=False)
    if c.below_guarantee:
        out.print("[bold red]Below their tier's guarantee after the change:[/bold red]")
        for m in c.below_guarantee:
            flag = " (new)" if m.new else " (already before)"
            out.print(f"  {m.tenant} in {m.pool}: {', '.join(m.resources)}{flag}", markup=False)
    else:
        out.print("Every served tenant keeps its tier's guarantee.")
    if explain:
        for tenant, lines in result.explanations.items():
            out.print(f"\n[bold]Why {tenant} gets what it gets after the change[/bold]")
            for line in lines:
                out.print("  " + line, markup=False)
