"""``dctenant request increase|list|approve|reject``: quota-increase requests through the self-service API.

Tenants file requests; staff list and decide them. An approval changes the tenant's demand in
``quotas/`` on the server, after the same validation as any edit of ``quotas/``.
"""

from __future__ import annotations

import click

from dctenant.cli import options
from dctenant.cli.commands import ns

COLUMNS = ("id", "tenant", "pool", "demand", "state", "reason", "decidedBy")


@click.group("request")
def command() -> None:
    """File and decide quota-increase requests."""


@command.command("increase")
@click.option("--pool", required=True, help="Pool whose demand should grow.")
@ns.quota_options
@click.option("--reason", required=True, help="Why the tenant needs more.")
@click.option("--tenant", help="Tenant (default: the token's).")
@ns.connection()
@options.output
def increase(pool: str, cpu: str | None, memory: str | None, gpu: str | None, storage: tuple[str, ...],
             egress: str | None, ingress: str | None, reason: str, tenant: str | None, server: str,
             token: str | None, output: str) -> None:
    """Ask for a larger demand in one pool (absolute amounts of the named resources)."""
    from dctenant.cli import console

    service = ns.remote(server, token)
    body = {"pool": pool, "demand": ns.quota(cpu, memory, gpu, storage, egress, ingress), "reason": reason}
    row = service.call("POST", f"/v1/tenants/{ns.tenant_of(service, tenant)}/requests", body=body)
    console.emit(ns.Answer(row), output=output, table=lambda: ns.table("Request filed", [row], COLUMNS))


@command.command("list")
@click.option("--state", type=click.Choice(["pending", "approved", "rejected"]), help="Only these (staff).")
@click.option("--tenant", help="One tenant's requests.")
@ns.connection()
@options.output
def list_(state: str | None, tenant: str | None, server: str, token: str | None, output: str) -> None:
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
    def decide(request_id: int, reason: str, server: str, token: str | None, output: str) -> None:
        from dctenant.cli import console

        row = ns.remote(server, token).call("POST", f"/v1/requests/{request_id}/{verb}", body={"reason": reason})
        console.emit(ns.Answer(row), output=output, table=lambda: ns.table(f"Request {verb}d", [row], COLUMNS))

    decide.help = f"{verb.capitalize()} a pending request (staff)."
    return decide


command.add_command(_decide("approve"))
command.add_command(_decide("reject"))
