"""The one decision every self-service front end shares: may this tenant have this namespace, and what is it?

Name rules, pool rules, quota syntax, "fits in the envelope" and what to render are decided here,
once, by ``decide``: the HTTP API, the in-process benchmark and any later front end call it with
the tenant's current reservations and get either a ``Decision`` (the parsed quota, the room left,
the manifests) or a ``RefusedError`` with an HTTP-like status and every problem found. It reads no
clock, file, network or database, so it is tested with plain values, and the store calls it inside
its per-tenant transaction so that concurrent requests are decided one after another.

The envelope a self-service namespace draws from is the tenant's allocation in the pool minus the
staff-declared namespaces' granted quotas minus the other self-service namespaces: both kinds
always count. Quotas are read by the same resource-map reader as ``quotas/``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from dctenant.domain import allocations, changes, quotas, resources
from dctenant.errors import Problem, UserError, suggestion
from dctenant.loaders import documents, fields, resourcemaps

Manifest = changes.ManifestDict
ZERO = Decimal(0)
MAX_NAME = 63
REQUIRED = (resources.CPU, resources.MEMORY)  # a namespace without them cannot run a pod


class RefusedError(UserError):
    """A request the service refuses: an HTTP status, a short title and every problem found."""

    def __init__(self, status: int, title: str, detail: str, *, problems: Sequence[Problem] = ()) -> None:
        super().__init__(detail)
        self.status = status
        self.title = title
        self.problems = tuple(problems)


@dataclass(frozen=True, kw_only=True)
class Reservation:
    """A self-service namespace's quota as the envelope sees it (active or still being applied)."""

    name: str
    tenant: str
    pool: str
    quota: Mapping[str, Decimal]


@dataclass(frozen=True, kw_only=True)
class Room:
    """One resource of one pool for one tenant: the envelope and what the two kinds of namespace hold."""

    key: str
    envelope: Decimal
    staff: Decimal
    self_service: Decimal

    @property
    def free(self) -> Decimal:
        return self.envelope - self.staff - self.self_service

    def as_dict(self) -> dict[str, str]:
        plain = resources.plain
        return {"envelope": plain(self.envelope), "staff": plain(self.staff),
                "selfService": plain(self.self_service), "free": plain(self.free)}


@dataclass(frozen=True, kw_only=True)
class Decision:
    """A namespace that may be created (or resized): its quota, the room before it, its manifests."""

    tenant: str
    name: str
    pool: str
    quota: Mapping[str, Decimal]
    room: Mapping[str, Room]
    manifests: tuple[Manifest, ...] = field(default_factory=tuple)


def read_quota(raw: Any, *, model: quotas.Quotas, pool: str, where: str = "quota") -> dict[str, Decimal]:
    """A quota or demand map (``{cpu: "2", memory: 4Gi, storage: {ssd-standard: 100Gi}, ...}``).

    Read by the loader's resource-map reader (same units, same messages); only resources the pool
    has are accepted. Raises ``RefusedError`` (422) with every problem.
    """
    reader = fields.Reader(documents.Document(file="request", data=raw, lines={}))
    classes = {c.name for c in model.datacentre.storage_classes}
    amounts = resourcemaps.amounts(resourcemaps.read(reader, (where,), raw, mode=resourcemaps.Mode.AMOUNT,
                                                     storage_classes=classes))
    pool_obj = model.datacentre.pool(pool)
    for key in resources.ordered(amounts):
        if not pool_obj.has(key):
            reader.report((where, key), f'pool "{pool}" has no {key}', hint="remove it, or use a pool that has it")
    if reader.problems:
        raise RefusedError(422, "Invalid quantities", f"the {where} is not valid", problems=reader.problems)
    return amounts


def check_pool(model: quotas.Quotas, pool: Any) -> str:
    """The pool name if the data centre has it; else ``RefusedError`` 422 with a did-you-mean hint."""
    names = model.datacentre.pool_names
    if not isinstance(pool, str) or pool not in names:
        hint = suggestion(str(pool), names) or "pools: " + ", ".join(names)
        raise RefusedError(422, "Unknown pool", f"the data centre has no pool {pool!r}",
                      problems=[Problem(file="request", line=None, field="pool", message=f"unknown pool {pool!r}",
                                        hint=hint)])
    return pool


def check_name(model: quotas.Quotas, *, tenant: str, name: Any, reserved: Iterable[Reservation]) -> str:
    """DNS-1123 label, the tenant's prefix, and not taken by a staff-declared or self-service namespace."""
    text = name if isinstance(name, str) else ""
    # fullmatch: with ``match``, ``$`` also matches before a final newline ("bale-y\n").
    if not fields.DNS1123_LABEL.fullmatch(text) or len(text) > MAX_NAME:
        raise RefusedError(422, "Invalid namespace name",
                      f"{name!r} is not a DNS-1123 label (lower-case letters, digits and '-', at most 63 characters)")
    prefix = f"{tenant}-"
    if not text.startswith(prefix) or len(text) == len(prefix):
        raise RefusedError(422, "Invalid namespace name",
                      f'namespace "{text}" must start with the tenant prefix "{prefix}", e.g. "{prefix}web"')
    # Ownership is the exact tenant, never a prefix alone: "bale-x-web" starts with "bale-" but
    # belongs to tenant "bale-x" when there is one, so tenant "bale" may not take it.
    longer = [t.id for t in model.tenants if t.id != tenant and text.startswith(f"{t.id}-")
              and len(t.id) > len(tenant)]
    if longer:
        raise RefusedError(409, "Namespace belongs to another tenant",
                           f'namespace "{text}" has the prefix of tenant "{longer[0]}"; choose another name')
    policy = model.policy.kubernetes
    if text in (policy.system_namespace, policy.monitoring_namespace):
        raise RefusedError(422, "Invalid namespace name", f'"{text}" is reserved for the data centre')
    for t in model.tenants:
        if any(ns.name == text for ns in t.namespaces):
            raise RefusedError(409, "Namespace exists", f'namespace "{text}" is declared by staff in quotas/')
    if any(r.name == text for r in reserved):
        raise RefusedError(409, "Namespace exists", f'namespace "{text}" exists already')
    return text


def room(model: quotas.Quotas, allocation: allocations.Allocation, *, tenant: str, pool: str,
         reserved: Iterable[Reservation], exclude: str | None = None) -> dict[str, Room]:
    """Per resource of the pool: the tenant's envelope, staff quotas, self-service quotas (``exclude`` left out)."""
    share = allocation.tenants[tenant].shares.get(pool) if tenant in allocation.tenants else None
    envelope = dict(share.envelope) if share is not None else {}
    staff: dict[str, Decimal] = {}
    for grant in allocation.namespaces:
        if grant.tenant == tenant and grant.pool == pool:
            staff = resources.add(staff, grant.granted)
    own: dict[str, Decimal] = {}
    for r in reserved:
        if r.tenant == tenant and r.pool == pool and r.name != exclude:
            own = resources.add(own, r.quota)
    keys = resources.ordered([*model.datacentre.pool(pool).resources])
    return {k: Room(key=k, envelope=envelope.get(k, ZERO), staff=staff.get(k, ZERO), self_service=own.get(k, ZERO))
            for k in keys}


def decide(
    model: quotas.Quotas,
    allocation: allocations.Allocation,
    *,
    tenant: str,
    name: Any,
    pool: Any,
    quota: Any,
    reserved: Sequence[Reservation],
    resizing: bool = False,
) -> Decision:
    """Whether ``tenant`` may have namespace ``name`` in ``pool`` with ``quota``, given its reservations.

    For a resize (``resizing``), the namespace must be one of ``reserved`` and its own current
    quota is left out of the sum. Raises ``RefusedError``: 422 for bad input, 404 for an unknown
    namespace, 409 when the name is taken, the licence is not served, or the quota does not fit.
    """
    if tenant not in {t.id for t in model.tenants}:
        raise RefusedError(404, "Unknown tenant", f"no tenant {tenant!r} in the data centre")
    pool_name = check_pool(model, pool)
    if resizing:
        if not any(r.name == name and r.tenant == tenant for r in reserved):
            raise RefusedError(404, "Unknown namespace", f"tenant {tenant} has no self-service namespace {name!r}")
        ns_name = str(name)
    else:
        ns_name = check_name(model, tenant=tenant, name=name, reserved=reserved)
    amounts = read_quota(quota, model=model, pool=pool_name)
    missing = [k for k in REQUIRED if amounts.get(k, ZERO) <= 0]
    if missing:
        raise RefusedError(422, "Invalid quota", "a namespace needs a cpu and a memory quota above zero; missing: "
                      + ", ".join(missing))
    share = allocation.tenants[tenant].shares.get(pool_name)
    if share is None:
        raise RefusedError(409, "No envelope in this pool",
                      f"tenant {tenant} has no demand in pool {pool_name}; file a quota-increase request for it")
    if share.limited_by == allocations.LICENCE:
        state = allocation.tenants[tenant].licence.value
        raise RefusedError(409, "Licence not served", f"tenant {tenant}'s licence is {state}: its envelope is zero")
    space = room(model, allocation, tenant=tenant, pool=pool_name, reserved=reserved,
                 exclude=ns_name if resizing else None)
    short = [k for k in resources.ordered(amounts) if amounts[k] > space[k].free]
    if short:
        detail = "; ".join(
            f"{k}: asked {resources.format_amount(k, amounts[k])}, free "
            f"{resources.format_amount(k, max(space[k].free, ZERO))} of an envelope of "
            f"{resources.format_amount(k, space[k].envelope)}" for k in short)
        raise RefusedError(409, "Envelope exceeded", f"namespace {ns_name} does not fit in tenant {tenant}'s envelope "
                      f"in pool {pool_name}: {detail}")
    return Decision(tenant=tenant, name=ns_name, pool=pool_name, quota=amounts, room=space,
                    manifests=render(model, tenant=tenant, name=ns_name, pool=pool_name, quota=amounts))


def render(model: quotas.Quotas, *, tenant: str, name: str, pool: str,
           quota: Mapping[str, Decimal]) -> tuple[Manifest, ...]:
    """The namespace's objects, by the same builder as staff namespaces, labelled as self-service."""
    from dctenant.render import kubernetes

    grant = allocations.NamespaceQuota(tenant=tenant, namespace=name, pool=pool, requested=dict(quota),
                                       granted=dict(quota))
    classes = tuple(sorted(c.name for c in model.datacentre.storage_classes))
    objects = kubernetes.namespace_objects(model.tenant(tenant), grant, policy=model.policy.kubernetes,
                                           classes=classes, served=True)
    out = []
    for obj in objects:
        meta = obj["metadata"]
        out.append({**obj, "metadata": {**meta, "labels": {**meta["labels"],
                                                           changes.PROVISIONED_BY: changes.SELF_SERVICE}}})
    return tuple(out)


def envelope(model: quotas.Quotas, allocation: allocations.Allocation, *, tenant: str,
             reserved: Sequence[Reservation]) -> dict[str, Any]:
    """The tenant's envelope and what its namespaces hold, per pool and resource (the API's JSON form)."""
    if tenant not in allocation.tenants:
        raise RefusedError(404, "Unknown tenant", f"no tenant {tenant!r} in the data centre")
    shares = allocation.tenants[tenant]
    pools = {}
    for pool in sorted(shares.shares):
        space = room(model, allocation, tenant=tenant, pool=pool, reserved=reserved)
        pools[pool] = {k: r.as_dict() for k, r in space.items() if k in shares.shares[pool].demand}
    return {"tenant": tenant, "at": allocation.at.isoformat(), "licence": shares.licence.value, "pools": pools}


def plain_quota(quota: Mapping[str, Decimal]) -> dict[str, str]:
    """A quota as stored and shown: resource key -> plain decimal string in base units."""
    return {k: resources.plain(quota[k]) for k in resources.ordered(quota)}


def decimal_quota(quota: Mapping[str, str]) -> dict[str, Decimal]:
    return {k: Decimal(v) for k, v in quota.items()}
