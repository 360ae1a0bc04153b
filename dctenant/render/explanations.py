"""``dctenant plan --explain TENANT``: why a tenant got what it got, in sentences.

Auditors and messengers ask "why only 80%?"; the answer is in the allocation (weight, dominant
resource, the round and level at which the tenant froze, the saturated resource and who else
shares it). This module only words it.
"""

from __future__ import annotations

from decimal import Decimal

from dctenant.domain import allocations, quotas, resources
from dctenant.errors import UserError, suggestion


def explain(model: quotas.Quotas, allocation: allocations.Allocation, tenant_id: str) -> tuple[str, ...]:
    """Sentences explaining ``tenant_id``'s envelopes; raises ``UserError`` for an unknown tenant."""
    if tenant_id not in allocation.tenants:
        hint = suggestion(tenant_id, list(allocation.tenants))
        raise UserError(f'unknown tenant "{tenant_id}"' + (f"; {hint}" if hint else ""), location="--explain")
    tenant = model.tenant(tenant_id)
    result = allocation.tenants[tenant_id]
    licence = tenant.licence
    days = licence.days_to_expiry(at=allocation.at)
    when = (f"expires {licence.expires}, in {_days(days)}" if days >= 0
            else f"expired {licence.expires}, {_days(-days)} ago")
    lines = [
        f"{tenant.display_name.en} ({tenant.display_name.fa}, id {tenant.id}) is in tier {tenant.tier}: "
        f"weight {result.weight}, guaranteed {result.guaranteed:.0%} of its demand.",
        f"Licence {licence.number} is {result.licence.value} as of {allocation.at} ({when}).",
    ]
    if not result.licence.served:
        lines.append("Its licence does not allow service, so it gets nothing in any pool.")
        return tuple(lines)
    if result.state == "grace":
        lines.append("It is served during the licence grace period and flagged for renewal.")
    for pool_name, share in result.shares.items():
        lines.extend(_pool(allocation, pool_name, share, result.weight))
    return tuple(lines)


def _days(count: int) -> str:
    return "1 day" if count == 1 else f"{count} days"


def _pool(allocation: allocations.Allocation, pool_name: str, share: allocations.Share, weight: Decimal) -> list[str]:
    """Sentences for one pool; every number is one the plan prints, so that they never disagree."""
    pool = allocation.pools[pool_name]
    by_key = {r.key: r for r in pool.resources}
    out = [f"In pool {pool_name}:"]
    dom = share.dominant
    if dom:
        asked = share.demand[dom]
        available = by_key[dom].allocatable
        part = (f"{asked / available:.4%} of the pool's allocatable {resources.humanize(dom, available)}"
                if available else "although none is allocatable")
        out.append(f"  its dominant resource is {dom}: it asked for {resources.humanize(dom, asked)}, {part}.")
    out.append(f"  its fair share is {share.fraction} of its demand on every resource, before rounding to whole "
               f"units (weighted dominant share {share.weighted_share} = {share.fraction} × dominant share "
               f"/ weight {weight}).")
    full = [k for k in resources.ordered(share.demand) if k in by_key and by_key[k].saturated and share.demand[k] > 0]
    if share.limited_by == allocations.DEMAND:
        out.append("  it is limited by its own demand: it gets everything it asked for.")
    elif share.limited_by == allocations.GUARANTEE:
        what = " and ".join(full) if full else "a resource it needs"
        out.append(f"  it holds its guaranteed floor ({share.fraction} of its demand, after any scaling of "
                   f"guarantees): {what} filled up in round {share.round + 1} before the common level rose "
                   "above that floor.")
    elif share.limited_by != allocations.LICENCE:
        key = share.limited_by
        line = by_key[key]
        out.append(f"  it froze in round {share.round + 1} at weighted share {share.weighted_share}, when {key} "
                   f"saturated ({resources.humanize(key, line.allocated)} of "
                   f"{resources.humanize(key, line.allocatable)} allocatable handed out in whole units).")
        out.append("  tenants sharing that bottleneck: " + (", ".join(_sharers(allocation, pool_name, share, key))
                                                           or "none") + ".")
    if pool.guarantee_scale < 1:
        out.append(f"  guarantees in this pool did not all fit and were scaled to {pool.guarantee_scale:.4%}.")
    return out


def _sharers(allocation: allocations.Allocation, pool_name: str, share: allocations.Share, key: str) -> list[str]:
    """Every other served tenant that asked for ``key`` in the pool, with its level and why it stopped.

    Those frozen by the same resource share the level; those holding a guarantee or served in full
    took their part of it first (a tenant can be starved by others' guarantees alone).
    """
    out = []
    for tid in sorted(allocation.tenants):
        other = allocation.tenants[tid].shares.get(pool_name)
        if other is None or other is share or not allocation.tenants[tid].licence.served:
            continue
        if other.demand.get(key, Decimal(0)) > 0:
            why = {allocations.GUARANTEE: "holding its guarantee", allocations.DEMAND: "served in full"}.get(
                other.limited_by, f"limited by {other.limited_by}")
            out.append(f"{tid} (weighted share {other.weighted_share}, {why}, "
                       f"{resources.humanize(key, other.envelope.get(key, Decimal(0)))} of it)")
    return out
