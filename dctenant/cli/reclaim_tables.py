"""The rich output of ``dctenant reclaim``: idle envelope per tenant and what others would gain."""

from __future__ import annotations

from decimal import Decimal

from rich.text import Text

from dctenant.cli import console
from dctenant.ops import reclaim_planning


def show(result: reclaim_planning.ReclaimResult) -> None:
    out = console.stdout
    m = result.method
    days = m.window_seconds / 86400
    out.print(f"[bold]Reclaim[/bold] over {days:g} days to {result.at:%Y-%m-%d %H:%M} UTC from {result.source}: "
              f"need = p{m.quantile * 100:g} (cpu, GPU, bandwidth), peak + {m.margin:.0%} (memory, storage)")
    t = console.new_table("Envelope vs observed need", "tenant", "pool", "resource", "envelope", "need", "idle",
                          "proposed", right=("envelope", "need", "idle", "proposed"))
    for r in result.rows:
        if r.need is None:
            need, idle = Text("no data", style="dim"), Text("unknown", style="dim")
        else:
            need = Text(console.amount(r.resource, r.need) + ("" if r.coverage >= 1 else f" ({r.coverage:.0%} seen)"))
            ratio = r.idle_ratio
            idle = Text(f"{ratio:.0%}" if ratio is not None else "—", style="yellow" if r.proposed else "")
        proposed = console.amount(r.resource, r.proposed) if r.proposed is not None else \
            (f"held: {r.held}" if r.held else "")
        t.add_row(r.tenant, r.pool, r.resource, console.amount(r.resource, r.envelope), need, idle, proposed)
    console.keep(t, "tenant", "pool", "resource")
    out.print(t)
    if result.gains:
        g = console.new_table("Others would gain (plan --what-if on the proposals)", "tenant", "pool", "resource",
                              "before", "after", right=("before", "after"))
        for e in result.gains:
            g.add_row(e.tenant, e.pool, e.resource, console.amount(e.resource, e.before or Decimal(0)),
                      console.amount(e.resource, e.after or Decimal(0)))
        out.print(g)
    elif not any(r.proposed for r in result.rows):
        out.print("No envelope is idle enough to propose a change.")
