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
    when = f"expires {licence.expires}, in {days} days" if days >= 0 else f"expired {licence.expires}, {-days} days ago"
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


def _pool(allocation: allocations.Allocation, pool_name: str, share: allocations.Share, weight: Decimal) -> list[str]:
    pool = allocation.pools[pool_name]
    by_key = {r.key: r for r in pool.resources}
    out = [f"In pool {pool_name}:"]
    dom = share.dominant
    if dom:
        asked = share.demand[dom]
        available = by_key[dom].allocatable
        part = f"{asked / available:.1%} of the pool's allocatable" if available else "although none is allocatable"
        out.append(f"  its dominant resource is {dom}: it asked for {resources.humanize(dom, asked)}, {part}.")
    out.append(f"  it receives {share.fraction:.2%} of its demand on every resource "
                f"(weighted dominant share {share.weighted_share:.4f} = dominant share / weight {weight}).")
    if share.limited_by == allocations.DEMAND:
        out.append("  it is limited by its own demand: it gets everything it asked for.")
    elif share.limited_by == allocations.GUARANTEE:
        out.append(f"  it holds its guaranteed floor ({share.fraction:.2%} after any scaling of guarantees): "
                   f"a resource it needs saturated in round {share.round + 1} before its fair level rose above it.")
    else:
        key = share.limited_by
        others = sorted(tid for tid, t in allocation.tenants.items() if tid != "" and pool_name in t.shares
                        and t.shares[pool_name].limited_by == key and t.shares[pool_name] is not share)
        out.append(f"  it froze in round {share.round + 1} at weighted share {share.weighted_share:.4f}, when "
                   f"{key} saturated ({resources.humanize(key, by_key[key].allocatable)} allocatable, all handed out).")
        out.append("  tenants sharing that bottleneck: " + (", ".join(
            f"{o} ({allocation.tenants[o].shares[pool_name].weighted_share:.4f})" for o in others) or "none") + ".")
    if pool.guarantee_scale < 1:
        out.append(f"  guarantees in this pool did not all fit and were scaled to {pool.guarantee_scale:.2%}.")
    return out
