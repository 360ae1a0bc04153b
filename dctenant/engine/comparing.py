"""Two allocations of the same data centre → what moved: the what-if comparison.

Pure: it reads no clock, file or network. ``plan --what-if`` allocates the data centre as written
and as changed, then asks this module for every envelope that differs, the tenants now below their
tier's guarantee, the licence states that changed, and who lost the most (to explain first).

A what-if on 10,000 tenants compares some 15,000 shares of about eight amounts each, twice over (the
envelopes, then the guarantees), so the loops below are written for that size: an envelope may be a
lazy mapping (``allocations.UnitAmounts``, whose every read builds a Decimal and whose ``get`` of an
absent key raises and catches a KeyError), so each is read once into a plain dict, and only where
two envelopes are not both plain dicts (which compare in C).
"""

from __future__ import annotations

import functools
import weakref
from collections.abc import Mapping
from decimal import Decimal

from dctenant.domain import allocations, resources, whatif

ZERO = Decimal(0)


def compare(before: allocations.Allocation, after: allocations.Allocation) -> whatif.Comparison:
    """Every (tenant, pool, resource) whose envelope differs, in tenant, pool, resource order."""
    changes: list[whatif.EnvelopeChange] = []
    states: list[whatif.StateChange] = []
    read = _Reader()
    old_tenants, new_tenants = before.tenants, after.tenants
    for tenant in sorted(old_tenants.keys() | new_tenants.keys()):
        old = old_tenants.get(tenant)
        new = new_tenants.get(tenant)
        # A state is a function of the licence state alone: equal licence states, equal states.
        if old is None or new is None or old.licence is not new.licence:
            was_state = old.state if old is not None else None
            now_state = new.state if new is not None else None
            if was_state != now_state:
                states.append(whatif.StateChange(tenant=tenant, before=was_state, after=now_state))
        old_shares = old.shares if old is not None else {}
        new_shares = new.shares if new is not None else {}
        pools = old_shares.keys() | new_shares.keys()
        for pool in sorted(pools) if len(pools) > 1 else pools:
            was = old_shares[pool].envelope if pool in old_shares else {}
            now = new_shares[pool].envelope if pool in new_shares else {}
            if type(was) is dict and type(now) is dict:
                if was == now:
                    continue
            else:
                was, now = read(was), read(now)
                if was == now:
                    continue
            for key in _ordered(frozenset(was) | frozenset(now)):
                a, b = was.get(key), now.get(key)
                if a != b:
                    changes.append(whatif.EnvelopeChange(tenant=tenant, pool=pool, resource=key, before=a, after=b))
    old_misses = {(m.tenant, m.pool) for m in _misses_before(before, read=read)}
    misses = _below_guarantee(after, previous=old_misses, read=read)
    return whatif.Comparison(envelopes=tuple(changes), below_guarantee=misses, states=tuple(states),
                             losers=_losers(changes))


def below_guarantee(allocation: allocations.Allocation,
                    *, previous: set[tuple[str, str]] | None) -> tuple[whatif.GuaranteeMiss, ...]:
    """Served tenants given less than ``guaranteed × demand`` of some resource in a pool.

    The allocator meets every guarantee unless the guarantees together do not fit a pool; then it
    scales them all down by the pool's ``guarantee_scale`` (docs/plan.md). So a miss is looked for
    only in such pools, and named by the resources where the envelope is below the guarantee.
    """
    return _below_guarantee(allocation, previous=previous, read=_Reader())


def _below_guarantee(allocation: allocations.Allocation, *, previous: set[tuple[str, str]] | None,
                     read: _Reader) -> tuple[whatif.GuaranteeMiss, ...]:
    squeezed = {name for name, pool in allocation.pools.items() if pool.guarantee_scale < 1}
    out: list[whatif.GuaranteeMiss] = []
    if not squeezed:
        return ()
    for tid, tenant in allocation.tenants.items():
        guaranteed = tenant.guaranteed
        if guaranteed <= 0 or not tenant.licence.served:  # not served: state "suspended", no guarantee
            continue
        for pool, share in tenant.shares.items():
            if pool not in squeezed:
                continue
            envelope = read(share.envelope)
            demand = share.demand
            short = [k for k, v in demand.items() if envelope.get(k, ZERO) < guaranteed * v]
            if short:
                # Ordered through the demand's key set (a handful across all tenants, so kept by _ordered),
                # not the short ones' (thousands of subsets, which would churn its cache).
                short = [k for k in _ordered(frozenset(demand)) if k in short]
                out.append(whatif.GuaranteeMiss(tenant=tid, pool=pool, resources=tuple(short),
                                                new=previous is not None and (tid, pool) not in previous))
    return tuple(sorted(out, key=lambda m: (m.tenant, m.pool)))


# The misses of the last "before" allocation compared: a server or a session trying several change
# files compares against the same plan again and again. Held weakly: the caller owns the plan.
_LAST: list[tuple[weakref.ref[allocations.Allocation], tuple[whatif.GuaranteeMiss, ...]]] = []


def _misses_before(allocation: allocations.Allocation, *, read: _Reader) -> tuple[whatif.GuaranteeMiss, ...]:
    if _LAST and _LAST[0][0]() is allocation:
        return _LAST[0][1]
    misses = _below_guarantee(allocation, previous=None, read=read)
    _LAST[:] = [(weakref.ref(allocation), misses)]
    return misses


class _Reader:
    """Envelopes as plain dicts (a dict itself; a lazy mapping read once per comparison, then kept by
    identity: the comparison of envelopes and the search for guarantee misses read the same ones)."""

    def __init__(self) -> None:
        self._read: dict[int, tuple[Mapping[str, Decimal], dict[str, Decimal]]] = {}

    def __call__(self, amounts: Mapping[str, Decimal]) -> dict[str, Decimal]:
        if type(amounts) is dict:
            return amounts
        # By id (a Mapping is not hashable), shifted: ids are multiples of 16, and a dict indexes first by
        # the low bits of the key, so unshifted ids pile into a few slots (seconds of probing on 20,000).
        key = id(amounts) >> 4
        kept = self._read.get(key)
        if kept is not None and kept[0] is amounts:
            return kept[1]
        plain = {k: amounts[k] for k in amounts}
        self._read[key] = (amounts, plain)  # the mapping is held, so its id cannot be reused
        return plain


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
