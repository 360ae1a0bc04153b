"""``dctenant diff`` and ``dctenant apply``: bring each pool's cluster to the rendered namespaces.

Per pool: connect to its kubeconfig context, list each managed kind once, plan (pure, in
``engine.diffing``), and for apply execute the plan under the cluster's ``dctenant-apply`` Lease.
The plan is computed after the lease is taken, so two applies never act on the same stale view.
Executing a plan is the same code for every plan: a dry run simply does not execute it.

A failure part-way stops that pool (and the pools after it) and is recorded in the result with
what was and was not done; every step is idempotent, so running apply again finishes the job.

Objects the enforcer marked are held (``engine.diffing``): their enforced fields are not written
back unless staff pass ``release_enforcement``, which overwrites them and removes the marks; every
release is recorded in the ledger as ``enforcement-released``.
"""

from __future__ import annotations

import datetime as dt
import getpass
import os
import socket
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from dctenant.clients import kube, ledger_db
from dctenant.domain import allocations, audit_events, changes, quotas
from dctenant.engine import diffing
from dctenant.errors import BackendError, UserError, missing, suggestion
from dctenant.loaders import loading
from dctenant.ops import planning

LEASE_NAME = "dctenant-apply"
Manifest = changes.Manifest
Renderer = Callable[[quotas.Quotas, allocations.Allocation, str], Sequence[Manifest]]


class Progress(Protocol):
    """How apply reports its work (the CLI draws a bar; the default does nothing)."""

    def start(self, plan: changes.Plan) -> None: ...
    def advance(self, change: changes.Change) -> None: ...


class _Silent:
    def start(self, plan: changes.Plan) -> None:
        pass

    def advance(self, change: changes.Change) -> None:
        pass


@dataclass(frozen=True, kw_only=True)
class Target:
    """One pool to act on: its name, its context and the manifests it should hold."""

    pool: str
    context: str
    desired: Sequence[Manifest]
    system_namespace: str  # where the lease lives (policy spec.kubernetes.systemNamespace)


@dataclass(frozen=True, kw_only=True)
class DiffResult:
    plans: tuple[changes.Plan, ...]
    requests: Mapping[str, int]  # list (and count) requests per pool: the cost of looking

    @property
    def pending(self) -> bool:
        return any(p.pending for p in self.plans)

    def as_dict(self) -> dict[str, Any]:
        return {"pending": self.pending, "pools": [p.as_dict() for p in self.plans]}


@dataclass(frozen=True, kw_only=True)
class Outcome:
    """What apply did on one pool: the plan, the changes done, and if it stopped, where and why."""

    plan: changes.Plan
    done: tuple[changes.Change, ...] = ()
    failed: changes.Change | None = None
    error: str = ""

    @property
    def not_done(self) -> tuple[changes.Change, ...]:
        done = set(map(id, self.done))
        return tuple(c for c in self.plan.writes if id(c) not in done)

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {**self.plan.as_dict(), "done": len(self.done)}
        if self.error:
            data["error"] = self.error
            data["failed"] = self.failed.ref if self.failed else None
            data["notDone"] = [c.ref for c in self.not_done]
        return data


@dataclass(frozen=True, kw_only=True)
class ApplyResult:
    outcomes: tuple[Outcome, ...]
    skipped: tuple[str, ...] = ()  # pools not attempted because an earlier pool failed
    error: str = ""  # a pool that failed before planning (unreachable, lease taken): why

    @property
    def ok(self) -> bool:
        return not self.error and not any(o.error for o in self.outcomes) and not self.skipped

    @property
    def writes(self) -> int:
        return sum(len(o.done) for o in self.outcomes)

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"ok": self.ok, "pools": [o.as_dict() for o in self.outcomes]}
        if self.error:
            data["error"] = self.error
        if self.skipped:
            data["skipped"] = list(self.skipped)
        return data


def targets(path: str, *, at: dt.date, pools: Sequence[str] = (), render: Renderer | None = None) -> tuple[Target, ...]:
    """Load, allocate and render every pool (or the named ones) with its kubeconfig context."""
    model = loading.load(path)
    allocation = planning.allocate(model, at=at)
    names = model.datacentre.pool_names
    for name in pools:
        if name not in names:
            hint = suggestion(name, names)
            raise UserError(f"no pool {name!r} in the data centre" + (f"; {hint}" if hint else ""),
                            location="--pool")
    chosen = [n for n in names if not pools or n in pools]
    draw = render or _render
    system = model.policy.kubernetes.system_namespace
    return tuple(Target(pool=n, context=model.datacentre.pool(n).context, desired=tuple(draw(model, allocation, n)),
                        system_namespace=system) for n in chosen)


def diff(targets: Sequence[Target], *, kubeconfig: str | None = None, prune_namespaces: bool = False,
         release_enforcement: bool = False) -> DiffResult:
    """The plan of every target pool, read from its live cluster; writes nothing."""
    plans: list[changes.Plan] = []
    requests: dict[str, int] = {}
    for target in targets:
        cluster = kube.connect(context=target.context, kubeconfig=kubeconfig)
        try:
            plans.append(observe(cluster, target, prune_namespaces=prune_namespaces,
                                 release_enforcement=release_enforcement))
            requests[target.pool] = sum(cluster.requests.values())
        finally:
            cluster.close()
    return DiffResult(plans=tuple(plans), requests=requests)


def observe(cluster: kube.Cluster, target: Target, *, prune_namespaces: bool = False,
            release_enforcement: bool = False) -> changes.Plan:
    """List each managed kind once, look inside stale namespaces if pruning them, and plan."""
    observed = [obj for what in kube.MANAGED for obj in cluster.list_managed(what)]
    occupancy: dict[str, changes.Occupancy] = {}
    if prune_namespaces:
        for namespace in diffing.stale_namespaces(target.desired, observed):
            occupancy[namespace] = cluster.occupancy(namespace)
    return diffing.plan(target.desired, observed, pool=target.pool, context=target.context,
                        prune_namespaces=prune_namespaces, occupancy=occupancy,
                        release_enforcement=release_enforcement)


def apply(targets: Sequence[Target], *, kubeconfig: str | None = None, force_conflicts: bool = False,
          prune_namespaces: bool = False, progress: Progress | None = None, holder: str | None = None,
          ledger: ledger_db.Ledger | None = None, actor: str = "", release_enforcement: bool = False) -> ApplyResult:
    """Apply every target pool in turn under its cluster's lease; stop at the first pool that fails.

    A pool that cannot even be planned (unreachable, lease held by another apply) raises when it is
    the first; after pools already applied, it is recorded so that their results are still shown.
    With a ``ledger``, every change done (also those of a pool that failed part-way) is recorded there.
    """
    outcomes: list[Outcome] = []
    for i, target in enumerate(targets):
        rest = tuple(t.pool for t in targets[i + 1:])
        try:
            outcome = _apply_pool(target, kubeconfig=kubeconfig, force_conflicts=force_conflicts,
                                  prune_namespaces=prune_namespaces, progress=progress or _Silent(),
                                  holder=holder or _holder(), release_enforcement=release_enforcement)
        except BackendError as exc:
            if not outcomes:
                raise
            return ApplyResult(outcomes=tuple(outcomes), error=f"pool {target.pool}: {exc}", skipped=rest)
        outcomes.append(outcome)
        if ledger is not None:
            record(ledger, outcome, actor=actor or ledger_db.os_actor())
        if outcome.error:
            return ApplyResult(outcomes=tuple(outcomes), skipped=rest)
    return ApplyResult(outcomes=tuple(outcomes))


def _apply_pool(target: Target, *, kubeconfig: str | None, force_conflicts: bool,
                prune_namespaces: bool, progress: Progress, holder: str, release_enforcement: bool) -> Outcome:
    cluster = kube.connect(context=target.context, kubeconfig=kubeconfig)
    system_namespace = target.system_namespace
    try:
        namespace = next((m for m in target.desired
                          if m.get("kind") == "Namespace" and m["metadata"]["name"] == system_namespace), None)
        with kube.holding(cluster, namespace=system_namespace, name=LEASE_NAME, holder=holder,
                          namespace_manifest=namespace) as lease:
            plan = observe(cluster, target, prune_namespaces=prune_namespaces,
                           release_enforcement=release_enforcement)
            return execute(cluster, plan, force_conflicts=force_conflicts, progress=progress, tick=lease.renew)
    finally:
        cluster.close()


def execute(cluster: kube.Cluster, plan: changes.Plan, *, force_conflicts: bool = False,
            progress: Progress | None = None, tick: Callable[[], None] = lambda: None) -> Outcome:
    """Carry out a plan's writes in order; on an API error, stop and say what was and was not done.

    An update planned with ``force`` (its differing fields belong to dctenant's own managers only)
    is applied with force; a released one then has the enforcer's marks removed.
    """
    report = progress or _Silent()
    report.start(plan)
    done: list[changes.Change] = []
    for change in plan.writes:
        try:
            if change.op is changes.ChangeOp.PRUNE:
                cluster.delete(kind_name=change.kind, name=change.name, namespace=change.namespace)
            else:
                if change.manifest is None:  # create and update always carry the manifest
                    raise missing(f"the manifest of {change.kind} {change.name}")
                cluster.apply(change.manifest, force_conflicts=force_conflicts or change.force)
                if change.hold is not None and change.hold.released:
                    cluster.unmark(kind_name=change.kind, name=change.name, namespace=change.namespace)
            done.append(change)
            report.advance(change)
            tick()
        except BackendError as exc:
            return Outcome(plan=plan, done=tuple(done), failed=change, error=str(exc))
    return Outcome(plan=plan, done=tuple(done))


_EVENT_KINDS = {("Namespace", changes.ChangeOp.CREATE): audit_events.NAMESPACE_CREATED,
                ("Namespace", changes.ChangeOp.PRUNE): audit_events.NAMESPACE_DELETED,
                ("ResourceQuota", changes.ChangeOp.CREATE): audit_events.QUOTA_CHANGED,
                ("ResourceQuota", changes.ChangeOp.UPDATE): audit_events.QUOTA_CHANGED}


def record(ledger: ledger_db.Ledger, outcome: Outcome, *, actor: str) -> None:
    """Record one pool's applied changes in the ledger: namespaces and quotas one by one, then a summary."""
    plan = outcome.plan
    drafts = []
    for change in outcome.done:
        kind = _EVENT_KINDS.get((change.kind, change.op))
        subject = {"pool": plan.pool, "kind": change.kind, "name": change.name}
        if change.namespace:
            subject["namespace"] = change.namespace
        tenant = ((change.manifest or {}).get("metadata", {}).get("labels", {}) or {}).get("dctenant.io/tenant")
        if tenant:
            subject["tenant"] = str(tenant)
        if change.hold is not None and change.hold.released:
            drafts.append(ledger_db.Draft(
                kind=audit_events.ENFORCEMENT_RELEASED, actor=actor, subject=subject,
                before={"action": change.hold.action, "since": change.hold.since or None,
                        **{f.path: f.before for f in change.hold.fields}},
                after={f.path: f.after for f in change.hold.fields} or None,
                reason=f"dctenant apply --release-enforcement: {change.ref} {change.hold.reason}"))
        if kind is None:
            continue
        drafts.append(ledger_db.Draft(kind=kind, actor=actor, subject=subject,
                                    before={f.path: f.before for f in change.fields} or None,
                                    after={f.path: f.after for f in change.fields} or (
                                        (change.manifest or {}).get("spec") if change.op is changes.ChangeOp.CREATE
                                        else None),
                                    reason=f"dctenant apply: {change.op.value} {change.ref}"))
    if outcome.done or outcome.error:
        drafts.append(ledger_db.Draft(kind=audit_events.ALLOCATION_APPLIED, actor=actor, subject={"pool": plan.pool},
                                    after={"applied": len(outcome.done), "planned": len(plan.writes),
                                           "held": len(plan.held), "released": len(plan.released),
                                           "error": outcome.error or None},
                                    reason="dctenant apply" + (" stopped part-way" if outcome.error else "")))
    if drafts:
        ledger.append_many(drafts)


def _holder() -> str:
    """Who holds the lease, for the message another apply shows: user, host and process."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"{user}@{socket.gethostname()} (pid {os.getpid()})"


def _render(model: quotas.Quotas, allocation: allocations.Allocation, pool: str) -> Sequence[Manifest]:
    from dctenant.render import kubernetes

    return kubernetes.render_pool(model, allocation, pool=pool)
