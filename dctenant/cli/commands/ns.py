"""``dctenant ns list|create|resize|delete``: a tenant's own namespaces, through the self-service API.

The commands talk to ``dctenant serve`` over HTTP. The server and token come from ``--server`` /
``$DCTENANT_SERVER`` and ``--token`` / ``$DCTENANT_TOKEN``, else from the client configuration
file (``clients.http.settings``: ``~/.config/dctenant/client.yaml``, refused when others may read
its token). The service decides (envelope, names, pools) and answers with a problem document when
it refuses, which is printed as one red line. ``create`` sends an Idempotency-Key (a new random
one unless given), so a retry after a lost answer never creates twice.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import click

from dctenant.cli import options

F = TypeVar("F", bound=Callable[..., Any])


class Answer:
    """The service's JSON answer as a result the console can print as JSON/YAML."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data

    def as_dict(self) -> dict[str, Any]:
        return self.data


def connection(*, optional: bool = False) -> Callable[[F], F]:
    """``--server`` and ``--token`` (from the environment by default)."""
    def wrap(func: F) -> F:
        func = click.option("--token", envvar="DCTENANT_TOKEN", metavar="TOKEN", show_envvar=True,
                            help="Bearer token issued by staff.")(func)
        return click.option("--server", envvar="DCTENANT_SERVER", metavar="URL", show_envvar=True,
                            help="Self-service API, e.g. https://dctenant.example (else the client "
                                 "configuration file).")(func)
    return wrap


def remote(server: str | None, token: str | None) -> Any:
    from dctenant.clients import http

    found = http.settings(server=server, token=token)
    if not found.server or not found.token:
        raise click.UsageError("give --server and --token, $DCTENANT_SERVER and $DCTENANT_TOKEN, or both in "
                               f"{http.config_path()} (server: URL, token_file: PATH)")
    service = http.Service(server=found.server, token=found.token)
    click.get_current_context().call_on_close(service.close)
    return service


def tenant_of(service: Any, tenant: str | None) -> str:
    """The tenant given, or the one the token is scoped to."""
    if tenant:
        return tenant
    me = service.call("GET", "/v1/whoami")
    if not me.get("tenant"):
        raise click.UsageError("a staff token needs --tenant")
    return str(me["tenant"])


def table(title: str, rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> None:
    from dctenant.cli import console

    out = console.new_table(title, *columns)
    for row in rows:
        out.add_row(*(_cell(row.get(c)) for c in columns))
    console.stdout.print(out)


def _cell(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in value.items())
    return "" if value is None else str(value)


def quota_options(func: F) -> F:
    """``--cpu --memory --gpu --storage CLASS=AMOUNT --egress --ingress``: a quota in the units of quotas/."""
    for option in reversed((
        click.option("--cpu", help='CPU cores, e.g. "2" or "500m".'),
        click.option("--memory", help="Memory, e.g. 4Gi."),
        click.option("--gpu", help="Whole GPUs."),
        click.option("--storage", multiple=True, metavar="CLASS=AMOUNT", help="Storage per class (repeatable)."),
        click.option("--egress", help="Egress bandwidth, e.g. 1Gbps."),
        click.option("--ingress", help="Ingress bandwidth, e.g. 1Gbps."),
    )):
        func = option(func)
    return func


def quota(cpu: str | None, memory: str | None, gpu: str | None, storage: Sequence[str], egress: str | None,
          ingress: str | None) -> dict[str, Any]:
    out: dict[str, Any] = {k: v for k, v in (("cpu", cpu), ("memory", memory), ("nvidia.com/gpu", gpu)) if v}
    classes = {}
    for item in storage:
        name, sep, amount = item.partition("=")
        if not sep or not name or not amount:
            raise click.BadParameter(f"{item!r} is not CLASS=AMOUNT", param_hint="--storage")
        classes[name] = amount
    if classes:
        out["storage"] = classes
    bandwidth = {k: v for k, v in (("egress", egress), ("ingress", ingress)) if v}
    if bandwidth:
        out["bandwidth"] = bandwidth
    return out


COLUMNS = ("name", "pool", "provisionedBy", "state", "quota")


@click.group("ns")
def command() -> None:
    """Tenants' own namespaces through the self-service API."""


@command.command("list")
@click.option("--tenant", help="Tenant (default: the token's).")
@connection()
@options.output
def list_(tenant: str | None, server: str | None, token: str | None, output: str) -> None:
    """List the tenant's namespaces (staff-declared and self-service)."""
    from dctenant.cli import console

    service = remote(server, token)
    rows = service.call("GET", f"/v1/tenants/{tenant_of(service, tenant)}/namespaces")
    console.emit(Answer({"namespaces": rows}), output=output, table=lambda: table("Namespaces", rows, COLUMNS))


@command.command("create")
@click.argument("name")
@click.option("--pool", required=True, help="Pool (cluster) to create it in.")
@quota_options
@click.option("--tenant", help="Tenant (default: the token's).")
@click.option("--idempotency-key", help="Reuse to retry safely (default: a new random key).")
@connection()
@options.output
def create(name: str, pool: str, cpu: str | None, memory: str | None, gpu: str | None, storage: tuple[str, ...],
           egress: str | None, ingress: str | None, tenant: str | None, idempotency_key: str | None, server: str | None,
           token: str | None, output: str) -> None:
    """Create a namespace inside the tenant's envelope."""
    from dctenant.cli import console

    service = remote(server, token)
    body = {"name": name, "pool": pool, "quota": quota(cpu, memory, gpu, storage, egress, ingress)}
    row = service.call("POST", f"/v1/tenants/{tenant_of(service, tenant)}/namespaces", body=body,
                       headers={"Idempotency-Key": idempotency_key or str(uuid.uuid4())})
    console.emit(Answer(row), output=output, table=lambda: table("Created", [row], COLUMNS))


@command.command("resize")
@click.argument("name")
@quota_options
@click.option("--tenant", help="Tenant (default: the token's).")
@connection()
@options.output
def resize(name: str, cpu: str | None, memory: str | None, gpu: str | None, storage: tuple[str, ...],
           egress: str | None, ingress: str | None, tenant: str | None, server: str | None, token: str | None,
           output: str) -> None:
    """Give a self-service namespace a new quota (the whole quota, not a difference)."""
    from dctenant.cli import console

    service = remote(server, token)
    body = {"quota": quota(cpu, memory, gpu, storage, egress, ingress)}
    row = service.call("PATCH", f"/v1/tenants/{tenant_of(service, tenant)}/namespaces/{name}", body=body)
    console.emit(Answer(row), output=output, table=lambda: table("Resized", [row], COLUMNS))


@command.command("delete")
@click.argument("name")
@click.option("--force", is_flag=True, help="Delete even if it still holds pods or PVCs (recorded).")
@click.option("--tenant", help="Tenant (default: the token's).")
@connection()
@options.output
def delete(name: str, force: bool, tenant: str | None, server: str | None, token: str | None, output: str) -> None:
    """Delete a self-service namespace."""
    from dctenant.cli import console

    service = remote(server, token)
    row = service.call("DELETE", f"/v1/tenants/{tenant_of(service, tenant)}/namespaces/{name}",
                       params={"force": "true"} if force else None)
    console.emit(Answer(row), output=output, table=lambda: table("Deleted", [row], (*COLUMNS, "forced")))
