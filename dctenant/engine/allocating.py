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

import contextlib
import datetime as dt
import decimal
import math
import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from typing import Any

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
    # Held off while the pools' columns are built (see ``allocations.uncollected``).
    with allocations.uncollected():
        return _allocate(datacentre, tenants=tenants, policy=policy, at=at)


def _allocate(
    datacentre: pools.DataCentre, *, tenants: Sequence[tenancy.Tenant], policy: policies.Policy, at: dt.date,
) -> allocations.Allocation:
    # Sorted by id: leftover units go to the largest remainders, ties to the lower id, whatever the input order.
    ordered = sorted(tenants, key=operator.attrgetter("id"))
    served = {p.name: _Members() for p in datacentre.pools}
    appends = {name: (group.tenants.append, group.ids.append, group.packed.append, group.tiers.append)
               for name, group in served.items()}
    # A tuple, not a set: membership is then an identity test, with no call to the enum's hash.
    serving = tuple(state for state in tenancy.LicenceState if state.served)
    tier_at = {name: j for j, name in enumerate(policy.tiers)}
    rules = policy.licences
    # A licence's state depends only on the licence, ``at`` and the rules, and loaded estates share
    # one licence object among many tenants: it is worked out once per object, found by identity
    # (every licence stays alive, held by its tenant, for the whole call, so no identity is reused).
    state_of: dict[int, tenancy.LicenceState] = {}
    members: dict[str, tenancy.Tenant] = {}
    states: dict[str, tenancy.LicenceState] = {}
    with_namespaces: list[tenancy.Tenant] = []
    # One pass over the tenants (each pass over 10,000 of them costs milliseconds in memory reads
    # alone): their licence states, and what each pool needs of its members (their packed demand
    # rows and tiers), so that no pool walks its members again to look these up.
    for t in ordered:
        tid = t.id
        members[tid] = t
        licence = t.licence
        state = state_of.get(id(licence))
        if state is None:
            state = state_of[id(licence)] = licence.state(at=at, rules=rules)
        states[tid] = state
        if state in serving:
            tier = tier_at[t.tier]
            for pool_name, numbers in t.numbers.items():
                add_tenant, add_id, add_packed, add_tier = appends[pool_name]
                add_tenant(t)
                add_id(tid)
                add_packed(numbers.packed)
                add_tier(tier)
        else:
            # No fill for it, but a pool the data centre lacks fails here as it does for a served tenant.
            for pool_name in t.demand:
                if pool_name not in served:
                    raise KeyError(pool_name)
        if t.namespaces:
            with_namespaces.append(t)
    warnings = _licence_warnings(ordered, states, policy)
    pool_results: dict[str, allocations.PoolAllocation] = {}
    columns: dict[str, allocations.PoolShares] = {}
    for pool in datacentre.pools:
        pool_results[pool.name], columns[pool.name], pool_warnings = _allocate_pool(pool, served[pool.name], policy)
        warnings.extend(pool_warnings)
    # The tenants' allocations are assembled from the pools' columns when read (see ``PoolShares``).
    result = allocations.TenantAllocations(
        members=members, states=states, pools=columns,
        tiers={name: (tier.weight, tier.guaranteed) for name, tier in policy.tiers.items()})
    namespaces, namespace_warnings = _namespace_quotas(with_namespaces, result, policy)
    return allocations.Allocation(at=at, pools=pool_results, tenants=result, namespaces=namespaces,
                                  warnings=(*warnings, *namespace_warnings))


@dataclass(slots=True)
class _Members:
    """The served tenants of one pool, in id order, with what the pool needs of each, side by side."""

    tenants: list[tenancy.Tenant] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)  # their ids (read here, where the tenant is in hand)
    packed: list[bytes | None] = field(default_factory=list)  # their ``Numbers.packed`` demand rows here
    tiers: list[int] = field(default_factory=list)  # their tiers' positions in ``policy.tiers``


@dataclass(frozen=True, kw_only=True)
class _Outcome:
    """One pool's fill in whole units, from either the certified float fill or the exact one."""

    counts: list[int]  # whole units, row by row (one row of len(keys) per member), flat
    totals: list[int]  # whole units handed out, per resource
    labels: Callable[[], tuple[list[Decimal], list[Decimal]]]  # six-decimal fractions and levels, when read
    limited_by: list[int]
    frozen_round: list[int]
    saturated: list[bool]
    guarantee_scale: Fraction
    rounds: int


def _allocate_pool(
    pool: pools.Pool, group: _Members, policy: policies.Policy
) -> tuple[allocations.PoolAllocation, allocations.PoolShares, list[str]]:
    """One pool's resource lines, its members' shares (as columns) and the warnings they raise."""
    warnings: list[str] = []
    members = group.tenants
    keys = pool.resources
    unit = [policy.unit(k) for k in keys]
    allocatable = [pool.allocatable(k) for k in keys]
    # Work in units of each resource (the fill is scale invariant, and rounding needs them), but
    # with the exact allocatable: flooring it first would shrink every share computed from it.
    capacity = [Fraction(a) / Fraction(u) for a, u in zip(allocatable, unit, strict=True)]
    data = _PoolData.of(pool.name, group, keys, unit, capacity, policy)
    outcome = _float_outcome(data) if not FORCE_EXACT else None
    if outcome is None:
        outcome = _exact_outcome(data)
    if outcome.guarantee_scale < 1:
        warnings.append(
            f"pool {pool.name}: the tier guarantees do not all fit; every guarantee is scaled to "
            f"{_percent(outcome.guarantee_scale)} of what the tiers promise")
    names = {filling.LIMITED_BY_DEMAND: allocations.DEMAND, filling.LIMITED_BY_GUARANTEE: allocations.GUARANTEE,
             **dict(enumerate(keys))}
    unservable = {keys[j] for j, c in enumerate(capacity) if c == 0}
    if unservable:
        warnings.extend(f"pool {pool.name}: tenant {tenant.id} needs {names[j]}, of which nothing is allocatable"
                        for tenant, j in zip(members, outcome.limited_by, strict=True) if names[j] in unservable)
    shares = allocations.PoolShares(
        pool=pool.name, members=members, ids=group.ids, index={k: j for j, k in enumerate(keys)}, units=unit,
        counts=outcome.counts,
        dominant=_dominant_resources(data).tolist(), limited_by=outcome.limited_by, round=outcome.frozen_round,
        names=names, labels=outcome.labels)
    lines = tuple(
        allocations.PoolResource(key=k, capacity=pool.capacity[k], reserve=pool.reserve.get(k, ZERO),
                                 allocatable=allocatable[j], allocated=Decimal(outcome.totals[j]) * unit[j],
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
    """One pool's members as numbers: float arrays for the fast fill, exact integers for the proofs.

    A demand in base units is exactly ``mantissa × 10^exponent`` (integers; int64 arrays, or object
    arrays of Python ints where an amount does not fit), so exact values are integer arithmetic and
    no Decimal is touched per tenant.
    """

    members: list[tenancy.Tenant]
    keys: tuple[str, ...]
    unit: list[Decimal]
    units: list[Fraction]  # the same units, as fractions
    demand: npt.NDArray[np.float64]  # in units of each resource
    demand_floor: npt.NDArray[np.int64]  # exact whole units of demand (in range when the floats are)
    mantissa: npt.NDArray[Any]
    exponent: npt.NDArray[Any]
    capacity: list[Fraction]  # exact allocatable in units
    tier: npt.NDArray[np.intp]  # each member's index into the tier lists
    tier_weights: list[Decimal]
    tier_guarantees: list[Decimal]

    @classmethod
    def of(cls, pool_name: str, group: _Members, keys: tuple[str, ...], unit: list[Decimal],
           capacity: list[Fraction], policy: policies.Policy) -> _PoolData:
        demand, demand_floor, mantissa, exponent = _demand_in_units(pool_name, group, keys, unit)
        names = list(policy.tiers)
        return cls(members=group.tenants, keys=keys, unit=unit, units=[Fraction(u) for u in unit], demand=demand,
                   demand_floor=demand_floor, mantissa=mantissa, exponent=exponent, capacity=capacity,
                   tier=np.array(group.tiers, dtype=np.intp),
                   tier_weights=[policy.tiers[name].weight for name in names],
                   tier_guarantees=[policy.tiers[name].guaranteed for name in names])

    @property
    def weights(self) -> list[Decimal]:
        """Each member's tier weight."""
        return [self.tier_weights[j] for j in self.tier.tolist()]

    @property
    def guarantees(self) -> list[Decimal]:
        """Each member's tier guarantee."""
        return [self.tier_guarantees[j] for j in self.tier.tolist()]

    def base(self, i: int, r: int) -> int | Fraction:
        """Member ``i``'s exact demand of resource ``r`` in base units."""
        mantissa, exponent = int(self.mantissa[i, r]), int(self.exponent[i, r])
        return mantissa * 10**exponent if exponent >= 0 else Fraction(mantissa, 10**-exponent)

    def exact(self, i: int, r: int) -> Fraction:
        """Member ``i``'s exact demand of resource ``r`` in units."""
        return self.base(i, r) / self.units[r]


def _float_outcome(data: _PoolData) -> _Outcome | None:
    """The pool's envelopes from the float fill, or None where float64 cannot prove them exact."""
    capacity = np.array([float(c) for c in data.capacity], dtype=np.float64)
    if not data.members:
        return _Outcome(counts=[], totals=[0] * len(data.keys), labels=lambda: ([], []), limited_by=[], frozen_round=[],
                        saturated=[c == 0 for c in data.capacity], guarantee_scale=Fraction(1), rounds=0)
    if data.demand.max(initial=0.0) >= _FLOAT_LIMIT or capacity.max(initial=0.0) >= _FLOAT_LIMIT:
        return None
    weights = np.array([float(w) for w in data.tier_weights], dtype=np.float64)[data.tier]
    guarantees = np.array([float(g) for g in data.tier_guarantees], dtype=np.float64)[data.tier]
    result = filling.fill(demand=data.demand, capacity=capacity, weights=weights, guarantees=guarantees)
    if not result.clear:
        return None
    exactly = _ExactRemainders(result, data)
    units = _certified_units(result, data, exactly)
    if units is None:
        return None
    scale = exactly.scale()
    return _Outcome(counts=units.ravel().tolist(), totals=units.sum(axis=0).tolist(),
                    labels=lambda: (_shown_all(result.fraction), _shown_all(result.level)),
                    limited_by=result.limited_by.tolist(),
                    frozen_round=result.frozen_round.tolist(), saturated=result.saturated.tolist(),
                    guarantee_scale=scale, rounds=result.rounds)


def _certified_units(result: filling.Fill, data: _PoolData, exactly: _ExactRemainders) -> npt.NDArray[np.int64] | None:
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
    counts: npt.NDArray[np.int64] = base + chosen
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
        # Worked out once per pool (or row) and reused by every column that needs them.
        self._weights = [Fraction(w) for w in data.tier_weights]
        self._guarantees = [Fraction(g) for g in data.tier_guarantees]
        self._dominants: dict[int, Fraction] = {}

    def order(self, r: int, rows: list[int]) -> list[int] | None:
        """``rows`` by exact remainder of resource ``r``, largest first, ties to the lower index; or None."""
        limited_by = self.result.limited_by
        if all(limited_by[i] == filling.LIMITED_BY_GUARANTEE for i in rows):
            remainder = self._floor_remainders(r, rows)
            return sorted(rows, key=lambda i: (-remainder[i], i))
        # Known only when every row has the same key, that of a rising tenant: stop at the first other.
        first = self._key(rows[0], r)
        if first[0] != "level" or any(self._key(i, r) != first for i in rows[1:]):
            return None
        return sorted(rows)

    def _floor_remainders(self, r: int, rows: list[int]) -> dict[int, int]:
        """Remainders of resource ``r`` of tenants held on their floors, all over one common denominator.

        A floor envelope is ``scale × g × m × 10^e / unit`` in units (the demand being m × 10^e base
        units). Over the denominator ``scale.den × L × 10^E × unit.num``, with L a common denominator
        of the tiers' guarantees and 10^E clearing the smallest exponent, every numerator is an
        integer, so the remainders compare as integers: no fraction is built per tenant.
        """
        data = self.data
        scale, unit = self.scale(), data.units[r]
        guarantees = self._guarantees
        common = math.lcm(*(g.denominator for g in guarantees))
        factor = [scale.numerator * g.numerator * (common // g.denominator) * unit.denominator for g in guarantees]
        picked = np.array(rows, dtype=np.intp)
        mantissas = data.mantissa[picked, r].tolist()
        exponents = data.exponent[picked, r].tolist()
        tiers = data.tier[picked].tolist()
        floors = self.base[picked, r].tolist()
        shift = max(0, -min(exponents, default=0))
        denominator = scale.denominator * common * 10**shift * unit.numerator
        return {i: factor[t] * m * 10 ** (e + shift) - f * denominator
                for i, m, e, t, f in zip(rows, mantissas, exponents, tiers, floors, strict=True)}

    def value(self, i: int, r: int) -> Fraction | None:
        """The exact envelope in units of a tenant held on its floor; None for any other tenant."""
        key = self._key(i, r)
        return self.scale() * key[1] if key[0] == "floor" else None  # type: ignore[operator]

    def scale(self) -> Fraction:
        if self._scale is None:
            self._scale = _exact_guarantee_scale(self.data, self.result) if self.result.guarantee_scale < 1 \
                else Fraction(1)
        return self._scale

    def _key(self, i: int, r: int) -> tuple[object, ...]:
        data = self.data
        demand = data.exact(i, r)
        base = int(self.base[i, r])
        tier = int(data.tier[i])
        if self.result.limited_by[i] == filling.LIMITED_BY_GUARANTEE:
            return ("floor", self._guarantees[tier] * demand, base)
        dominant = self._dominants.get(i)
        if dominant is None:
            row = [data.exact(i, j) for j in range(len(data.keys))]
            dominant = self._dominants[i] = max(v / c for v, c in zip(row, data.capacity, strict=True) if v > 0)
        return ("level", int(self.result.frozen_round[i]), self._weights[tier] * demand / dominant, base)


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
    demand = [[data.exact(i, r) for r in range(n_res)] for i in range(len(data.members))]
    result = exact_filling.fill(demand=demand, capacity=data.capacity,
                                weights=[Fraction(w) for w in data.weights],
                                guarantees=[Fraction(g) for g in data.guarantees])
    exact = [[f * d for d in row] for f, row in zip(result.fraction, demand, strict=True)]
    house = [math.floor(sum((row[r] for row in exact), Fraction(0))) for r in range(n_res)]
    demand_floor = [[math.floor(d) for d in row] for row in demand]
    counts = exact_filling.round_fairly(exact=exact, demand_units=demand_floor, house=house)
    totals = [sum(row[r] for row in counts) for r in range(n_res)]
    return _Outcome(counts=[c for row in counts for c in row], totals=totals,
                    labels=lambda: ([_shown(f) for f in result.fraction], [_shown(t) for t in result.level]),
                    limited_by=result.limited_by,
                    frozen_round=result.frozen_round, saturated=result.saturated,
                    guarantee_scale=result.guarantee_scale, rounds=result.rounds)


def _exact_guarantee_scale(data: _PoolData, result: filling.Fill | None = None) -> Fraction:
    """The common factor the guarantees are scaled by, exactly.

    Only called when the float fill's scale is below 1 and clear, so one resource sets it: the one
    with the smallest float ratio of allocatable to guaranteed use (``result.scale_resource``, found
    here again when no fill is given), summed here exactly, in integers: the demands of each tier and
    exponent are summed as mantissas, and each such sum is scaled once.
    """
    guarantees = np.array([float(g) for g in data.tier_guarantees], dtype=np.float64)[data.tier]
    if result is not None:
        live, r = result.live, result.scale_resource
    else:
        capacity = np.array([float(c) for c in data.capacity], dtype=np.float64)
        live = (data.demand > 0).any(axis=1) & ~((data.demand > 0) & (capacity == 0)).any(axis=1)
        floor_use = guarantees[live] @ data.demand[live]
        with np.errstate(divide="ignore"):
            ratio = np.where(floor_use > 0, capacity / np.where(floor_use > 0, floor_use, 1.0), np.inf)
        r = int(np.argmin(ratio))
    rows = live & (guarantees > 0)
    mantissa, exponent, tier = data.mantissa[rows, r], data.exponent[rows, r], data.tier[rows]
    total = _guaranteed_use(mantissa, exponent, tier, data.tier_guarantees)
    if total is not None:
        return min(Fraction(1), data.capacity[r] / (total / data.units[r]))
    total = Fraction(0)
    for t, g in enumerate(data.tier_guarantees):
        of_tier = tier == t
        if g == 0 or not of_tier.any():
            continue
        for e in np.unique(exponent[of_tier]).tolist():
            group = mantissa[of_tier & (exponent == e)]
            # int64 sums are exact while the largest term times the count stays below 2^63.
            fits = group.dtype == np.int64 and float(np.abs(group).max()) * group.size < 9.0e18
            whole = int(group.sum()) if fits else sum(int(m) for m in group.tolist())
            total += Fraction(g) * (whole * 10**e if e >= 0 else Fraction(whole, 10**-e))
    return min(Fraction(1), data.capacity[r] / (total / data.units[r]))


def _guaranteed_use(mantissa: npt.NDArray[Any], exponent: npt.NDArray[Any], tier: npt.NDArray[np.intp],
                    guarantees: list[Decimal]) -> Fraction | None:
    """``Σ g_tier × m × 10^e`` exactly, in one int64 pass; None where int64 might not hold it.

    Every mantissa is moved to the column's smallest exponent (``m × 10^(e − low)``), so that one
    integer sum per tier, times ``10^low``, is the exact total. It is taken only when that shift is at
    most 18 places and the sum of the moved magnitudes (bounded in floats, with room to spare below
    2^63) fits, so that no int64 product or partial sum can overflow.
    """
    if mantissa.dtype != np.int64 or exponent.dtype != np.int64:
        return None
    if not mantissa.size:
        return Fraction(0)
    low = int(exponent.min())
    shift = exponent - low
    if int(shift.max()) > 18 or float((np.abs(mantissa).astype(np.float64) * 10.0 ** shift).sum()) >= 9.0e18:
        return None
    moved = mantissa * 10 ** shift
    total = Fraction(0)
    for t, g in enumerate(guarantees):
        if g:
            total += Fraction(g) * int(moved[tier == t].sum())
    return total * Fraction(10) ** low


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
    pool_name: str, group: _Members, keys: tuple[str, ...], unit: list[Decimal]
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int64], npt.NDArray[Any], npt.NDArray[Any]]:
    """Demands in units of each resource, as floats for the fill and floored exactly, and exactly.

    The exact form is ``mantissa × 10^exponent`` in base units, derived when the tenant was loaded;
    in the common case (every member asks for every resource of the pool, in amounts that fit in
    64 bits) the rows are joined from their packed bytes, with no Python number touched. The exact
    floor is counted in int64 where every factor fits, and in Python integers elsewhere.
    """
    n_res = len(keys)
    members = group.tenants
    shape = (len(members), n_res)
    packed = None
    # A row that does not fit in 64 bits has no packed form (TypeError); rows of other lengths do
    # not divide evenly (ValueError) or put something other than this layout's marker where a row
    # should begin: markers occur only where rows begin, so m markers in place mean m aligned rows.
    if members:
        with contextlib.suppress(TypeError, ValueError):
            packed = np.frombuffer(b"".join(group.packed),  # type: ignore[arg-type]
                                   dtype=np.int64).reshape(len(members), 1 + 3 * n_res)
    if packed is not None and bool((packed[:, 0] == quantities.layout(keys)).all()):
        floats: npt.NDArray[np.float64] = packed[:, 1:1 + n_res].view(np.float64)
        mantissa: npt.NDArray[Any] = packed[:, 1 + n_res:1 + 2 * n_res]
        exponent: npt.NDArray[Any] = packed[:, 1 + 2 * n_res:]
    else:
        float_list: list[float] = []
        mantissas: list[int] = []
        exponents: list[int] = []
        for n in (t.numbers[pool_name] for t in members):
            at = {k: j for j, k in enumerate(n.keys)}
            float_list.extend(n.floats[at[k]] if k in at else 0.0 for k in keys)
            mantissas.extend(n.mantissas[at[k]] if k in at else 0 for k in keys)
            exponents.extend(n.exponents[at[k]] if k in at else 0 for k in keys)
        floats = np.array(float_list, dtype=np.float64).reshape(shape)
        mantissa, exponent = _integers(mantissas, shape), _integers(exponents, shape)
    scale = np.array([float(u) for u in unit], dtype=np.float64)
    demand = floats / scale
    units = np.zeros(shape, dtype=np.int64)
    if not members:
        return demand, units, mantissa, exponent
    # A unit is ``unit_mantissa × 10^unit_exponent``; whole units of an amount m × 10^e are then
    # m × 10^(e − unit_exponent) // unit_mantissa, in int64 where every factor fits.
    unit_parts = [quantities.decompose(u) for u in unit]
    unit_mantissa = np.array([m for m, _ in unit_parts], dtype=np.int64)
    unit_exponent = np.array([e for _, e in unit_parts], dtype=np.int64)
    if mantissa.dtype == np.int64 and exponent.dtype == np.int64:
        shift = exponent - unit_exponent
        up = np.minimum(np.maximum(shift, 0), 18)
        down = np.minimum(np.maximum(-shift, 0), 18)
        # Powers of ten from tables (exact: every 10^k, k <= 18, is an int64 and a float64).
        fits = (np.abs(shift) <= 18) & (np.abs(mantissa) * _POWERS_OF_TEN_F[up] < 9.0e18) \
            & (unit_mantissa.astype(np.float64) * _POWERS_OF_TEN_F[down] < 9.0e18)
        safe_mantissa = np.where(fits, mantissa, 0)
        units = (safe_mantissa * _POWERS_OF_TEN[up]) // unit_mantissa
        if down.any():  # amounts with digits below the unit's exponent: divided by the unit moved down
            units = np.where(shift >= 0, units, safe_mantissa // (unit_mantissa * _POWERS_OF_TEN[down]))
        rest = np.flatnonzero(~fits).tolist()
    else:
        rest = list(range(shape[0] * n_res))
    exact_units = [Fraction(u) for u in unit]
    for flat in rest:
        row, col = divmod(flat, n_res)
        m, e = int(mantissa[row, col]), int(exponent[row, col])
        exact = math.floor((m * 10**e if e >= 0 else Fraction(m, 10**-e)) / exact_units[col])
        units[row, col] = min(exact, 2**62)  # beyond the float range only the exact fill reads them
    return demand, units, mantissa, exponent


_POWERS_OF_TEN = np.array([10**k for k in range(19)], dtype=np.int64)
_POWERS_OF_TEN_F = np.array([float(10**k) for k in range(19)], dtype=np.float64)


def _integers(values: list[int], shape: tuple[int, int]) -> npt.NDArray[Any]:
    """Integers as an int64 array, or an array of Python ints where one does not fit in 64 bits."""
    try:
        return np.array(values, dtype=np.int64).reshape(shape)
    except OverflowError:
        return np.array(values, dtype=object).reshape(shape)


def _licence_warnings(
    tenants: Sequence[tenancy.Tenant], states: dict[str, tenancy.LicenceState], policy: policies.Policy,
) -> list[str]:
    """A warning for every tenant served in grace, in the order given."""
    out: list[str] = []
    if tenancy.LicenceState.GRACE not in states.values():  # one C-level scan; the usual case
        return out
    for t in tenants:
        if states[t.id] is tenancy.LicenceState.GRACE:
            until = t.licence.expires + dt.timedelta(days=policy.licences.grace_days)
            out.append(f"tenant {t.id}: licence {t.licence.number} expired on {t.licence.expires}; "
                       f"served in grace until {until}, then its envelope drops to zero")
    return out


def _namespace_quotas(
    tenants: Sequence[tenancy.Tenant],
    result: Mapping[str, allocations.TenantAllocation],
    policy: policies.Policy,
) -> tuple[tuple[allocations.NamespaceQuota, ...], list[str]]:
    """Scale each pool's namespace quotas down, per resource, to fit within the tenant's envelope.

    A namespace's quota of a squeezed resource becomes ``quota × envelope / total``, floored to the
    resource's unit (never rounded up, so the namespaces together stay within the envelope).
    """
    out: list[allocations.NamespaceQuota] = []
    warnings: list[str] = []
    units: dict[str, Decimal] = {}
    for t in tenants:
        if not t.namespaces:
            continue
        for pool_name in sorted({ns.pool for ns in t.namespaces}):
            share = result[t.id].shares.get(pool_name)
            envelope = share.envelope if share else {}
            total = t.namespace_total(pool_name)
            squeezed = {k: v for k, v in total.items() if v > envelope.get(k, ZERO)}
            # Every namespace's quota of a squeezed resource is scaled by the same exact ratio.
            scalings = {k: quantities.Scaling(numerator=envelope.get(k, ZERO), denominator=v,
                                              step=units[k] if k in units else units.setdefault(k, policy.unit(k)))
                        for k, v in squeezed.items()}
            for ns in (n for n in t.namespaces if n.pool == pool_name):
                granted = {k: scalings[k].floor(v) if k in scalings else v for k, v in ns.quota.items()}
                out.append(allocations.NamespaceQuota(tenant=t.id, namespace=ns.name, pool=pool_name,
                                                      requested=dict(ns.quota), granted=granted))
            if squeezed and result[t.id].licence.served:
                ratios = {k: envelope.get(k, ZERO) / v for k, v in squeezed.items()}
                shown = ", ".join(f"{k} to {min(ratios[k], Decimal(1)):.1%}" for k in resources.ordered(ratios))
                warnings.append(f"tenant {t.id}: namespaces in pool {pool_name} exceed the envelope; "
                                f"their quotas are scaled down: {shown}")
    return tuple(out), warnings


def _shown(value: float | Fraction) -> Decimal:
    """A fraction or level as a Decimal with six decimals (half to even): what the plan shows and serialises."""
    if isinstance(value, float):
        return Decimal(f"{value:.6f}")
    return Decimal(round(value * 10**6)).scaleb(-6)


def _shown_all(values: npt.NDArray[np.float64]) -> list[Decimal]:
    """``_shown`` of every value, each distinct one formatted once and shared as one Decimal.

    Tenants frozen together share a level and many are served in full, but thousands of values are
    distinct. ``rint(x × 10^6)`` is the correctly rounded sixth decimal unless the rounded product
    lies within a few ulps of a half (or is huge, zero or not finite): only those are formatted one
    by one; the rest become Decimals straight from their integers.
    """
    distinct, inverse = np.unique(values + 0.0, return_inverse=True)  # + 0.0: a -0.0 is shown as 0
    scaled = distinct * 1e6
    with np.errstate(invalid="ignore"):
        doubtful = ~(np.abs(scaled) < 2.0**50) | (distinct == 0) \
            | (np.abs(scaled - np.floor(scaled) - 0.5) <= 4 * np.spacing(np.abs(scaled)))
    whole = np.where(doubtful, 0.0, np.rint(scaled)).astype(np.int64)
    scaleb = _SIX_PLACES.scaleb
    formatted = np.array([_shown(x) if odd else scaleb(Decimal(k), -6) for x, k, odd in zip(
        distinct.tolist(), whole.tolist(), doubtful.tolist(), strict=True)], dtype=object)
    shown: list[Decimal] = formatted[inverse.ravel()].tolist()
    return shown


# Exact for every integer below 2^50 moved six places: its digits always fit.
_SIX_PLACES = decimal.Context(prec=28)


def _percent(value: Fraction) -> str:
    """A share as a percentage with two decimals, rounded down so that it never overstates the share."""
    hundredths = math.floor(value * 10**4)
    return f"{Decimal(hundredths).scaleb(-2)}%"
