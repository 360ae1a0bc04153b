"""The fair allocator: divide every pool's allocatable capacity among the tenants that asked for it.

It maps the domain (Decimal quantities, tenants, licences, tiers) onto the numeric core one pool at
a time, rounds envelopes to whole units (millicores, MiB, Mbit/s, GPUs by default), scales
staff-declared namespace quotas down where they no longer fit, and records why each tenant got what
it got. Envelopes are the exact weighted leximin of docs/plan.md: the float fill in ``filling`` is
used where its decisions and floors are provably those of exact arithmetic, and ``exact_filling``
(rational arithmetic) everywhere else.

Pure: it reads no clock, file or network and prints nothing; "today" is the ``at`` parameter.
"""

from __future__ import annotations

import datetime as dt
import decimal
import math
import operator
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

import numpy as np
import numpy.typing as npt

from dctenant.domain import allocations, policies, pools, quantities, resources
from dctenant.domain import tenants as tenancy
from dctenant.engine import exact_filling, filling

ZERO = Decimal(0)


def allocate(
    datacentre: pools.DataCentre,
    *,
    tenants: Sequence[tenancy.Tenant],
    policy: policies.Policy,
    at: dt.date,
) -> allocations.Allocation:
    """Weighted DRF with tier guarantees, demand caps and licence gating, in every pool.

    Each pool's exact allocatable (``capacity × overcommit − reserve``, never rounded first) is
    divided by the exact weighted leximin of docs/plan.md; envelopes are then floored to the policy's
    units and each pool's leftover whole units go to the largest remainders. Tenants whose licence
    does not allow service get empty envelopes. Every warning (guarantees that do not fit, a tenant
    needing a resource of which nothing is allocatable, licences in grace, namespaces scaled down)
    is returned in the ``Allocation``.
    """
    states = {t.id: t.licence.state(at=at, rules=policy.licences) for t in tenants}
    warnings = _licence_warnings(tenants, states, policy)
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
        pool_results[pool.name], granted, pool_warnings = _allocate_pool(pool, served[pool.name], policy)
        warnings.extend(pool_warnings)
        for tenant_id, share in {**granted, **_refused(pool, refused[pool.name])}.items():
            shares[tenant_id][pool.name] = share
    result = {
        t.id: allocations.TenantAllocation(
            tenant=t.id, licence=states[t.id], weight=policy.tiers[t.tier].weight,
            guaranteed=policy.tiers[t.tier].guaranteed, shares=shares[t.id])
        for t in ordered
    }
    namespaces, namespace_warnings = _namespace_quotas(ordered, result, policy)
    return allocations.Allocation(at=at, pools=pool_results, tenants=result, namespaces=namespaces,
                                  warnings=(*warnings, *namespace_warnings))


@dataclass(frozen=True, kw_only=True)
class _Outcome:
    """One pool's fill in whole units, from either the certified float fill or the exact one."""

    counts: list[list[int]]
    fraction: list[Decimal]
    level: list[Decimal]
    limited_by: list[int]
    frozen_round: list[int]
    saturated: list[bool]
    guarantee_scale: Fraction
    rounds: int


def _allocate_pool(
    pool: pools.Pool, members: list[tenancy.Tenant], policy: policies.Policy
) -> tuple[allocations.PoolAllocation, dict[str, allocations.Share], list[str]]:
    """One pool's shares and resource lines, and the warnings they raise."""
    warnings: list[str] = []
    keys = pool.resources
    unit = [policy.unit(k) for k in keys]
    allocatable = [pool.allocatable(k) for k in keys]
    # Work in units of each resource (the fill is scale invariant, and rounding needs them), but
    # with the exact allocatable: flooring it first would shrink every share computed from it.
    capacity = [Fraction(a) / Fraction(u) for a, u in zip(allocatable, unit, strict=True)]
    data = _PoolData.of(pool.name, members, keys, unit, capacity, policy)
    outcome = _float_outcome(data) if not FORCE_EXACT else None
    if outcome is None:
        outcome = _exact_outcome(data)
    if outcome.guarantee_scale < 1:
        warnings.append(
            f"pool {pool.name}: the tier guarantees do not all fit; every guarantee is scaled to "
            f"{_percent(outcome.guarantee_scale)} of what the tiers promise")
    dominant_rows = _dominant_resources(data).tolist()
    names = {filling.LIMITED_BY_DEMAND: allocations.DEMAND, filling.LIMITED_BY_GUARANTEE: allocations.GUARANTEE,
             **dict(enumerate(keys))}
    full_index = {k: j for j, k in enumerate(keys)}
    unservable = {j for j, c in enumerate(capacity) if c == 0}
    shares: dict[str, allocations.Share] = {}
    for tenant, row, limited, fraction, level, dominant, frozen in zip(
            members, outcome.counts, outcome.limited_by, outcome.fraction, outcome.level, dominant_rows,
            outcome.frozen_round, strict=True):
        asked = tenant.demand[pool.name]
        index = full_index if len(asked) == len(keys) else {k: j for k, j in full_index.items() if k in asked}
        reason = names[limited]
        if limited in unservable:
            warnings.append(f"pool {pool.name}: tenant {tenant.id} needs {reason}, of which nothing is allocatable")
        shares[tenant.id] = allocations.Share.quick(
            pool=pool.name,
            demand=asked,
            envelope=allocations.UnitAmounts(index=index, units=unit, counts=row),
            fraction=fraction,
            weighted_share=level,
            dominant=keys[dominant],
            limited_by=reason,
            round=frozen,
        )
    used = [sum(row[j] for row in outcome.counts) for j in range(len(keys))]
    lines = tuple(
        allocations.PoolResource(key=k, capacity=pool.capacity[k], reserve=pool.reserve.get(k, ZERO),
                                 allocatable=allocatable[j], allocated=Decimal(used[j]) * unit[j],
                                 saturated=outcome.saturated[j] if members else False)
        for j, k in enumerate(keys)
    )
    return (allocations.PoolAllocation(name=pool.name, resources=lines,
                                       guarantee_scale=_shown(outcome.guarantee_scale), rounds=outcome.rounds),
            shares, warnings)


# Tests set this to run every pool through the exact rational fill, to compare it with the float one.
FORCE_EXACT = False
# The float fill's values are trusted to this relative error: a hundred times the float64 error of
# its sums (about 1e-13 for 10^5 tenants). An envelope whose floor or remainder rank could change
# within it is recomputed exactly.
_RELATIVE_ERROR = 1e-11
# Above this many units a float64 no longer resolves a unit with room to spare: exact arithmetic only.
_FLOAT_LIMIT = float(2**44)


@dataclass(frozen=True, kw_only=True)
class _PoolData:
    """One pool's members as numbers: float arrays for the fast fill, exact values on demand."""

    members: list[tenancy.Tenant]
    keys: tuple[str, ...]
    unit: list[Decimal]
    values: list[Decimal]  # the demands, row by row, in base units
    demand: npt.NDArray[np.float64]  # in units of each resource
    demand_floor: npt.NDArray[np.int64]  # exact whole units of demand (in range when the floats are)
    capacity: list[Fraction]  # exact allocatable in units
    weights: list[Decimal]
    guarantees: list[Decimal]

    @classmethod
    def of(cls, pool_name: str, members: list[tenancy.Tenant], keys: tuple[str, ...], unit: list[Decimal],
           capacity: list[Fraction], policy: policies.Policy) -> _PoolData:
        values, demand, demand_floor = _demand_in_units(pool_name, members, keys, unit)
        return cls(members=members, keys=keys, unit=unit, values=values, demand=demand, demand_floor=demand_floor,
                   capacity=capacity, weights=[policy.tiers[t.tier].weight for t in members],
                   guarantees=[policy.tiers[t.tier].guaranteed for t in members])


def _float_outcome(data: _PoolData) -> _Outcome | None:
    """The pool's envelopes from the float fill, or None where float64 cannot prove them exact."""
    capacity = np.array([float(c) for c in data.capacity], dtype=np.float64)
    if not data.members:
        return _Outcome(counts=[], fraction=[], level=[], limited_by=[], frozen_round=[],
                        saturated=[c == 0 for c in data.capacity], guarantee_scale=Fraction(1), rounds=0)
    if data.demand.max(initial=0.0) >= _FLOAT_LIMIT or capacity.max(initial=0.0) >= _FLOAT_LIMIT:
        return None
    tiers: dict[tuple[Decimal, Decimal], tuple[float, float]] = {}
    pairs = [tiers.setdefault((w, g), (float(w), float(g))) for w, g in zip(data.weights, data.guarantees,
                                                                           strict=True)]
    weights = np.array([w for w, _ in pairs], dtype=np.float64)
    guarantees = np.array([g for _, g in pairs], dtype=np.float64)
    result = filling.fill(demand=data.demand, capacity=capacity, weights=weights, guarantees=guarantees)
    if not result.clear:
        return None
    exactly = _ExactRemainders(result, data)
    counts = _certified_units(result, data, exactly)
    if counts is None:
        return None
    # Tenants frozen together share one level, and many are served in full: format each value once.
    shown: dict[float, Decimal] = {}
    fractions = [shown[x] if x in shown else shown.setdefault(x, _shown(x)) for x in result.fraction.tolist()]
    levels = [shown[x] if x in shown else shown.setdefault(x, _shown(x)) for x in result.level.tolist()]
    scale = exactly.scale()
    return _Outcome(counts=counts, fraction=fractions, level=levels, limited_by=result.limited_by.tolist(),
                    frozen_round=result.frozen_round.tolist(), saturated=result.saturated.tolist(),
                    guarantee_scale=scale, rounds=result.rounds)


def _certified_units(result: filling.Fill, data: _PoolData, exactly: _ExactRemainders) -> list[list[int]] | None:
    """Whole units from the float fill where its error cannot change them, else None.

    Tenants served in full get exactly the floor of their demand. Every other envelope is the float
    ``fraction × demand``, trusted to ``_RELATIVE_ERROR``: its floor counts when no whole number lies
    within that error, and a tenant held on its floor whose value is that close to a whole number
    (it often is one) gets its exact value instead. The leftover units follow the float order where
    the last remainder served and the first withheld are further apart than their errors.
    """
    exact = result.fraction[:, None] * data.demand
    error = exact * _RELATIVE_ERROR
    low, high = np.floor(exact - error), np.floor(exact + error)
    capped = result.capped[:, None]
    # An exact zero (no demand, or nothing served) is certain; any other value must sit strictly
    # between two whole numbers, error included.
    certain = capped | (exact == 0) | ((low == high) & (exact - error > low))
    base = np.where(capped, data.demand_floor, low.astype(np.int64))
    exactly.base = base
    whole = np.zeros_like(certain)  # exactly a whole number of units: no remainder to round
    for i, r in np.argwhere(~certain).tolist():
        value = exactly.value(i, r)
        if value is None:
            return None
        base[i, r] = math.floor(value)
        remainder = value - base[i, r]
        exact[i, r], error[i, r], whole[i, r] = base[i, r] + float(remainder), 0.0, remainder == 0
    house = _house(result, data, exact, error)
    if house is None:
        return None
    eligible = ~capped & ~whole & (exact > 0) & (base < data.demand_floor)
    chosen = filling.hand_out_leftovers(remainder=exact - base, error=error, eligible=eligible,
                                        leftover=house - base.sum(axis=0), exact_order=exactly.order)
    if chosen is None:
        return None
    counts: list[list[int]] = (base + chosen).tolist()
    return counts


class _ExactRemainders:
    """Exact remainders of a few tenants' envelopes, without running the exact fill.

    A tenant held on its floor gets exactly ``scale × g × demand``, and the exact guarantee scale is
    one sum over the resource that sets it. A tenant rising in round k gets ``t_k × w × demand / d``
    with an exact level that is costly to compute, but tenants of one round whose factor
    ``w × demand / d`` and floor are the same have the same remainder. Anything else is unknown.
    """

    def __init__(self, result: filling.Fill, data: _PoolData) -> None:
        self.result, self.data = result, data
        self.base = np.zeros(data.demand.shape, dtype=np.int64)  # the floors, once they are known
        self._scale: Fraction | None = None

    def order(self, r: int, rows: list[int]) -> list[int] | None:
        """``rows`` by exact remainder of resource ``r``, largest first, ties to the lower index; or None."""
        data, n_res = self.data, len(self.data.keys)
        if all(self.result.limited_by[i] == filling.LIMITED_BY_GUARANTEE for i in rows):
            # Tenants of one tier with the same demand and floor are common: each distinct one once.
            scale, unit = self.scale(), Fraction(data.unit[r])
            distinct: dict[tuple[Decimal, Decimal, int], Fraction] = {}
            remainder = {}
            for i in rows:
                key = (data.guarantees[i], data.values[i * n_res + r], int(self.base[i, r]))
                if key not in distinct:
                    distinct[key] = scale * Fraction(key[0]) * Fraction(key[1]) / unit - key[2]
                remainder[i] = distinct[key]
            return sorted(rows, key=lambda i: (-remainder[i], i))
        keys = {i: self._key(i, r) for i in rows}
        if len(set(keys.values())) == 1 and keys[rows[0]][0] == "level":
            return sorted(rows)
        return None

    def value(self, i: int, r: int) -> Fraction | None:
        """The exact envelope in units of a tenant held on its floor; None for any other tenant."""
        key = self._key(i, r)
        return self.scale() * key[1] if key[0] == "floor" else None  # type: ignore[operator]

    def scale(self) -> Fraction:
        if self._scale is None:
            self._scale = _exact_guarantee_scale(self.data) if self.result.guarantee_scale < 1 else Fraction(1)
        return self._scale

    def _key(self, i: int, r: int) -> tuple[object, ...]:
        data, n_res = self.data, len(self.data.keys)
        demand = Fraction(data.values[i * n_res + r]) / Fraction(data.unit[r])
        base = int(self.base[i, r])
        if self.result.limited_by[i] == filling.LIMITED_BY_GUARANTEE:
            return ("floor", Fraction(data.guarantees[i]) * demand, base)
        row = [Fraction(v) / Fraction(u) for v, u in zip(data.values[i * n_res:(i + 1) * n_res], data.unit,
                                                          strict=True)]
        dominant = max(v / c for v, c in zip(row, data.capacity, strict=True) if v > 0)
        return ("level", int(self.result.frozen_round[i]), Fraction(data.weights[i]) * demand / dominant, base)


def _house(result: filling.Fill, data: _PoolData, exact: npt.NDArray[np.float64],
           error: npt.NDArray[np.float64]) -> npt.NDArray[np.int64] | None:
    """Whole units each resource hands out: the floor of the exact total, all of it where saturated."""
    full = np.array([c.numerator // c.denominator for c in data.capacity], dtype=np.int64)
    total = exact.sum(axis=0)
    # The sum's own rounding adds at most n ulps of the total.
    slack = error.sum(axis=0) + np.abs(total) * exact.shape[0] * 2.3e-16
    low, high = np.floor(total - slack), np.floor(total + slack)
    if not (result.saturated | (low == high)).all():
        return None
    house: npt.NDArray[np.int64] = np.where(result.saturated, full, np.minimum(low.astype(np.int64), full))
    return house


def _exact_outcome(data: _PoolData) -> _Outcome:
    """The pool's envelopes from the exact rational fill: slower, and right at every magnitude."""
    n_res = len(data.keys)
    units = [Fraction(u) for u in data.unit]
    demand = [[Fraction(v) / units[j % n_res] for j, v in enumerate(data.values[i * n_res:(i + 1) * n_res])]
              for i in range(len(data.members))]
    result = exact_filling.fill(demand=demand, capacity=data.capacity,
                                weights=[Fraction(w) for w in data.weights],
                                guarantees=[Fraction(g) for g in data.guarantees])
    exact = [[f * d for d in row] for f, row in zip(result.fraction, demand, strict=True)]
    house = [math.floor(sum((row[r] for row in exact), Fraction(0))) for r in range(n_res)]
    demand_floor = [[math.floor(d) for d in row] for row in demand]
    counts = exact_filling.round_fairly(exact=exact, demand_units=demand_floor, house=house)
    return _Outcome(counts=counts, fraction=[_shown(f) for f in result.fraction],
                    level=[_shown(t) for t in result.level], limited_by=result.limited_by,
                    frozen_round=result.frozen_round, saturated=result.saturated,
                    guarantee_scale=result.guarantee_scale, rounds=result.rounds)


def _exact_guarantee_scale(data: _PoolData) -> Fraction:
    """The common factor the guarantees are scaled by, exactly.

    Only called when the float fill's scale is below 1 and clear, so one resource sets it: the one
    with the smallest float ratio of allocatable to guaranteed use, summed here exactly.
    """
    capacity = np.array([float(c) for c in data.capacity], dtype=np.float64)
    guarantees = np.array([float(g) for g in data.guarantees], dtype=np.float64)
    live = (data.demand > 0).any(axis=1) & ~((data.demand > 0) & (capacity == 0)).any(axis=1)
    floor_use = guarantees[live] @ data.demand[live]
    with np.errstate(divide="ignore"):
        ratio = np.where(floor_use > 0, capacity / np.where(floor_use > 0, floor_use, 1.0), np.inf)
    r = int(np.argmin(ratio))
    n_res = len(data.keys)
    with decimal.localcontext(prec=200):  # exact: products and sums of quantities need far fewer digits
        total = sum((data.guarantees[i] * data.values[i * n_res + r] for i in np.flatnonzero(live).tolist()),
                    ZERO)
    return min(Fraction(1), data.capacity[r] / (Fraction(total) / Fraction(data.unit[r])))


def _dominant_resources(data: _PoolData) -> npt.NDArray[np.int64]:
    """Each tenant's dominant resource: the one of which it asks the largest share of the pool."""
    if not data.members:
        return np.zeros(0, dtype=np.int64)
    capacity = np.array([float(c) for c in data.capacity], dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(data.demand > 0, data.demand / np.maximum(capacity, 1e-300), -1.0)
    found: npt.NDArray[np.int64] = np.argmax(share, axis=1)
    return found


def _demand_in_units(
    pool_name: str, members: list[tenancy.Tenant], keys: tuple[str, ...], unit: list[Decimal]
) -> tuple[list[Decimal], npt.NDArray[np.float64], npt.NDArray[np.int64]]:
    """Demands in base units, and in units of each resource: as floats for the fill, and floored exactly.

    The exact floor is counted in integers from each amount's ``mantissa × 10^exponent`` (derived
    when the tenant was loaded), so that no Decimal is converted here one by one. Amounts too large
    for 64-bit integers are floored in fractions.
    """
    n_res = len(keys)
    # itemgetter reads all of a full demand in one C call; it returns a bare value for a single key.
    pick = operator.itemgetter(*keys) if n_res > 1 else lambda amounts: (amounts[keys[0]],)
    values: list[Decimal] = []
    floats: list[float] = []
    mantissas: list[int] = []
    exponents: list[int] = []
    for t in members:
        asked, numbers = t.demand[pool_name], t.numbers[pool_name]
        if numbers.keys == keys:  # the common case: a demand for everything the pool has, in its order
            values.extend(pick(asked))
            floats.extend(numbers.floats)
            mantissas.extend(numbers.mantissas)
            exponents.extend(numbers.exponents)
        else:
            at = {k: j for j, k in enumerate(numbers.keys)}
            values.extend(asked.get(k, ZERO) for k in keys)
            floats.extend(numbers.floats[at[k]] if k in at else 0.0 for k in keys)
            mantissas.extend(numbers.mantissas[at[k]] if k in at else 0 for k in keys)
            exponents.extend(numbers.exponents[at[k]] if k in at else 0 for k in keys)
    shape = (len(members), n_res)
    scale = np.array([float(u) for u in unit], dtype=np.float64)
    demand = np.array(floats, dtype=np.float64).reshape(shape) / scale
    units = np.zeros(shape, dtype=np.int64)
    if not members:
        return values, demand, units
    # A unit is ``unit_mantissa × 10^unit_exponent``; whole units of an amount m × 10^e are then
    # m × 10^(e − unit_exponent) // unit_mantissa, in int64 where every factor fits.
    unit_parts = [quantities.decompose(u) for u in unit]
    unit_mantissa = np.array([m for m, _ in unit_parts], dtype=np.int64)
    unit_exponent = np.array([e for _, e in unit_parts], dtype=np.int64)
    try:
        mantissa = np.array(mantissas, dtype=np.int64).reshape(shape)
    except OverflowError:
        mantissa = None
    if mantissa is not None:
        shift = np.array(exponents, dtype=np.int64).reshape(shape) - unit_exponent
        up = np.clip(shift, 0, 18)
        down = np.clip(-shift, 0, 18)
        fits = (np.abs(shift) <= 18) & (np.abs(mantissa).astype(np.float64) * 10.0 ** up < 9.0e18) \
            & (unit_mantissa.astype(np.float64) * 10.0 ** down < 9.0e18)
        safe_mantissa = np.where(fits, mantissa, 0)
        units = np.where(shift >= 0, (safe_mantissa * 10 ** up) // unit_mantissa,
                         safe_mantissa // (unit_mantissa * 10 ** down))
        rest = np.flatnonzero(~fits).tolist()
    else:
        rest = list(range(len(values)))
    for flat in rest:
        row, col = divmod(flat, n_res)
        exact = math.floor(Fraction(values[flat]) / Fraction(unit[col]))
        units[row, col] = min(exact, 2**62)  # beyond the float range only the exact fill reads them
    return values, demand, units


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
) -> tuple[tuple[allocations.NamespaceQuota, ...], list[str]]:
    """Scale each pool's namespace quotas down, per resource, to fit within the tenant's envelope.

    A namespace's quota of a squeezed resource becomes ``quota × envelope / total``, floored to the
    resource's unit (never rounded up, so the namespaces together stay within the envelope).
    """
    out: list[allocations.NamespaceQuota] = []
    warnings: list[str] = []
    for t in tenants:
        for pool_name in sorted({ns.pool for ns in t.namespaces}):
            share = result[t.id].shares.get(pool_name)
            envelope = share.envelope if share else {}
            total = t.namespace_total(pool_name)
            ratios = {k: envelope.get(k, ZERO) / v for k, v in total.items() if v > envelope.get(k, ZERO)}
            for ns in (n for n in t.namespaces if n.pool == pool_name):
                granted = {k: quantities.floor_to_step(
                    Fraction(v) * Fraction(envelope.get(k, ZERO)) / Fraction(total[k]), policy.unit(k))
                           if k in ratios else v for k, v in ns.quota.items()}
                out.append(allocations.NamespaceQuota(tenant=t.id, namespace=ns.name, pool=pool_name,
                                                      requested=dict(ns.quota), granted=granted))
            if ratios and result[t.id].licence.served:
                squeezed = ", ".join(f"{k} to {min(ratios[k], Decimal(1)):.1%}" for k in resources.ordered(ratios))
                warnings.append(f"tenant {t.id}: namespaces in pool {pool_name} exceed the envelope; "
                                f"their quotas are scaled down: {squeezed}")
    return tuple(out), warnings


def _shown(value: float | Fraction) -> Decimal:
    """A fraction or level as a Decimal with six decimals (half to even): what the plan shows and serialises."""
    if isinstance(value, float):
        return Decimal(f"{value:.6f}")
    return Decimal(round(value * 10**6)).scaleb(-6)


def _percent(value: Fraction) -> str:
    """A share as a percentage with two decimals, rounded down so that it never overstates the share."""
    hundredths = math.floor(value * 10**4)
    return f"{Decimal(hundredths).scaleb(-2)}%"
