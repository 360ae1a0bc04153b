"""``dctenant stack`` and the Pulumi stacks: what one pool's stack holds, and running it.

``describe`` is what the stack program in ``stacks/datacentre`` declares: the renderer's objects of
one pool (``render.kubernetes.render_pool``, never re-described here), grouped into the
cluster-wide objects and each tenant's objects; the pool's Prometheus rules as ``dctenant render``
writes them (a ``PrometheusRule``, or the rules file in a ConfigMap where the cluster has no
prometheus-operator); and the stack outputs (per tenant its namespaces and envelope, per pool the
allocated amount against capacity). It is pure, so the program and the tests read the same value.

``held_objects`` is the one thing the program reads from the cluster: which of the pool's quotas and
bandwidth ConfigMaps the enforcer has marked (``dctenant.io/enforcement``), so that the stack
declares them with ``ignoreChanges`` on their held map and never writes the rendered values back.

``run`` is the ``dctenant stack preview|up|refresh`` use-case: it checks the pool and the project
directory, chooses the backend (a local file backend under dctenant's state directory unless
``PULUMI_BACKEND_URL`` says otherwise) and hands the stack to ``clients.pulumi``. It never prints.
"""

from __future__ import annotations

import datetime as dt
import os
import pathlib
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from dctenant.clients import files, kube
from dctenant.clients import pulumi as pulumi_client
from dctenant.domain import allocations, changes, quotas, resources
from dctenant.engine import diffing
from dctenant.errors import UserError, suggestion
from dctenant.loaders import loading
from dctenant.ops import planning, rendering
from dctenant.render import kubernetes, prometheus_rules

ACTIONS = ("preview", "up", "refresh")
DEFAULT_PROJECT = "stacks/datacentre"
STATE_ENVIRONMENT = "DCTENANT_STATE_DIR"
BACKEND_ENVIRONMENT = "PULUMI_BACKEND_URL"
PASSPHRASE_ENVIRONMENT = ("PULUMI_CONFIG_PASSPHRASE", "PULUMI_CONFIG_PASSPHRASE_FILE")
# The stack program reads these (see stacks/datacentre/dctenant_stack/program.py): the quotas
# directory the CLI was given wins over the stack's configured one.
QUOTAS_ENVIRONMENT = loading.ENVIRONMENT
RULES_CONFIG_MAP = "dctenant-prometheus-rules"


@dataclass(frozen=True, kw_only=True)
class TenantStack:
    """One tenant's part of a pool's stack: its objects in render order, and its outputs."""

    tenant: str
    namespaces: tuple[str, ...]
    envelope: Mapping[str, Decimal]
    manifests: tuple[kubernetes.Manifest, ...]

    def outputs(self) -> dict[str, Any]:
        return {"namespaces": list(self.namespaces),
                "envelope": {k: resources.plain(self.envelope[k]) for k in resources.ordered(self.envelope)}}


@dataclass(frozen=True, kw_only=True)
class PoolStack:
    """Everything one pool's stack declares, as plain manifests and plain outputs."""

    pool: str
    at: dt.date
    cluster: tuple[kubernetes.Manifest, ...]
    tenants: tuple[TenantStack, ...]
    monitoring: tuple[kubernetes.Manifest, ...]
    capacity: tuple[allocations.PoolResource, ...]
    warnings: tuple[str, ...] = ()

    @property
    def manifests(self) -> tuple[kubernetes.Manifest, ...]:
        return self.cluster + tuple(m for t in self.tenants for m in t.manifests) + self.monitoring

    def outputs(self) -> dict[str, Any]:
        """The stack outputs: ``pool`` (allocated vs capacity per resource) and ``tenants``."""
        plain = resources.plain
        return {
            "pool": {
                "name": self.pool,
                "at": self.at.isoformat(),
                "resources": {r.key: {"capacity": plain(r.capacity), "allocatable": plain(r.allocatable),
                                      "allocated": plain(r.allocated), "free": plain(r.free)}
                              for r in self.capacity},
            },
            "tenants": {t.tenant: t.outputs() for t in self.tenants},
        }


@dataclass(frozen=True, kw_only=True)
class HeldObject:
    """An object the enforcer marked: its identity, what is in force since when, and the held map."""

    kind: str
    namespace: str
    name: str
    action: str
    since: str = ""

    @property
    def key(self) -> tuple[str, str, str]:
        """(kind, namespace, name), as the stack program keys what it declares."""
        return (self.kind, self.namespace, self.name)

    @property
    def fields(self) -> tuple[str, ...]:
        """The property paths the stack ignores (``spec.hard``, ``data``): the held map of the kind."""
        return (".".join(changes.HELD_FIELDS[self.kind]),)

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "namespace": self.namespace, "name": self.name, "action": self.action,
                "since": self.since or None, "ignored": list(self.fields)}


HeldLookup = Callable[[str], Sequence[HeldObject]]
"""Given a kubeconfig context, the objects enforcement holds there (``held_objects``, or a fake in tests)."""


def held_objects(context: str) -> tuple[HeldObject, ...]:
    """The objects the enforcer has marked in the cluster of ``context``.

    One list request per kind the enforcer changes (``changes.HELD_FIELDS``: ResourceQuota,
    ConfigMap) with the managed-by label selector, as ``dctenant diff`` reads them. A cluster that
    cannot be reached is a ``BackendError``, never an empty answer.
    """
    cluster = kube.connect(context=context)
    try:
        observed = [item for name in changes.HELD_FIELDS for item in cluster.list_managed(kube.kind(name))]
    finally:
        cluster.close()
    out = []
    for obj in observed:
        mark = diffing.enforcement(obj)
        if mark is None:
            continue
        meta = obj.get("metadata") or {}
        out.append(HeldObject(kind=str(obj["kind"]), namespace=str(meta.get("namespace") or ""),
                              name=str(meta.get("name")), action=mark.action, since=mark.since))
    return tuple(sorted(out, key=lambda h: h.key))


def describe(
    model: quotas.Quotas, allocation: allocations.Allocation, *, pool: str, prometheus_operator: bool = True
) -> PoolStack:
    """Split the renderer's objects of ``pool`` into the cluster's and each tenant's, add its rules (pure).

    An object belongs to the tenant named by its ``dctenant.io/tenant`` label; the rest are the
    cluster's. Tenants are in id order; each tenant's objects keep the renderer's order.
    """
    check_pool(model, pool)
    cluster: list[kubernetes.Manifest] = []
    by_tenant: dict[str, list[kubernetes.Manifest]] = {}
    for manifest in kubernetes.render_pool(model, allocation, pool=pool):
        tenant = manifest["metadata"].get("labels", {}).get(kubernetes.TENANT_LABEL)
        if tenant is None:
            cluster.append(manifest)
        else:
            by_tenant.setdefault(tenant, []).append(manifest)
    tenants = []
    for tenant_id in sorted(set(by_tenant) | {t for t, a in allocation.tenants.items() if pool in a.shares}):
        objects = tuple(by_tenant.get(tenant_id, ()))
        share = allocation.tenants[tenant_id].shares.get(pool) if tenant_id in allocation.tenants else None
        tenants.append(TenantStack(
            tenant=tenant_id,
            namespaces=tuple(m["metadata"]["name"] for m in objects if m["kind"] == "Namespace"),
            envelope=dict(share.envelope) if share else {},
            manifests=objects,
        ))
    return PoolStack(pool=pool, at=allocation.at, cluster=tuple(cluster), tenants=tuple(tenants),
                     monitoring=monitoring(model, allocation, pool=pool, prometheus_operator=prometheus_operator),
                     capacity=allocation.pools[pool].resources, warnings=allocation.warnings)


def monitoring(
    model: quotas.Quotas, allocation: allocations.Allocation, *, pool: str, prometheus_operator: bool
) -> tuple[kubernetes.Manifest, ...]:
    """The pool's Prometheus rules, exactly as ``dctenant render`` writes them, and the Grafana dashboards.

    With the prometheus-operator: its ``PrometheusRule``. Without: a ConfigMap in the same
    namespace holding the rules file byte for byte, for a Prometheus that loads rule files from a
    mounted ConfigMap. A stack setting chooses, because a preview cannot rely on finding the CRD.
    The dashboards are ConfigMaps labelled for Grafana's sidecar, exactly as ``dctenant dashboards``
    generates them.
    """
    files = rendering.rule_files(model, allocation)
    rule_object = files[f"{pool}/{prometheus_rules.RULE_OBJECT_FILE}"][0]
    dashboards = rendering.dashboard_files(model)[f"{pool}/{rendering.DASHBOARDS_FILE}"]
    if prometheus_operator:
        return (rule_object, *dashboards)
    meta = rule_object["metadata"]
    return ({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": RULES_CONFIG_MAP, "namespace": meta["namespace"], "labels": dict(meta["labels"])},
        "data": {f"dctenant-{pool}.rules.yaml": kubernetes.to_yaml(files[f"{pool}/{prometheus_rules.RULES_FILE}"])},
    }, *dashboards)


def load(path: str | os.PathLike[str], *, pool: str, at: dt.date, prometheus_operator: bool = True) -> PoolStack:
    """Load ``path``, allocate it as of ``at`` and describe ``pool``'s stack."""
    model = loading.load(path)
    return describe(model, planning.allocate(model, at=at), pool=pool, prometheus_operator=prometheus_operator)


def check_pool(model: quotas.Quotas, pool: str) -> None:
    names = model.datacentre.pool_names
    if pool not in names:
        hint = suggestion(pool, names)
        raise UserError(f'no pool "{pool}" in the data centre (pools: {", ".join(names)})'
                        + (f"; {hint}" if hint else ""), location="--pool")


@dataclass(frozen=True, kw_only=True)
class StackResult:
    """What ``dctenant stack`` did: the action, the stack, the resource changes and (for up) the outputs."""

    action: str
    pool: str
    backend: str
    changes: Mapping[str, int]
    outputs: Mapping[str, Any] = field(default_factory=dict)

    @property
    def pending(self) -> bool:
        """True when preview would change something or refresh found drift (``--exit-code`` → 3)."""
        return any(n for op, n in self.changes.items() if op != "same")

    def as_dict(self) -> dict[str, Any]:
        return {"kind": "StackResult", "action": self.action, "pool": self.pool, "backend": self.backend,
                "changes": dict(self.changes), "pending": self.pending, "outputs": dict(self.outputs)}


def state_dir() -> pathlib.Path:
    """dctenant's own state: ``$DCTENANT_STATE_DIR``, else ``$XDG_STATE_HOME/dctenant``, else ~/.local/state."""
    explicit = os.environ.get(STATE_ENVIRONMENT)
    if explicit:
        return pathlib.Path(explicit)
    base = os.environ.get("XDG_STATE_HOME") or str(pathlib.Path.home() / ".local" / "state")
    return pathlib.Path(base) / "dctenant"


def backend_url() -> str:
    """``$PULUMI_BACKEND_URL`` when set, otherwise a file backend under the state directory."""
    configured = os.environ.get(BACKEND_ENVIRONMENT)
    if configured:
        return configured
    return (state_dir() / "pulumi").resolve().as_uri()


def run(
    action: str,
    *,
    pool: str,
    path: str,
    project: str = DEFAULT_PROJECT,
    policy: bool = True,
    on_output: Callable[[str], None] | None = None,
) -> StackResult:
    """Run ``pulumi preview|up|refresh`` on ``pool``'s stack in ``project`` through the Automation API.

    The pool and project are checked first; then the pulumi CLI must be installed
    (``clients.pulumi.PulumiNotInstalledError`` otherwise).
    """
    if action not in ACTIONS:
        raise UserError(f'unknown action "{action}"; choose one of {", ".join(ACTIONS)}')
    project_dir = pathlib.Path(project).resolve()
    if not (project_dir / "Pulumi.yaml").is_file():
        raise UserError(f"{project} is not a Pulumi project (no Pulumi.yaml); run from the repository "
                        "or pass --project", location="--project")
    model = loading.load(path)
    check_pool(model, pool)
    stacks = sorted(p.name.removeprefix("Pulumi.").removesuffix(".yaml") for p in project_dir.glob("Pulumi.*.yaml"))
    if pool not in stacks:
        raise UserError(f"{project} has no Pulumi.{pool}.yaml; add the pool's stack settings (see docs/stacks.md)",
                        location="--pool")
    pulumi_client.find_cli()
    backend = backend_url()
    if backend.startswith("file:"):
        if not any(name in os.environ for name in PASSPHRASE_ENVIRONMENT):
            raise UserError("a local Pulumi backend needs PULUMI_CONFIG_PASSPHRASE (may be empty) or "
                            "PULUMI_CONFIG_PASSPHRASE_FILE set; see docs/stacks.md")
        files.ensure_directory(pathlib.Path(backend.removeprefix("file://")))
    env = {
        BACKEND_ENVIRONMENT: backend,
        QUOTAS_ENVIRONMENT: str(pathlib.Path(path).resolve()),
        # The program runs under this interpreter, where dctenant is installed.
        "PULUMI_PYTHON_CMD": sys.executable,
    }
    packs = [str(project_dir.parent / "policy")] if policy and action != "refresh" else []
    outcome = pulumi_client.run(action, work_dir=str(project_dir), stack=pool, env=env, policy_packs=packs,
                                on_output=on_output)
    return StackResult(action=action, pool=pool, backend=backend, changes=outcome.changes, outputs=outcome.outputs)
