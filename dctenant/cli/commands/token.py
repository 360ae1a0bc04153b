"""``dctenant token create|list|revoke``: the self-service API's bearer tokens.

Without ``--server`` the command works on the database directly (how the first staff token is
made); with ``--server`` and a staff ``--token`` it goes through the API. A new token's secret is
printed once, on stdout; only its salted hash is kept.
"""

from __future__ import annotations

import re
from typing import Any

import click

from dctenant.cli import options
from dctenant.cli.commands import ns


def _days(_ctx: click.Context, _param: click.Parameter, value: str) -> int:
    match = re.fullmatch(r"(\d{1,4})d", value)
    if match is None:
        raise click.BadParameter(f"{value!r} is not a number of days such as 90d")
    return int(match[1])


def _local(path: str, database: str | None) -> Any:
    from dctenant.ops import selfservice_usecases

    return selfservice_usecases.open_service(path, database=database)


@click.group("token")
def command() -> None:
    """Create, list and revoke self-service API tokens."""


@command.command("create")
@options.quotas_path
@click.option("--tenant", help="Scope the token to this tenant.")
@click.option("--staff", is_flag=True, help="A staff token (all tenants, token and request management).")
@click.option("--auditor", is_flag=True, help="A read-only auditor token (reads every tenant, writes nothing).")
@click.option("--expires", default="90d", show_default=True, callback=_days, help="Lifetime in days, e.g. 90d.")
@click.option("--note", default="", help="Who or what the token is for.")
@ns.connection(optional=True)
@click.option("--ledger", "database", envvar="DCTENANT_LEDGER", metavar="URL", help="Database (local mode).")
@options.output
def create(path: str, tenant: str | None, staff: bool, auditor: bool, expires: int, note: str, server: str | None,
           token: str | None, database: str | None, output: str) -> None:
    """Issue a token; the secret is shown once."""
    from dctenant.cli import console
    from dctenant.ops import selfservice_usecases

    if [staff, auditor, bool(tenant)].count(True) != 1:
        raise click.UsageError("give one of --tenant ID, --staff or --auditor")
    scope = "staff" if staff else "auditor" if auditor else "tenant"
    if server:
        answer = ns.remote(server, token).call("POST", "/v1/tokens", body={
            "scope": scope, "tenant": tenant, "expiresDays": expires, "note": note})
    else:
        service = _local(path, database)
        try:
            issued = service.create_token(selfservice_usecases.LOCAL, tenant=tenant, days=expires, note=note,
                                          auditor=auditor)
            answer = {**selfservice_usecases.token_view(issued.row, now=service.clock()), "token": issued.secret}
        finally:
            service.close()
    result = ns.Answer(answer)
    console.emit(result, output=output, table=lambda: _show_new(answer))


def _show_new(answer: dict[str, Any]) -> None:
    from dctenant.cli import console

    console.stdout.print(answer["token"], markup=False)
    console.stderr.print(f"token {answer['id']} ({answer['scope']}"
                         + (f" {answer['tenant']}" if answer.get("tenant") else "")
                         + f") expires {answer['expiresAt']}; the secret above is not shown again", markup=False)


@command.command("list")
@options.quotas_path
@click.option("--tenant", help="Only this tenant's tokens.")
@ns.connection(optional=True)
@click.option("--ledger", "database", envvar="DCTENANT_LEDGER", metavar="URL", help="Database (local mode).")
@options.output
def list_(path: str, tenant: str | None, server: str | None, token: str | None, database: str | None,
          output: str) -> None:
    """List tokens (never their secrets)."""
    from dctenant.cli import console
    from dctenant.ops import selfservice_usecases

    if server:
        rows = ns.remote(server, token).call("GET", "/v1/tokens", params={"tenant": tenant} if tenant else None)
    else:
        service = _local(path, database)
        try:
            rows = service.tokens(selfservice_usecases.LOCAL, tenant=tenant)
        finally:
            service.close()
    console.emit(ns.Answer({"tokens": rows}), output=output,
                 table=lambda: ns.table("Tokens", rows, ("id", "scope", "tenant", "state", "expiresAt", "note")))


@command.command("revoke")
@click.argument("token_id")
@options.quotas_path
@ns.connection(optional=True)
@click.option("--ledger", "database", envvar="DCTENANT_LEDGER", metavar="URL", help="Database (local mode).")
@options.output
def revoke(token_id: str, path: str, server: str | None, token: str | None, database: str | None,
           output: str) -> None:
    """Revoke token ID at once (``token revoke ID [PATH]``)."""
    from dctenant.cli import console
    from dctenant.ops import selfservice_usecases

    if server:
        row = ns.remote(server, token).call("DELETE", f"/v1/tokens/{token_id}")
    else:
        service = _local(path, database)
        try:
            row = service.revoke_token(selfservice_usecases.LOCAL, token_id)
        finally:
            service.close()
    console.emit(ns.Answer(row), output=output, table=lambda: ns.table("Token", [row], ("id", "tenant", "state")))
