"""``dctenant show [PATH]``: the data centre at a glance (pools, capacity, tenants, licences)."""

from __future__ import annotations

import datetime as dt

import click

from dctenant.cli import options


@click.command("show")
@options.quotas_path
@options.at
@options.output
def command(path: str, at: dt.date, output: str) -> None:
    """Show pools (capacity, reserve, allocatable, demand) and tenants (tier, licence, demand)."""
    from dctenant.cli import console
    from dctenant.ops import describing

    summary = describing.show(path, at=at)

    def table() -> None:
        console.stdout.print(f"[bold]{summary.name_en}[/bold] — {summary.name_fa}  (as of {summary.at})")
        for pool in summary.pools:
            t = console.new_table(f"Pool {pool.name} — {pool.site} (context {pool.context})",
                                  "resource", "capacity", "overcommit", "reserve", "allocatable", "demand",
                                  right=("capacity", "overcommit", "reserve", "allocatable", "demand"))
            for line in pool.lines:
                over = line.demand > line.allocatable
                t.add_row(line.key, console.amount(line.key, line.capacity), str(line.overcommit),
                          console.amount(line.key, line.reserve), console.amount(line.key, line.allocatable),
                          console.styled(console.amount(line.key, line.demand), "red" if over else ""))
            console.stdout.print(t)
        t = console.new_table("Tenants", "tenant", "name", "نام", "tier", "licence", "state", "pools",
                              "namespaces")
        for v in summary.tenants:
            days = v.days_to_expiry
            detail = f"{days} days left" if days >= 0 else f"expired {-days} days ago"
            t.add_row(v.id, v.name_en, v.name_fa, v.tier, f"{v.licence} (expires {v.expires})",
                      console.state(v.state.value, detail), ", ".join(v.demand), str(len(v.namespaces)))
        console.stdout.print(t)

    console.emit(summary, output=output, table=table)
