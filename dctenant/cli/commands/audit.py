"""``dctenant audit``: verify the ledger, sign and prove its checkpoints, run the witness, read the log.

Exit codes: 0 intact, 1 the ledger was tampered with (or an error), 2 a malformed anchor,
checkpoint, report or option (a usage error naming the expected format).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import sys
from collections.abc import Iterator

import click

from dctenant.cli import options

EXIT_BROKEN = 1


@click.group("audit")
def command() -> None:
    """Verify, sign and prove the audit ledger; run the regulator's witness."""


@contextlib.contextmanager
def _usage() -> Iterator[None]:
    """A malformed anchor, checkpoint, key name or report is a usage error (exit 2), not a verdict."""
    from dctenant.ops import auditing

    try:
        yield
    except auditing.MalformedInputError as exc:
        raise click.UsageError(str(exc)) from None


def _write(text: str) -> None:
    sys.stdout.write(text)


@command.command("verify")
@options.ledger
@click.option("--anchor", metavar="HASH", help="A ledger hash recorded earlier (by a report) that must still exist.")
@click.option("--report", "report_file", metavar="FILE", type=click.Path(dir_okay=False),
              help="A JSON report: its recorded ledger hash and embedded checkpoint must still hold.")
@click.option("--checkpoint", "checkpoint_files", metavar="FILE", multiple=True, type=click.Path(dir_okay=False),
              help="A signed checkpoint the ledger must still extend (repeatable).")
@click.option("--public-key", metavar="FILE", help="The log's public key (default: $DCTENANT_AUDIT_PUBLIC_KEY, "
              "else audit.pub beside the default key).")
@options.output
def verify(ledger: str | None, anchor: str | None, report_file: str | None, checkpoint_files: tuple[str, ...],
           public_key: str | None, output: str) -> None:
    """Recompute the chain and the Merkle tree and hold them to every signed checkpoint; exit 1 at the first
    event that differs (edited, deleted, inserted, reordered, truncated, rewritten, unsigned)."""
    from dctenant.cli import console
    from dctenant.clients import ledger_db
    from dctenant.ops import auditing

    with _usage():
        anchor = None if anchor is None else auditing.parse_anchor(anchor)
        with ledger_db.open_ledger(ledger, read_only=True) as opened:
            result = auditing.verify(opened, anchor=anchor, report_file=report_file,
                                     checkpoint_files=checkpoint_files, public_key=public_key)

    def table() -> None:
        console.stdout.print(result.summary(), markup=False)
        for line in result.notes:
            console.stderr.print(f"note: {line}", markup=False)

    console.emit(result, output=output, table=table)
    if not result.intact:
        if output == "table":
            console.stderr.print("the audit ledger has been tampered with", style="red")
        sys.exit(EXIT_BROKEN)


@command.command("keygen")
@click.option("--origin", default="dctenant.local/ledger", show_default=True, metavar="NAME",
              help="The log's name: the first line of every checkpoint, and the key's name.")
@click.option("--key", "key_file", metavar="FILE", help="Where to write the private key (default: "
              "$XDG_CONFIG_HOME/dctenant/audit.key); the public key goes beside it as .pub.")
@options.output
def keygen(origin: str, key_file: str | None, output: str) -> None:
    """Make the log's Ed25519 key pair (the private key readable by you only, never in the ledger)."""
    from dctenant.cli import console
    from dctenant.ops import auditing

    with _usage():
        result = auditing.keygen(origin=origin, private_file=key_file)
    console.emit(result, output=output, table=lambda: console.stdout.print(
        f"private key: {result.private} (mode 0600; keep it off the database host)\npublic key:  {result.public}\n"
        f"{result.verifier}", markup=False))


@command.command("checkpoint")
@options.ledger
@click.option("--key", "key_file", metavar="FILE", help="The log's private key (default: $DCTENANT_AUDIT_KEY, "
              "$DCTENANT_AUDIT_KEY_FILE, else $XDG_CONFIG_HOME/dctenant/audit.key).")
@click.option("--out", metavar="FILE", help="Also write the signed checkpoint to FILE.")
@options.output
def checkpoint(ledger: str | None, key_file: str | None, out: str | None, output: str) -> None:
    """Sign the ledger's current tree head (a C2SP checkpoint), store it in the ledger and print it."""
    from dctenant.cli import console
    from dctenant.clients import ledger_db
    from dctenant.ops import auditing

    with ledger_db.open_ledger(ledger, signer=None) as opened:
        result = auditing.checkpoint(opened, key_file=key_file, out=out)
    console.emit(result, output=output, table=lambda: _write(result.note.text()))


@command.command("prove")
@options.ledger
@click.option("--event", type=click.IntRange(min=1), metavar="N", help="The event to prove included.")
@click.option("--since-size", type=click.IntRange(min=0), metavar="N",
              help="Instead: a witness request proving the newest checkpoint extends the tree of N events.")
@click.option("--checkpoint", "checkpoint_file", metavar="FILE", type=click.Path(dir_okay=False),
              help="Prove against this signed checkpoint (default: the newest stored one).")
@click.option("--public-key", metavar="FILE", help="The log's public key, to check --checkpoint.")
@click.option("--out", metavar="FILE", help="Write the witness request to FILE (with --since-size).")
@options.output
def prove(ledger: str | None, event: int | None, since_size: int | None, checkpoint_file: str | None,
          public_key: str | None, out: str | None, output: str) -> None:
    """Print an RFC 6962 inclusion proof of an event, or a consistency proof for the witness."""
    from dctenant.cli import console
    from dctenant.clients import files, ledger_db
    from dctenant.ops import auditing

    if (event is None) == (since_size is None):
        raise click.UsageError("give exactly one of --event N (inclusion) and --since-size N (consistency)")
    with _usage(), ledger_db.open_ledger(ledger, read_only=True) as opened:
        if since_size is not None:
            request = auditing.witness_request(opened, old_size=since_size)
            if out is not None:
                import pathlib

                files.write_atomically(pathlib.Path(out), request.request.text())
            console.emit(request, output=output, table=lambda: _write(request.request.text()))
            return
        result = auditing.prove(opened, event=event or 0, checkpoint_file=checkpoint_file, public_key=public_key)

    def table() -> None:
        data = result.as_dict()
        for key in ("event", "eventHash", "leafIndex", "leafHash", "treeSize", "rootHash"):
            console.stdout.print(f"{key}: {data[key]}", markup=False)
        for i, step in enumerate(data["proof"]):
            console.stdout.print(f"proof[{i}]: {step}", markup=False)

    console.emit(result, output=output, table=table)


@command.group("witness")
def witness() -> None:
    """The regulator's witness: cosign checkpoints only when the log only grew."""


@witness.command("init")
@click.option("--state", metavar="DIR", help="The witness's state directory (default "
              "$XDG_STATE_HOME/dctenant-witness).")
@click.option("--name", required=True, metavar="NAME",
              help="The witness's name (its key's name), e.g. regulator.example/witness.")
@click.option("--log-key", "log_key", required=True, metavar="FILE", help="The public key of the log it watches.")
@options.output
def witness_init(state: str | None, name: str, log_key: str, output: str) -> None:
    """Make the witness's own key and remember which log it watches."""
    from dctenant.cli import console
    from dctenant.ops import witnessing

    with _usage():
        result = witnessing.init(state=state, name=name, log_key_file=log_key)
    console.emit(result, output=output, table=lambda: console.stdout.print(
        f"witness {result.name} in {result.directory}\npublic key: {result.public_key}", markup=False))


@witness.command("cosign")
@click.argument("request_file", metavar="REQUEST", type=click.Path(dir_okay=False))
@click.option("--state", metavar="DIR", help="The witness's state directory.")
@click.option("--out", metavar="FILE", help="Also write the cosigned checkpoint to FILE.")
@options.output
def witness_cosign(request_file: str, state: str | None, out: str | None, output: str) -> None:
    """Cosign the request's checkpoint if it extends the last one cosigned (refuse rollbacks and forks)."""
    import time

    from dctenant.cli import console
    from dctenant.ops import auditing, witnessing

    with _usage():
        note = witnessing.cosign(state=state, request_file=request_file, now=int(time.time()), out=out)
    console.emit(auditing.Signed(note=note, path=out), output=output, table=lambda: _write(note.text()))


@witness.command("show")
@click.option("--state", metavar="DIR", help="The witness's state directory.")
@options.output
def witness_show(state: str | None, output: str) -> None:
    """Show the witness's key, the log it watches and the last checkpoint it cosigned."""
    from dctenant.cli import console
    from dctenant.ops import witnessing

    result = witnessing.show(state=state)

    def table() -> None:
        data = result.as_dict()
        for key in ("directory", "name", "publicKey", "logKey", "covers", "rootHash"):
            console.stdout.print(f"{key}: {data[key] if data[key] is not None else 'none yet'}", markup=False)

    console.emit(result, output=output, table=table)


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

    with ledger_db.open_ledger(ledger, read_only=True) as opened:
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
