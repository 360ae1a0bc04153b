"""``dctenant request increase|list|approve|reject|export``: quota-increase requests.

Tenants file requests and staff decide them through the self-service API; a decision is a row of
the database that every replica and the next ``dctenant plan`` see. ``export`` is staff's explicit
step that carries approved increases into ``quotas/``: it works on the database and the quotas
checkout directly and prints a patch (or, with ``--write``, edits the tenant files), keeping the
files' comments, key order and quoting.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import click

from dctenant.cli import options
from dctenant.cli.commands import ns

COLUMNS = ("id", "tenant", "pool", "mode", "amounts", "state", "result", "decidedBy")
GROUPS = ("storage/", "bandwidth/")


def amounts(items: Sequence[str], *, flag: str) -> dict[str, Any]:
    """``RESOURCE=AMOUNT`` pairs (``cpu=8``, ``memory=16Gi``, ``storage/ssd-standard=1Ti``) as a quota map."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, amount = item.partition("=")
        key, amount = key.strip(), amount.strip()
        if not sep or not key or not amount:
            raise click.BadParameter(f"{item!r} is not RESOURCE=AMOUNT, e.g. cpu=8 or memory=16Gi", param_hint=flag)
        key = "nvidia.com/gpu" if key == "gpu" else key
        group = next((g for g in GROUPS if key.startswith(g)), None)
        if group is not None:
            out.setdefault(group.rstrip("/"), {})[key.removeprefix(group)] = amount
        else:
            out[key] = amount
    return out


@click.group("request")
def command() -> None:
    """File, decide and export quota-increase requests."""


@command.command("increase")
@click.option("--pool", required=True, help="Pool whose demand should grow.")
@click.option("--add", "add", multiple=True, metavar="RESOURCE=AMOUNT",
              help="Add this much to the demand (repeatable), e.g. --add cpu=8 --add memory=16Gi.")
@click.option("--to", "to", multiple=True, metavar="RESOURCE=AMOUNT",
              help="Set the demand to this (repeatable), e.g. --to cpu=20.")
@click.option("--reason", required=True, help="Why the tenant needs more.")
@click.option("--tenant", help="Tenant (default: the token's).")
@ns.connection()
@options.output
def increase(pool: str, add: tuple[str, ...], to: tuple[str, ...], reason: str, tenant: str | None,
             server: str | None, token: str | None, output: str) -> None:
    """Ask for a larger demand in one pool: --add a difference or --to an absolute amount (one of them)."""
    from dctenant.cli import console

    if bool(add) == bool(to):
        raise click.UsageError("give --add RESOURCE=AMOUNT (a difference) or --to RESOURCE=AMOUNT (the new "
                               "demand), not both and not neither")
    mode, items = ("add", add) if add else ("to", to)
    service = ns.remote(server, token)
    body = {"pool": pool, mode: amounts(items, flag=f"--{mode}"), "reason": reason}
    row = service.call("POST", f"/v1/tenants/{ns.tenant_of(service, tenant)}/requests", body=body)
    console.emit(ns.Answer(row), output=output, table=lambda: ns.table("Request filed", [row], COLUMNS))


@command.command("list")
@click.option("--state", type=click.Choice(["pending", "approved", "rejected"]), help="Only these (staff).")
@click.option("--tenant", help="One tenant's requests.")
@ns.connection()
@options.output
def list_(state: str | None, tenant: str | None, server: str | None, token: str | None, output: str) -> None:
    """List requests: a tenant token sees its own, a staff token all."""
    from dctenant.cli import console

    service = ns.remote(server, token)
    me = service.call("GET", "/v1/whoami")
    if tenant or me.get("tenant"):
        rows = service.call("GET", f"/v1/tenants/{tenant or me['tenant']}/requests")
        rows = [r for r in rows if state is None or r["state"] == state]
    else:
        rows = service.call("GET", "/v1/requests", params={"state": state} if state else None)
    console.emit(ns.Answer({"requests": rows}), output=output, table=lambda: ns.table("Requests", rows, COLUMNS))


def _decide(verb: str) -> click.Command:
    @click.command(verb)
    @click.argument("request_id", type=int)
    @click.option("--reason", default="", help="Recorded with the decision.")
    @ns.connection()
    @options.output
    def decide(request_id: int, reason: str, server: str | None, token: str | None, output: str) -> None:
        from dctenant.cli import console

        row = ns.remote(server, token).call("POST", f"/v1/requests/{request_id}/{verb}", body={"reason": reason})
        console.emit(ns.Answer(row), output=output, table=lambda: ns.table(f"Request {verb}d", [row], COLUMNS))

    decide.help = f"{verb.capitalize()} a pending request (staff)."
    return decide


command.add_command(_decide("approve"))
command.add_command(_decide("reject"))


@command.command("export")
@options.quotas_path
@click.option("--request", "request_ids", type=int, multiple=True, metavar="ID",
              help="Only these approved requests (repeatable; default: every approved one not yet exported).")
@click.option("--write", is_flag=True, help="Edit the tenant files in PATH instead of printing a patch.")
@click.option("--ledger", "database", envvar="DCTENANT_LEDGER", metavar="URL", required=True,
              help="The service's database (the ledger's URL or SQLite file).")
@options.output
def export(path: str, request_ids: tuple[int, ...], write: bool, database: str, output: str) -> None:
    """Carry approved increases into quotas/: print a patch (or edit the files with --write), staff merge it."""
    import datetime as dt

    from dctenant.cli import console
    from dctenant.clients import selfservice_db
    from dctenant.ops import increasing

    store = selfservice_db.Store(selfservice_db.store_url(database))
    try:
        result = increasing.export(path, store=store, request_ids=request_ids, write=write,
                                   at=dt.datetime.now(dt.UTC))
    finally:
        store.close()

    def show() -> None:
        if result.written:
            console.stderr.print(f"wrote {', '.join(sorted(result.files)) or 'nothing'} for request(s) "
                                 f"{', '.join(map(str, result.requests)) or 'none'}", markup=False)
        else:
            click.echo(result.patch, nl=False)  # verbatim: a patch must not be wrapped or styled

    console.emit(result, output=output, table=show)
