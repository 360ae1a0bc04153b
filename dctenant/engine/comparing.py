"""Two allocations of the same data centre → what moved: the what-if comparison.

Pure: it reads no clock, file or network. ``plan --what-if`` allocates the data centre as written
and as changed, then asks this module for every envelope that differs, the tenants now below their
tier's guarantee, the licence states that changed, and who lost the most (to explain first).
"""

from __future__ import annotations

import functools
from decimal import Decimal

from dctenant.domain import allocations, resources, whatif


def compare(before: allocations.Allocation, after: allocations.Allocation) -> whatif.Comparison:
    """Every (tenant, pool, resource) whose envelope differs, in tenant, pool, resource order."""
    changes: list[whatif.EnvelopeChange] = []
    for tenant in sorted(set(before.tenants) | set(after.tenants)):
        old = before.tenants.get(tenant)
        new = after.tenants.get(tenant)
        pools = sorted(set(old.shares if old else ()) | set(new.shares if new else ()))
        for pool in pools:
            was = old.shares[pool].envelope if old and pool in old.shares else {}
            now = new.shares[pool].envelope if new and pool in new.shares else {}
            if was == now:
                continue
            for key in _ordered(frozenset(was) | frozenset(now)):
                a, b = was.get(key), now.get(key)
                if a != b:
                    changes.append(whatif.EnvelopeChange(tenant=tenant, pool=pool, resource=key, before=a, after=b))
    old_misses = {(m.tenant, m.pool) for m in below_guarantee(before, previous=None)}
    misses = below_guarantee(after, previous=old_misses)
    states = [whatif.StateChange(tenant=t, before=before.tenants[t].state if t in before.tenants else None,
                                 after=after.tenants[t].state if t in after.tenants else None)
              for t in sorted(set(before.tenants) | set(after.tenants))]
    return whatif.Comparison(envelopes=tuple(changes), below_guarantee=misses,
                             states=tuple(s for s in states if s.before != s.after),
                             losers=_losers(changes))


def below_guarantee(allocation: allocations.Allocation,
                    *, previous: set[tuple[str, str]] | None) -> tuple[whatif.GuaranteeMiss, ...]:
    """Served tenants given less than ``guaranteed × demand`` of some resource in a pool.

    The allocator meets every guarantee unless the guarantees together do not fit a pool; then it
    scales them all down by the pool's ``guarantee_scale`` (docs/plan.md). So a miss is looked for
    only in such pools, and named by the resources where the envelope is below the guarantee.
    """
    out: list[whatif.GuaranteeMiss] = []
    for tid, tenant in allocation.tenants.items():
        if tenant.state == "suspended" or tenant.guaranteed <= 0:
            continue
        for pool, share in tenant.shares.items():
            if allocation.pools[pool].guarantee_scale >= 1:
                continue
            short = tuple(k for k in _ordered(frozenset(share.demand))
                          if share.envelope.get(k, Decimal(0)) < tenant.guaranteed * share.demand[k])
            if short:
                out.append(whatif.GuaranteeMiss(tenant=tid, pool=pool, resources=short,
                                                new=previous is not None and (tid, pool) not in previous))
    return tuple(sorted(out, key=lambda m: (m.tenant, m.pool)))


@functools.lru_cache(maxsize=256)
def _ordered(keys: frozenset[str]) -> tuple[str, ...]:
    """``resources.ordered``, kept per key set: 10,000 tenants share a handful of sets, and sorting each
    tenant's keys again was a fifth of a large what-if's comparison."""
    return resources.ordered(keys)


def _losers(changes: list[whatif.EnvelopeChange]) -> tuple[str, ...]:
    """Tenants whose envelope shrank somewhere, the largest relative loss (then absolute) first."""
    worst: dict[str, Decimal] = {}
    for c in changes:
        if c.delta >= 0:
            continue
        loss = -(c.ratio if c.ratio is not None else Decimal(-1))
        worst[c.tenant] = max(worst.get(c.tenant, Decimal(0)), loss)
    return tuple(sorted(worst, key=lambda t: (-worst[t], t)))
