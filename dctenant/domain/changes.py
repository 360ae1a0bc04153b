"""What ``dctenant diff`` finds and ``dctenant apply`` does: a Plan of Change records per cluster.

A Plan is a value. ``diff`` and ``apply --dry-run`` print it; ``apply`` executes it, so what a
dry run shows is exactly what a real run does, with no ``if dry_run`` inside the applying code.
Unchanged objects are counted, not listed, because a data centre has tens of thousands of them.

The enforcer and ``apply`` write the same objects (a tenant's quota and bandwidth ConfigMap), so
the enforcer marks what it changed with the ``ENFORCEMENT`` annotations defined here, and the
planner holds the marked fields (``HELD_FIELDS``) instead of writing the rendered values back.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

MANAGED_BY = "app.kubernetes.io/managed-by"
MANAGER = "dctenant"
ENFORCER = "dctenant-enforcer"  # field manager of the enforcer's patches, told apart from apply's
TENANT = "dctenant.io/tenant"
# Namespaces a tenant created through the self-service API carry this label (with SELF_SERVICE) on
# every object; their record is the self-service store and the ledger, not quotas/, so ``apply``
# and the stacks neither prune nor overwrite them.
PROVISIONED_BY = "dctenant.io/provisioned-by"
SELF_SERVICE = "self-service"
# The label apply sets on a namespace it is about to delete (guarded prune); the rendered admission
# policy refuses new pods, PVCs and workloads in a namespace carrying it, except from dctenant itself.
PRUNING = "dctenant.io/pruning"
# Kinds that hold data (the enforcer's state volume): like a namespace, one that is no longer desired
# is orphaned, never pruned, because deleting a claim may delete its volume. Staff delete it by hand.
RETAINED = frozenset({"PersistentVolumeClaim"})
# The enforcer's marks on an object it changed: what is in force ("throttle cpu, suspend": actions,
# with the resource for a throttle) and since when (RFC 3339, UTC). It removes both when it has
# undone the last action on the object. Annotations, not labels: nothing selects on them.
ENFORCEMENT = "dctenant.io/enforcement"
ENFORCEMENT_SINCE = "dctenant.io/enforcement-since"
# Per kind, the map the enforcer changes: a marked object's map is held by ``apply``.
HELD_FIELDS: Mapping[str, tuple[str, ...]] = {"ResourceQuota": ("spec", "hard"), "ConfigMap": ("data",)}

# A Kubernetes object as the renderers build it (a JSON-shaped dict) and as readers take it.
# Every layer names it through these two, so what a manifest is has one source.
ManifestDict = dict[str, Any]
Manifest = Mapping[str, Any]


class ChangeOp(enum.StrEnum):
    """What happens to one object: written (create, update), deleted (prune), or left (orphan, held)."""

    CREATE = "create"
    UPDATE = "update"
    PRUNE = "prune"
    ORPHAN = "orphan"
    HELD = "held"  # marked by the enforcer, and nothing but its held fields differs: left as enforced

    @property
    def writes(self) -> bool:
        """True when executing the change sends a request that modifies the cluster."""
        return self not in (ChangeOp.ORPHAN, ChangeOp.HELD)


@dataclass(frozen=True, kw_only=True)
class Occupancy:
    """What a namespace still holds that pruning it would destroy: pods, volume claims, workloads, staff's kinds."""

    pods: int
    claims: int
    workloads: int = 0  # workload controllers (a Deployment at zero replicas counts unless staff say otherwise)
    others: tuple[tuple[str, int], ...] = ()  # objects of kinds staff listed, by kind

    @property
    def empty(self) -> bool:
        return not self.pods and not self.claims and not self.workloads and not any(n for _, n in self.others)

    def __str__(self) -> str:
        def n(count: int, noun: str) -> str:
            return f"{count} {noun}" + ("" if count == 1 else "s")

        text = f"{n(self.pods, 'pod')} and {n(self.claims, 'PVC')}"
        extra = ([n(self.workloads, "workload controller")] if self.workloads else []) + [
            f"{count} {kind}" for kind, count in self.others if count]
        return text + "".join(f", {e}" for e in extra)


@dataclass(frozen=True, kw_only=True)
class FieldDiff:
    """One managed field whose live value differs from the desired one (``None`` means absent)."""

    path: str
    before: Any
    after: Any

    def as_dict(self) -> dict[str, Any]:
        return {"path": self.path, "before": self.before, "after": self.after}


@dataclass(frozen=True, kw_only=True)
class Hold:
    """Enforcement in force on an object, as its marks say: the fields ``apply`` keeps as they are.

    ``fields`` are the held fields that differ from ``quotas/`` (live → rendered): what releasing
    the hold would write. ``released`` is set when ``apply --release-enforcement`` overwrites them.
    """

    action: str
    since: str = ""
    fields: tuple[FieldDiff, ...] = ()
    released: bool = False

    @property
    def reason(self) -> str:
        verb = "released from" if self.released else "held by"
        return f"{verb} enforcement ({self.action}) since {self.since or 'an unknown time'}"

    def as_dict(self) -> dict[str, Any]:
        return {"action": self.action, "since": self.since or None, "released": self.released,
                "fields": [f.as_dict() for f in self.fields]}


@dataclass(frozen=True, kw_only=True)
class Change:
    """One object to create, update, prune or leave as orphaned, with why and (for writes) what."""

    op: ChangeOp
    api_version: str
    kind: str
    name: str
    namespace: str | None = None
    manifest: Manifest | None = None  # the desired object, for create and update
    fields: tuple[FieldDiff, ...] = ()  # for update: which managed fields differ
    reason: str = ""  # for orphan, prune and held: why
    hold: Hold | None = None  # the enforcer's marks on the live object (held, or an update that keeps them)
    force: bool = False  # apply with force: the differing fields are owned by dctenant's own managers only
    version: str = ""  # for prune: the resourceVersion observed, a precondition of the delete

    @property
    def ref(self) -> str:
        """``Kind namespace/name`` or ``Kind name``: how messages name the object."""
        return f"{self.kind} {self.namespace}/{self.name}" if self.namespace else f"{self.kind} {self.name}"

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"op": str(self.op), "apiVersion": self.api_version, "kind": self.kind,
                                "name": self.name}
        if self.namespace:
            data["namespace"] = self.namespace
        if self.fields:
            data["fields"] = [f.as_dict() for f in self.fields]
        if self.reason:
            data["reason"] = self.reason
        if self.hold is not None:
            data["held"] = self.hold.as_dict()
        if self.force:
            data["force"] = True
        return data


@dataclass(frozen=True, kw_only=True)
class Plan:
    """Every change one pool's cluster needs, in the order they are to be executed."""

    pool: str
    context: str
    changes: tuple[Change, ...] = ()
    unchanged: int = 0

    def count(self, op: ChangeOp) -> int:
        return sum(1 for c in self.changes if c.op is op)

    @property
    def writes(self) -> tuple[Change, ...]:
        """The changes that modify the cluster (everything but orphans and held objects)."""
        return tuple(c for c in self.changes if c.op.writes)

    @property
    def pending(self) -> bool:
        """True when applying would write something (``--exit-code`` → 3)."""
        return any(c.op.writes for c in self.changes)

    @property
    def held(self) -> tuple[Change, ...]:
        """Objects whose enforced fields are kept: held ones, and updates that leave those fields alone."""
        return tuple(c for c in self.changes if c.hold is not None and not c.hold.released)

    @property
    def released(self) -> tuple[Change, ...]:
        """Objects whose enforcement ``apply --release-enforcement`` overwrites."""
        return tuple(c for c in self.changes if c.hold is not None and c.hold.released)

    def counts(self) -> dict[str, int]:
        data = {str(op): self.count(op) for op in ChangeOp}
        data["held"] = len(self.held)
        data["released"] = len(self.released)
        data["unchanged"] = self.unchanged
        return data

    def as_dict(self) -> dict[str, Any]:
        return {"pool": self.pool, "context": self.context, "counts": self.counts(),
                "changes": [c.as_dict() for c in self.changes]}
