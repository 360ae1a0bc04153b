"""``dctenant audit verify|log``: check the ledger's hash chain, and read its events."""

from __future__ import annotations

import datetime as dt
import sys

import click

from dctenant.cli import options

EXIT_BROKEN = 1


@click.group("audit")
def command() -> None:
    """Show and verify the hash-chained audit ledger."""


@command.command("verify")
@options.ledger
@click.option("--anchor", metavar="HASH", help="A ledger hash recorded earlier (by a report) that must still exist.")
@click.option("--report", "report_file", metavar="FILE", type=click.Path(dir_okay=False),
              help="A JSON report whose recorded ledger hash must still exist.")
@options.output
def verify(ledger: str | None, anchor: str | None, report_file: str | None, output: str) -> None:
    """Recompute the chain; exit 1 at the first edited, deleted, inserted or reordered event."""
    from dctenant.cli import console
    from dctenant.clients import ledger_db
    from dctenant.ops import auditing

    with ledger_db.open_ledger(ledger) as opened:
        result = auditing.verify(opened, anchor=anchor, report_file=report_file)
    console.emit(result, output=output, table=lambda: console.stdout.print(result.summary(), markup=False))
    if not result.intact:
        if output == "table":
            console.stderr.print("the audit ledger has been tampered with", style="red")
        sys.exit(EXIT_BROKEN)


@command.command("log")
@options.ledger
@click.option("--tenant", metavar="TENANT", help="Only events about this tenant.")
@click.option("--kind", "kinds", multiple=True, metavar="KIND", help="Only events of this kind (repeatable).")
@click.option("--since", metavar="WHEN", callback=options.instant, help="From this UTC day or time (ISO 8601).")
@click.option("--until", metavar="WHEN", callback=options.instant, help="Before this UTC day or time (ISO 8601).")
@click.option("-o", "--output", type=click.Choice(("table", "json", "yaml", "csv")), default="table",
              show_default=True, help="Output format.")
def log(ledger: str | None, tenant: str | None, kinds: tuple[str, ...], since: dt.datetime | None,
        until: dt.datetime | None, output: str) -> None:
    """List ledger events, oldest first."""
    from dctenant.cli import console
    from dctenant.clients import ledger_db
    from dctenant.engine import chaining
    from dctenant.ops import auditing

    with ledger_db.open_ledger(ledger) as opened:
        result = auditing.log(opened, tenant=tenant, kinds=kinds, since=since, until=until)
    if output == "csv":
        sys.stdout.write(result.csv())
        return

    def table() -> None:
        t = console.new_table("Audit ledger", "#", "At (UTC)", "Kind", "Actor", "Subject", "Change", "Reason",
                              right=("#",))
        for e in result.events:
            subject = ", ".join(f"{k}={v}" for k, v in e.subject.items())
            change = f"{chaining.canonical(e.before)} → {chaining.canonical(e.after)}"
            t.add_row(str(e.seq), e.at.strftime("%Y-%m-%d %H:%M:%S"), e.kind, e.actor, subject, change, e.reason)
        console.keep(t, "At (UTC)", "Kind")
        console.stdout.print(t)

    console.emit(result, output=output, table=table)
