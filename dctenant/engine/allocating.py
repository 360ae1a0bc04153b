"""The fair allocator: divide every pool's allocatable capacity among the tenants that asked for it.

It maps the domain (Decimal quantities, tenants, licences, tiers) onto the numeric core in
``filling`` one pool at a time, rounds envelopes to whole units (millicores, MiB, Mbit/s, GPUs by
default), scales staff-declared namespace quotas down where they no longer fit, and records why
each tenant got what it got.

Pure: it reads no clock, file or network and prints nothing; "today" is the ``at`` parameter.
"""

from __future__ import annotations

import datetime as dt
import operator
from collections.abc import Iterable, Sequence
from decimal import ROUND_FLOOR, Decimal

import numpy as np
import numpy.typing as npt

from dctenant.domain import allocations, policies, pools, resources
from dctenant.domain import tenants as tenancy
from dctenant.engine import filling

ZERO = Decimal(0)


def allocate(
    datacentre: pools.DataCentre,
    *,
    tenants: Sequence[tenancy.Tenant],
    policy: policies.Policy,
    at: dt.date,
) -> allocations.Allocation:
    """Weighted DRF with tier guarantees, demand caps and licence gating, in every pool."""
    states = {t.id: t.licence.state(at=at, rules=policy.licences) for t in tenants}
    warnings = _licence_warnings(tenants, states, policy, at)
    # Sorted by id: leftover units go to the largest remainders, ties to the lower id, whatever the input order.
    ordered = sorted(tenants, key=lambda t: t.id)
    served: dict[str, list[tenancy.Tenant]] = {p.name: [] for p in datacentre.pools}
    refused: dict[str, list[tenancy.Tenant]] = {p.name: [] for p in datacentre.pools}
    for t in ordered:
        for pool_name in t.demand:
            (served if states[t.id].served else refused)[pool_name].append(t)
    pool_results: dict[str, allocations.PoolAllocation] = {}
    shares: dict[str, dict[str, allocations.Share]] = {t.id: {} for t in ordered}
    for pool in datacentre.pools:
        pool_results[pool.name], granted = _allocate_pool(pool, served[pool.name], policy, warnings)
        for tenant_id, share in {**granted, **_refused(pool, refused[pool.name])}.items():
            shares[tenant_id][pool.name] = share
    result = {
        t.id: allocations.TenantAllocation(
            tenant=t.id, licence=states[t.id], weight=policy.tiers[t.tier].weight,
            guaranteed=policy.tiers[t.tier].guaranteed, shares=shares[t.id])
        for t in sorted(tenants, key=lambda t: t.id)
    }
    namespaces = _namespace_quotas(tenants, result, policy, warnings)
    return allocations.Allocation(at=at, pools=pool_results, tenants=result, namespaces=namespaces,
                                  warnings=tuple(warnings))


def _allocate_pool(
    pool: pools.Pool, members: list[tenancy.Tenant], policy: policies.Policy, warnings: list[str]
) -> tuple[allocations.PoolAllocation, dict[str, allocations.Share]]:
    keys = pool.resources
    unit = [policy.unit(k) for k in keys]
    allocatable = [pool.allocatable(k) for k in keys]
    # Work in whole units of each resource: the fill is scale invariant, and rounding needs them.
    cap_units = np.array([int((a / u).to_integral_value(ROUND_FLOOR)) for a, u in zip(allocatable, unit, strict=True)],
                         dtype=np.int64)
    demand, demand_units = _demand_in_units(pool.name, members, keys, unit)
    tier_weight = {name: float(tier.weight) for name, tier in policy.tiers.items()}
    tier_guarantee = {name: float(tier.guaranteed) for name, tier in policy.tiers.items()}
    weights = np.array([tier_weight[t.tier] for t in members], dtype=np.float64)
    guarantees = np.array([tier_guarantee[t.tier] for t in members], dtype=np.float64)
    result = filling.fill(demand=demand, capacity=cap_units.astype(np.float64), weights=weights,
                          guarantees=guarantees)
    exact = result.fraction[:, None] * demand
    envelope_units = filling.round_down_fairly(exact=exact, demand_units=demand_units, capacity_units=cap_units)
    if result.guarantee_scale < 1:
        warnings.append(
            f"pool {pool.name}: the tier guarantees do not all fit; every guarantee is scaled to "
            f"{result.guarantee_scale:.2%} of what the tiers promise")
    with np.errstate(divide="ignore", invalid="ignore"):
        dominant_index = np.argmax(np.where(demand > 0, demand / np.maximum(cap_units, 1e-300), -1.0), axis=1) \
            if len(members) else np.zeros(0, dtype=np.int64)
    # Plain Python lists: per-element numpy indexing would dominate the cost at 10,000 tenants.
    env_rows = envelope_units.tolist()
    limited_rows = result.limited_by.tolist()
    rounds = result.frozen_round.tolist()
    dominant_rows = dominant_index.tolist()
    # Tenants frozen together share one level, and many are served in full: format each value once.
    shown: dict[float, Decimal] = {}
    fractions = [shown[x] if x in shown else shown.setdefault(x, _shown(x)) for x in result.fraction.tolist()]
    levels = [shown[x] if x in shown else shown.setdefault(x, _shown(x)) for x in result.level.tolist()]
    names = {filling.LIMITED_BY_DEMAND: allocations.DEMAND, filling.LIMITED_BY_GUARANTEE: allocations.GUARANTEE,
             **dict(enumerate(keys))}
    full_index = {k: j for j, k in enumerate(keys)}
    unservable = {j for j, c in enumerate(cap_units.tolist()) if c == 0}
    shares: dict[str, allocations.Share] = {}
    for tenant, row, limited, fraction, level, dominant, frozen in zip(
            members, env_rows, limited_rows, fractions, levels, dominant_rows, rounds, strict=True):
        asked = tenant.demand[pool.name]
        index = full_index if len(asked) == len(keys) else {k: j for k, j in full_index.items() if k in asked}
        reason = names[limited]
        if limited in unservable:
            warnings.append(f"pool {pool.name}: tenant {tenant.id} needs {reason}, of which nothing is allocatable")
        shares[tenant.id] = allocations.Share(
            pool=pool.name,
            demand=asked,
            envelope=allocations.UnitAmounts(index=index, units=unit, counts=row),
            fraction=fraction,
            weighted_share=level,
            dominant=keys[dominant],
            limited_by=reason,
            round=frozen,
        )
    used = envelope_units.sum(axis=0) if len(members) else np.zeros(len(keys), dtype=np.int64)
    lines = tuple(
        allocations.PoolResource(key=k, capacity=pool.capacity[k], reserve=pool.reserve.get(k, ZERO),
                                 allocatable=allocatable[j], allocated=Decimal(int(used[j])) * unit[j],
                                 saturated=bool(result.saturated[j]) if len(members) else False)
        for j, k in enumerate(keys)
    )
    return (allocations.PoolAllocation(name=pool.name, resources=lines,
                                       guarantee_scale=_shown(result.guarantee_scale), rounds=result.rounds),
            shares)


def _demand_in_units(
    pool_name: str, members: list[tenancy.Tenant], keys: tuple[str, ...], unit: list[Decimal]
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int64]]:
    """Demands in whole units of each resource: as floats for the fill, and floored exactly for rounding.

    Converting every Decimal exactly would dominate the allocator's time at 10,000 tenants, so the
    floor comes from the float; only where the float lies just below a whole number (where it may have
    rounded across it) is the exact Decimal floor taken instead.
    """
    # itemgetter reads all of a full demand in one C call; it returns a bare value for a single key.
    pick = operator.itemgetter(*keys) if len(keys) > 1 else None
    values: list[Decimal] = []
    for t in members:
        asked = t.demand[pool_name]
        if pick is not None and len(asked) == len(keys):
            values.extend(pick(asked))
        else:
            values.extend(asked.get(k, ZERO) for k in keys)
    shape = (len(members), len(keys))
    scale = np.array([float(u) for u in unit], dtype=np.float64)
    demand = np.array(values, dtype=np.float64).reshape(shape) / scale
    nearest = np.rint(demand)
    floored = np.floor(demand)
    doubtful = (nearest > demand) & (nearest - demand <= 1e-9 * np.maximum(1.0, demand))
    units = floored.astype(np.int64)
    for flat in np.flatnonzero(doubtful).tolist():
        row, col = divmod(flat, len(keys))
        units[row, col] = int((values[flat] / unit[col]).to_integral_value(ROUND_FLOOR))
    return demand, units


def _refused(pool: pools.Pool, tenants: Iterable[tenancy.Tenant]) -> dict[str, allocations.Share]:
    """Tenants with demand here whose licence does not allow service get an empty envelope."""
    return {
        t.id: allocations.Share(pool=pool.name, demand=t.demand[pool.name],
                                envelope=dict.fromkeys(t.demand[pool.name], ZERO), fraction=ZERO,
                                weighted_share=ZERO, dominant="", limited_by=allocations.LICENCE, round=0)
        for t in tenants
    }


def _licence_warnings(
    tenants: Sequence[tenancy.Tenant], states: dict[str, tenancy.LicenceState], policy: policies.Policy,
    at: dt.date,
) -> list[str]:
    out = []
    for t in sorted(tenants, key=lambda t: t.id):
        if states[t.id] is tenancy.LicenceState.GRACE:
            until = t.licence.expires + dt.timedelta(days=policy.licences.grace_days)
            out.append(f"tenant {t.id}: licence {t.licence.number} expired on {t.licence.expires}; "
                       f"served in grace until {until}, then its envelope drops to zero")
    return out


def _namespace_quotas(
    tenants: Sequence[tenancy.Tenant],
    result: dict[str, allocations.TenantAllocation],
    policy: policies.Policy,
    warnings: list[str],
) -> tuple[allocations.NamespaceQuota, ...]:
    """Scale each pool's namespace quotas down, per resource, to fit within the tenant's envelope."""
    out: list[allocations.NamespaceQuota] = []
    for t in sorted(tenants, key=lambda t: t.id):
        for pool_name in sorted({ns.pool for ns in t.namespaces}):
            share = result[t.id].shares.get(pool_name)
            envelope = share.envelope if share else {}
            total = t.namespace_total(pool_name)
            ratios = {k: envelope.get(k, ZERO) / v for k, v in total.items() if v > envelope.get(k, ZERO)}
            for ns in (n for n in t.namespaces if n.pool == pool_name):
                granted = {k: _floor_to(v * ratios[k], policy.unit(k)) if k in ratios else v
                           for k, v in ns.quota.items()}
                out.append(allocations.NamespaceQuota(tenant=t.id, namespace=ns.name, pool=pool_name,
                                                      requested=dict(ns.quota), granted=granted))
            if ratios and result[t.id].licence.served:
                squeezed = ", ".join(f"{k} to {min(ratios[k], Decimal(1)):.1%}" for k in resources.ordered(ratios))
                warnings.append(f"tenant {t.id}: namespaces in pool {pool_name} exceed the envelope; "
                                f"their quotas are scaled down: {squeezed}")
    return tuple(out)


def _floor_to(value: Decimal, unit: Decimal) -> Decimal:
    return (value / unit).to_integral_value(ROUND_FLOOR) * unit


def _shown(value: float) -> Decimal:
    """A float of the numeric core as a Decimal with six decimals: what the plan shows and serialises."""
    return Decimal(f"{value:.6f}")
