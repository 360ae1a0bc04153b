"""``dctenant diff`` and ``dctenant apply``: bring each pool's cluster to the rendered namespaces.

Per pool: connect to its kubeconfig context, list each managed kind once, plan (pure, in
``engine.diffing``), and for apply execute the plan under the cluster's ``dctenant-apply`` Lease.
The plan is computed after the lease is taken, so two applies never act on the same stale view.
Executing a plan is the same code for every plan: a dry run simply does not execute it.

Fencing: before every write, ``Lease.ensure`` checks by this process's monotonic clock that the
lease has more than a safe margin left, renewing it (compare-and-swap) when due; if another apply
took it over, apply stops at once and writes nothing more (``kube.LeaseLostError``). Prunes delete with a
``resourceVersion`` precondition, so a stale plan never deletes what changed since it was read.

Guarded prune: a namespace is deleted only after it has been labelled ``dctenant.io/pruning`` (the
admission policy then refuses new content there), found empty again, and then with a precondition
on the namespace's version; if anything appeared, the label is removed and the namespace kept.

A failure part-way stops that pool (and the pools after it) and is recorded in the result with
what was and was not done; every step is idempotent, so running apply again finishes the job.

Objects the enforcer marked are held (``engine.diffing``): their enforced fields are not written
back unless staff pass ``release_enforcement``, which overwrites them and removes the marks; every
release is recorded in the ledger as ``enforcement-released``.
"""

from __future__ import annotations

import datetime as dt
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
    kept: tuple[tuple[str, str], ...] = ()  # namespaces planned for pruning but kept at the last check: (name, why)
    takeover: kube.Takeover | None = None  # the lease was taken from another holder

    @property
    def lease_lost(self) -> bool:
        return self.error.startswith(LOST)

    @property
    def not_done(self) -> tuple[changes.Change, ...]:
        done = set(map(id, self.done))
        return tuple(c for c in self.plan.writes if id(c) not in done)

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {**self.plan.as_dict(), "done": len(self.done)}
        if self.kept:
            data["kept"] = [{"namespace": name, "reason": why} for name, why in self.kept]
        if self.takeover is not None:
            data["leaseTakenOver"] = {"from": self.takeover.previous, "why": self.takeover.why}
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


@dataclass(frozen=True, kw_only=True)
class PruneRules:
    """What counts as content that keeps a namespace from being pruned, beyond pods and PVCs."""

    kinds: tuple[kube.Kind, ...] = ()  # staff's extra kinds (``--content-kind``): any object of them is content
    scaled_to_zero_is_content: bool = True  # a Deployment at zero replicas counts (``--prune-scaled-to-zero``)


LOST = "lease lost: "  # how an outcome's error begins when another apply took over


def diff(targets: Sequence[Target], *, kubeconfig: str | None = None, prune_namespaces: bool = False,
         release_enforcement: bool = False, rules: PruneRules | None = None) -> DiffResult:
    """The plan of every target pool, read from its live cluster; writes nothing."""
    plans: list[changes.Plan] = []
    requests: dict[str, int] = {}
    for target in targets:
        cluster = kube.connect(context=target.context, kubeconfig=kubeconfig)
        try:
            plans.append(observe(cluster, target, prune_namespaces=prune_namespaces,
                                 release_enforcement=release_enforcement, rules=rules))
            requests[target.pool] = sum(cluster.requests.values())
        except BackendError as exc:
            raise BackendError(_named(_where(target), exc)) from None
        finally:
            cluster.close()
    return DiffResult(plans=tuple(plans), requests=requests)


def observe(cluster: kube.Cluster, target: Target, *, prune_namespaces: bool = False,
            release_enforcement: bool = False, rules: PruneRules | None = None) -> changes.Plan:
    """List each managed kind once, look inside stale namespaces if pruning them, and plan."""
    observed = [obj for what in kube.MANAGED for obj in cluster.list_managed(what)]
    occupancy: dict[str, changes.Occupancy] = {}
    if prune_namespaces:
        for namespace in diffing.stale_namespaces(target.desired, observed):
            if namespace != target.system_namespace:  # where the lease lives: never pruned (left unknown)
                occupancy[namespace] = _contents(cluster, namespace, rules or PruneRules())
    return diffing.plan(target.desired, observed, pool=target.pool, context=target.context,
                        prune_namespaces=prune_namespaces, occupancy=occupancy,
                        release_enforcement=release_enforcement)


def _contents(cluster: kube.Cluster, namespace: str, rules: PruneRules) -> changes.Occupancy:
    return cluster.contents(namespace, extra=rules.kinds, scaled_to_zero_is_content=rules.scaled_to_zero_is_content)


def apply(targets: Sequence[Target], *, kubeconfig: str | None = None, force_conflicts: bool = False,
          prune_namespaces: bool = False, progress: Progress | None = None, holder: str | None = None,
          ledger: ledger_db.Ledger | None = None, actor: str = "", release_enforcement: bool = False,
          rules: PruneRules | None = None, clock: kube.Clock | None = None,
          confirm_break: kube.Confirm | None = None, break_reason: str = "") -> ApplyResult:
    """Apply every target pool in turn under its cluster's lease; stop at the first pool that fails.

    A pool that cannot even be planned (unreachable, lease held by another apply) raises when it is
    the first; after pools already applied, it is recorded so that their results are still shown.
    With a ``ledger``, every change done (also those of a pool that failed part-way) is recorded there,
    and so is a lease taken over from another holder (expired, dead, or broken by staff through
    ``confirm_break`` with ``break_reason``).
    """
    outcomes: list[Outcome] = []
    who = actor or ledger_db.os_actor()
    for i, target in enumerate(targets):
        rest = tuple(t.pool for t in targets[i + 1:])
        try:
            outcome = _apply_pool(target, kubeconfig=kubeconfig, force_conflicts=force_conflicts,
                                  prune_namespaces=prune_namespaces, progress=progress or _Silent(),
                                  holder=holder or kube.identity(), release_enforcement=release_enforcement,
                                  rules=rules or PruneRules(), clock=clock, confirm_break=confirm_break)
        except BackendError as exc:
            error = _named(_where(target), exc)
            if not outcomes:
                raise BackendError(error) from None
            return ApplyResult(outcomes=tuple(outcomes), error=error, skipped=rest)
        outcomes.append(outcome)
        if ledger is not None:
            record(ledger, outcome, actor=who, break_reason=break_reason)
        if outcome.error:
            return ApplyResult(outcomes=tuple(outcomes), skipped=rest)
    return ApplyResult(outcomes=tuple(outcomes))


def _where(target: Target) -> str:
    return f"pool {target.pool} (context {target.context})"


def _named(where: str, exc: BaseException) -> str:
    """The error prefixed with its pool and context, unless it names them already (the lease's do)."""
    text = str(exc)
    return text if where in text else f"{where}: {text}"


def _apply_pool(target: Target, *, kubeconfig: str | None, force_conflicts: bool, prune_namespaces: bool,
                progress: Progress, holder: str, release_enforcement: bool, rules: PruneRules,
                clock: kube.Clock | None, confirm_break: kube.Confirm | None) -> Outcome:
    cluster = kube.connect(context=target.context, kubeconfig=kubeconfig)
    system_namespace = target.system_namespace
    try:
        namespace = next((m for m in target.desired
                          if m.get("kind") == "Namespace" and m["metadata"]["name"] == system_namespace), None)
        with kube.holding(cluster, namespace=system_namespace, name=LEASE_NAME, holder=holder,
                          namespace_manifest=namespace, clock=clock, confirm_break=confirm_break,
                          where=_where(target)) as lease:
            plan = observe(cluster, target, prune_namespaces=prune_namespaces,
                           release_enforcement=release_enforcement, rules=rules)
            outcome = execute(cluster, plan, force_conflicts=force_conflicts, progress=progress, guard=lease.ensure,
                              rules=rules)
            return Outcome(plan=outcome.plan, done=outcome.done, failed=outcome.failed, error=outcome.error,
                           kept=outcome.kept, takeover=lease.takeover)
    finally:
        cluster.close()


def execute(cluster: kube.Cluster, plan: changes.Plan, *, force_conflicts: bool = False,
            progress: Progress | None = None, guard: Callable[[], None] = lambda: None,
            rules: PruneRules | None = None) -> Outcome:
    """Carry out a plan's writes in order; on an API error, stop and say what was and was not done.

    ``guard`` runs before every write request (the lease's ``ensure``): when it raises ``LeaseLostError``
    nothing more is sent. An update planned with ``force`` (its differing fields belong to
    dctenant's own managers only) is applied with force; a released one then has the enforcer's
    marks removed. Namespaces are pruned by ``_guarded_prune``.
    """
    report = progress or _Silent()
    report.start(plan)
    pruning = _Pruning(cluster, guard=guard, rules=rules or PruneRules(),
                       doomed={c.name for c in plan.writes if c.op is changes.ChangeOp.PRUNE and c.kind == "Namespace"})
    done: list[changes.Change] = []
    for change in plan.writes:
        try:
            if change.op is changes.ChangeOp.PRUNE:
                if not pruning.prune(change):
                    continue  # its namespace is kept after all
            else:
                if change.manifest is not None:
                    guard()
                    cluster.apply(change.manifest, force_conflicts=force_conflicts or change.force)
                elif not diffing.pruning_mark_removed(change):
                    raise missing(f"the manifest of {change.kind} {change.name}")
                if diffing.pruning_mark_removed(change):
                    guard()
                    cluster.unmark_pruning(change.name)
                if change.hold is not None and change.hold.released:
                    guard()
                    cluster.unmark(kind_name=change.kind, name=change.name, namespace=change.namespace)
            done.append(change)
            report.advance(change)
        except kube.LeaseLostError as exc:
            return Outcome(plan=plan, done=tuple(done), failed=change, error=f"{LOST}{exc}", kept=pruning.kept())
        except BackendError as exc:
            where = f"pool {plan.pool} (context {plan.context})"
            return Outcome(plan=plan, done=tuple(done), failed=change, error=_named(where, exc), kept=pruning.kept())
    return Outcome(plan=plan, done=tuple(done), kept=pruning.kept())


class _Pruning:
    """The guarded prune of the namespaces a plan deletes (and of the objects in them).

    For each such namespace, before its first deletion: label it ``dctenant.io/pruning`` (admission
    refuses new pods, PVCs and workloads there from then on), then look inside again. If anything
    is there, remove the label and keep the namespace *and* its managed objects (quota, network
    policy: what still constrains what runs there). Otherwise delete its managed objects, look once
    more, and delete the namespace with a precondition on the version the label gave it, so that a
    namespace changed meanwhile is not deleted.
    """

    def __init__(self, cluster: kube.Cluster, *, guard: Callable[[], None], rules: PruneRules,
                 doomed: set[str]) -> None:
        self.cluster = cluster
        self.guard = guard
        self.rules = rules
        self.doomed = doomed
        self.secured: dict[str, str] = {}  # namespace → resourceVersion after labelling
        self._kept: dict[str, str] = {}

    def kept(self) -> tuple[tuple[str, str], ...]:
        return tuple(self._kept.items())

    def prune(self, change: changes.Change) -> bool:
        """Delete one object of a plan's prunes; False when its namespace is kept after all."""
        home = change.name if change.kind == "Namespace" else change.namespace
        if home is None or home not in self.doomed:
            self.guard()
            self._delete(change, version=change.version)
            return True
        if home in self._kept or not self._secure(home):
            return False
        if change.kind != "Namespace":
            self.guard()
            self._delete(change, version=change.version)
            return True
        if not self._still_empty(home):
            return False
        self.guard()
        try:
            self.cluster.delete(kind_name="Namespace", name=home, version=self.secured[home])
        except kube.ApiError as exc:
            if exc.status != 409:
                raise
            self._keep(home, "it changed while being pruned (resourceVersion precondition failed)")
            return False
        return True

    def _secure(self, namespace: str) -> bool:
        if namespace in self.secured:
            return True
        self.guard()
        self.secured[namespace] = self.cluster.mark_pruning(namespace)
        return self._still_empty(namespace)

    def _still_empty(self, namespace: str) -> bool:
        held = _contents(self.cluster, namespace, self.rules)
        if held.empty:
            return True
        self._keep(namespace, f"found holding {held} when about to delete it")
        return False

    def _keep(self, namespace: str, why: str) -> None:
        self._kept[namespace] = why
        self.guard()
        self.cluster.unmark_pruning(namespace)

    def _delete(self, change: changes.Change, *, version: str) -> None:
        try:
            self.cluster.delete(kind_name=change.kind, name=change.name, namespace=change.namespace, version=version)
        except kube.ApiError as exc:
            if exc.status == 409:
                raise BackendError(f"{change.ref} changed since it was read (resourceVersion {version}), so it "
                                   "was not deleted; run apply again to plan from the cluster as it is now") from None
            raise


_EVENT_KINDS = {("Namespace", changes.ChangeOp.CREATE): audit_events.NAMESPACE_CREATED,
                ("Namespace", changes.ChangeOp.PRUNE): audit_events.NAMESPACE_DELETED,
                ("ResourceQuota", changes.ChangeOp.CREATE): audit_events.QUOTA_CHANGED,
                ("ResourceQuota", changes.ChangeOp.UPDATE): audit_events.QUOTA_CHANGED}


def record(ledger: ledger_db.Ledger, outcome: Outcome, *, actor: str, break_reason: str = "") -> None:
    """Record one pool's applied changes in the ledger: a lease takeover, namespaces and quotas, then a summary."""
    plan = outcome.plan
    drafts = []
    if outcome.takeover is not None:
        taken = outcome.takeover
        why = taken.why + (f": {break_reason}" if taken.why == "broken by staff" and break_reason else "")
        drafts.append(ledger_db.Draft(
            kind=audit_events.LEASE_TAKEN_OVER, actor=actor,
            subject={"pool": plan.pool, "context": plan.context, "lease": LEASE_NAME},
            before={"holder": taken.previous, "renewTime": taken.renewed or None}, after={"why": taken.why},
            reason=f"dctenant apply took lease {LEASE_NAME} from {taken.previous}: {why}"))
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
                                           "error": outcome.error or None,
                                           # Namespaces the guarded prune kept (only when there are any).
                                           **({"kept": [name for name, _ in outcome.kept]} if outcome.kept else {})},
                                    reason="dctenant apply" + (" stopped part-way" if outcome.error else "")))
    if drafts:
        ledger.append_many(drafts)


def _render(model: quotas.Quotas, allocation: allocations.Allocation, pool: str) -> Sequence[Manifest]:
    from dctenant.render import kubernetes

    return kubernetes.render_pool(model, allocation, pool=pool)
