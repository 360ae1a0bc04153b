"""Fast weighted dominant-resource water-filling for one pool in float64, and the proof that it is exact.

Why this module exists: the fair allocator splits every pool among its tenants by weighted Dominant
Resource Fairness with guaranteed floors and demand caps, for thousands of tenants and dozens of pools
on every plan. Simulating the fill with small level steps would be slow and only approximately right.
Between breakpoints each resource's usage is linear in the common level, so a round of the fill is a
sort, two cumulative sums and one interpolation per resource, and at most one round per resource plus
one is needed.

Float64 is fast but not exact, and envelopes must be exact to the unit at every magnitude. So the fill
also reports whether every discrete decision it took (which resource saturated first, which tenant
reached its demand or sat on its floor, whether the guarantees fit) was taken with a relative margin
far above float64 noise (``Fill.clear``). When it was, the decisions are those of the exact rational
fill and only the values carry float error; :func:`hand_out_leftovers` then rounds them only where that
error cannot change the result. Anything closer is recomputed in rational arithmetic
(``engine/exact_filling.py``) by the domain wrapper.

Pure: it reads no clock, file or network, prints nothing and never mutates its arguments.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
B = npt.NDArray[np.bool_]

LIMITED_BY_DEMAND = -1
LIMITED_BY_GUARANTEE = -2

# Two levels that differ by less than this relative amount are treated as one event, so that a tenant
# whose cap coincides with a saturation is reported as capped, and resources that saturate together
# are frozen in the same round. It is far above float64 noise and far below any meaningful quantity.
_TIE = 1e-12
# A decision is "clear" when the quantities it compared differ by more than this relative margin:
# a thousand times the largest float error the fill's sums can accumulate (about 1e-12 for 10^5
# tenants), so a clear decision is the one exact arithmetic takes.
MARGIN = 1e-9


@dataclass(frozen=True, kw_only=True)
class Fill:
    """The outcome of :func:`fill`: per-tenant fractions of demand, and why each stopped growing.

    ``limited_by[i]`` is a resource index when a saturating resource stopped tenant ``i`` (the lowest
    index if several filled at the same level), ``LIMITED_BY_DEMAND`` when it got its whole demand, and
    ``LIMITED_BY_GUARANTEE`` when a resource filled while it still sat on a positive guarantee floor.
    ``frozen_round`` counts water-filling rounds from 0; tenants settled before any round (no demand,
    or a need for a zero-capacity resource) report 0. ``rounds`` is the number of rounds run, at most
    R + 1. ``saturated`` marks the resources that filled up in some round, and zero-capacity ones.
    ``capped`` marks tenants served in full by the fill itself (fraction exactly 1). ``clear`` is
    True when every comparison behind these decisions had a relative margin of at least ``MARGIN``.
    ``live`` marks the tenants that take part in the fill (some demand, none of it unservable), and
    ``scale_resource`` is the resource whose guaranteed use sets ``guarantee_scale`` (the lowest
    ratio of capacity to guaranteed use, the first of equal ones; -1 when every guarantee fits).
    """

    fraction: F64
    level: F64
    limited_by: I64
    frozen_round: I64
    saturated: B
    capped: B
    guarantee_scale: float
    rounds: int
    clear: bool
    live: B
    scale_resource: int


def fill(*, demand: F64, capacity: F64, weights: F64, guarantees: F64) -> Fill:
    """Weighted DRF with guarantee floors and demand caps, computed by progressive filling in float64.

    Tenant ``i`` receives ``fraction[i] * demand[i]``. Tenants demanding nothing are served in full
    (fraction 1, limited by demand). Tenants needing a resource whose capacity is zero get fraction 0,
    are limited by the lowest such resource, and are left out of guarantee scaling so that one
    unservable tenant cannot void everyone else's guarantee. Guarantees that together overflow some
    resource are all scaled by the common factor ``guarantee_scale``. An unservable tenant is told
    apart by ``fraction == 0`` with ``capacity[limited_by] == 0``. Quantities are expected in the
    normal float64 range (units such as millicores or MiB); subnormal dominant shares would overflow.
    Raises ValueError on malformed input, which is a bug in the caller rather than a user error.
    """
    # Checked float64 copies: ``amounts`` of demand per tenant and resource, ``limit`` of capacity.
    amounts, limit, weight, guarantee = _checked(demand, capacity, weights, guarantees)
    n, n_res = amounts.shape
    needs = amounts > 0
    blocked = needs & (limit == 0)
    unservable = blocked.any(axis=1)
    live = needs.any(axis=1) & ~unservable
    share = np.divide(amounts, limit, out=np.zeros_like(amounts), where=needs & (limit > 0))
    dominant = share.max(axis=1, initial=0.0)

    fraction = np.where(unservable, 0.0, 1.0)
    limited_by = np.where(unservable, np.argmax(blocked, axis=1), LIMITED_BY_DEMAND).astype(np.int64)
    frozen_round = np.zeros(n, dtype=np.int64)
    capped = ~unservable

    # Guarantees first: scale them down together if they do not all fit on some resource.
    floor_use = guarantee[live] @ amounts[live]
    with np.errstate(over="ignore"):  # A vanishing guarantee gives an infinite ratio, as it should.
        fit_ratio = np.divide(limit, floor_use, out=np.full(n_res, np.inf), where=floor_use > 0)
    scale = float(min(1.0, fit_ratio.min(initial=np.inf)))
    forced = fit_ratio <= scale * (1.0 + _TIE)
    # The scale is clear when no resource's ratio is near 1 (fits or not) and at most one resource
    # sets it (the one the guarantees fill exactly).
    finite_ratio = fit_ratio[np.isfinite(fit_ratio)]
    clear = bool((np.abs(finite_ratio - 1.0) > MARGIN).all()) and (
        scale == 1.0 or int((finite_ratio <= scale * (1.0 + MARGIN)).sum()) == 1)

    members = np.flatnonzero(live)
    water = _water_fill(demand=amounts[members], capacity=limit, weight=weight[members], dominant=dominant[members],
                        floor=scale * guarantee[members], forced=forced)
    fraction[members], limited_by[members], frozen_round[members] = water.fraction, water.why, water.round
    capped[members] = water.capped
    level = np.divide(fraction * dominant, weight, out=np.zeros(n), where=live)
    return Fill(
        fraction=fraction,
        level=level,
        limited_by=limited_by,
        frozen_round=frozen_round,
        saturated=water.saturated | (limit == 0),
        capped=capped,
        guarantee_scale=scale,
        rounds=water.rounds,
        clear=clear and water.clear,
        live=live,
        scale_resource=int(np.argmin(fit_ratio)) if scale < 1.0 else -1,
    )


@dataclass(frozen=True, kw_only=True)
class _Water:
    fraction: F64
    why: I64
    round: I64
    capped: B
    saturated: B
    rounds: int
    clear: bool


def _water_fill(*, demand: F64, capacity: F64, weight: F64, dominant: F64, floor: F64, forced: B) -> _Water:
    """Progressive filling over tenants that need only resources with positive capacity.

    In level space tenant ``i`` sits at ``clip(t, lowest[i], highest[i])`` and uses ``slope[i, r]`` of
    resource ``r`` per unit of level, so usage is a piecewise-linear, non-decreasing function of ``t``
    whose breakpoints are the ``lowest`` and ``highest`` values of the tenants still active.
    """
    m, n_res = demand.shape
    # A tenant's level is its weighted dominant share: below its floor it sits at ``lowest``, and at
    # ``highest`` it has its whole demand.
    lowest, highest = floor * dominant / weight, dominant / weight
    slope = demand * (weight / dominant)[:, None]
    fraction = np.zeros(m)
    why = np.full(m, LIMITED_BY_DEMAND, dtype=np.int64)
    frozen_in = np.zeros(m, dtype=np.int64)
    capped_out = np.zeros(m, dtype=np.bool_)
    saturated = np.zeros(n_res, dtype=np.bool_)
    breakpoints = np.concatenate([lowest, highest])
    order = np.argsort(breakpoints, kind="stable")  # Sorted once; each round keeps the active subsequence.
    active = np.ones(m, dtype=np.bool_)
    frozen_use = np.zeros(n_res)
    start_level, rounds = 0.0, 0
    # A guarantee floor equal to the whole demand is an exact cap only when the floats are equal.
    full_floor = lowest >= highest
    needs = demand > 0
    clear = bool(((lowest < highest * (1.0 - MARGIN)) | full_floor).all())
    while active.any():
        saturation_level = _saturation_levels(breakpoints=breakpoints, order=order, active=active, slope=slope,
                                              capacity=capacity, frozen_use=frozen_use, start_level=start_level)
        if rounds == 0:
            # Guarantees that exactly fill a resource saturate it before any level rises.
            saturation_level[forced & np.isfinite(saturation_level)] = start_level
        level = float(saturation_level.min(initial=np.inf))
        hit = np.isfinite(saturation_level) & (saturation_level <= level * (1.0 + _TIE))
        # Clear when exactly one resource saturates first, well before the next one, and no active
        # tenant reaches its demand or leaves its floor within the margin of that level.
        others = saturation_level[~hit & np.isfinite(saturation_level)]
        clear &= int(hit.sum()) <= 1 and bool((others > level * (1.0 + MARGIN)).all())
        if np.isfinite(level):
            near = np.abs(highest[active] - level) <= MARGIN * level
            near |= (lowest[active] > 0) & (np.abs(lowest[active] - level) <= MARGIN * level)
            clear &= not bool(near.any())
        capped = active & ((highest <= level * (1.0 + _TIE)) | (lowest >= highest * (1.0 - _TIE)))
        uses_hit = needs[:, hit].any(axis=1)
        stuck = active & uses_hit & ~capped
        fraction[capped] = 1.0
        fraction[stuck] = np.clip(level * weight[stuck] / dominant[stuck], floor[stuck], 1.0)
        at_floor = stuck & (floor > 0) & (lowest >= level)
        first_hit = np.argmax(needs & hit[None, :], axis=1)
        why[stuck] = np.where(at_floor[stuck], LIMITED_BY_GUARANTEE, first_hit[stuck])
        frozen = capped | stuck
        frozen_in[frozen] = rounds
        capped_out |= capped
        frozen_use += fraction[frozen] @ demand[frozen]
        saturated |= hit
        active &= ~frozen
        start_level, rounds = level, rounds + 1
    return _Water(fraction=fraction, why=why, round=frozen_in, capped=capped_out, saturated=saturated,
                  rounds=rounds, clear=clear)


def _saturation_levels(*, breakpoints: F64, order: I64, active: B, slope: F64, capacity: F64, frozen_use: F64,
                       start_level: float) -> F64:
    """The smallest level ``t >= start_level`` at which each resource is used to capacity (inf if never)."""
    m = active.size
    # The active tenants' breakpoints in ascending order; index < m is a floor, index >= m a cap.
    events = order[np.concatenate([active, active])[order]]
    position = breakpoints[events]
    tenant = events % m
    rising = np.where(events < m, 1.0, -1.0)  # A floor starts a tenant rising; its cap stops it.
    event_slope = slope[tenant]
    # Passing a floor swaps a constant k*lo for k*t; passing a cap swaps k*t for the constant k*hi.
    running_slope = np.cumsum(event_slope * rising[:, None], axis=0)
    running_constant = np.cumsum(event_slope * (-rising * position)[:, None], axis=0)
    # Usage with every active tenant at its floor, then the usage reached at each breakpoint.
    active_slope = slope[active]
    at_floors = frozen_use + active_slope.T @ breakpoints[:m][active]
    use = at_floors + running_constant + running_slope * position[:, None]
    full = use >= capacity
    has_users = (active_slope > 0).any(axis=0)
    fills = full.any(axis=0) & has_users
    # The first breakpoint at which each resource is full, and the one before it: the crossing lies
    # on the linear piece between them.
    after = np.argmax(full, axis=0)
    before = np.maximum(after - 1, 0)
    columns = np.arange(capacity.size)
    use_before, use_after = use[before, columns], use[after, columns]
    rise = use_after - use_before
    part = np.divide(capacity - use_before, rise, out=np.ones_like(rise), where=rise > 0)
    level = position[before] + np.clip(part, 0.0, 1.0) * (position[after] - position[before])
    # Before the first breakpoint usage is flat, so a resource full there is full at every level.
    level = np.where(after == 0, start_level, np.maximum(level, start_level))
    return np.where(fills, level, np.inf)


def hand_out_leftovers(*, remainder: F64, error: F64, eligible: B, leftover: I64,
                       exact_order: Callable[[int, list[int]], list[int] | None]) -> I64 | None:
    """Which tenants get one more unit: the ``leftover[r]`` largest remainders of each resource.

    Ties go to the lower index. ``remainder`` holds float approximations, each within ``error`` of
    its exact value. Where the last unit handed out and the first withheld are further apart than
    their errors, the float order decides. Where they are not, the tenants whose remainders could
    cross are put in exact order by ``exact_order(r, rows)`` (largest exact remainder of resource
    ``r`` first, ties to the lower index), and the first of them get the units; when it cannot
    order them (None), None is returned, so that the caller recomputes the pool exactly. Only
    ``eligible`` tenants (below their demand, with a positive remainder) take part.
    """
    counts = eligible.sum(axis=0)
    take = np.minimum(np.maximum(leftover, 0), counts)
    chosen = _largest(remainder=remainder, eligible=eligible, take=take, counts=counts)
    # Where some but not all eligible tenants get a unit, the smallest remainder chosen must exceed
    # the largest one withheld by more than both errors.
    contested = (take > 0) & (take < counts)
    if contested.any():
        low_chosen = np.where(chosen, remainder - error, np.inf).min(axis=0)
        high_withheld = np.where(eligible & ~chosen, remainder + error, -np.inf).max(axis=0)
        # Intervals that overlap, or touch while one of them has a width: the exact values may cross.
        # (Equal values known exactly, with no error, are a tie: the float order already gave it
        # to the lower index.)
        widths = np.where(eligible, error, 0.0).max(axis=0, initial=0.0)
        overlap = (low_chosen < high_withheld) | ((low_chosen == high_withheld) & (widths > 0))
        for r in np.flatnonzero(contested & overlap).tolist():
            # The tenants whose exact remainders could lie on either side of the cut.
            near = eligible[:, r] & (remainder[:, r] + error[:, r] >= low_chosen[r]) \
                & (remainder[:, r] - error[:, r] <= high_withheld[r])
            rows = np.flatnonzero(near).tolist()
            ranked = exact_order(r, rows)
            if ranked is None:
                return None
            # Those outside the contested rows are clearly chosen or withheld; within them, as many
            # as the float order chose, in exact order, provided that no row the exact order moves
            # across the cut could pass one outside it.
            winners = int(chosen[rows, r].sum())
            column, slack = remainder[:, r], error[:, r]
            outside = eligible[:, r] & ~near
            demoted = [i for i in ranked[winners:] if chosen[i, r]]
            promoted = [i for i in ranked[:winners] if not chosen[i, r]]
            lowest_kept = np.where(outside & chosen[:, r], column - slack, np.inf).min(initial=np.inf)
            highest_left = np.where(outside & ~chosen[:, r], column + slack, -np.inf).max(initial=-np.inf)
            if any(column[i] + slack[i] >= lowest_kept for i in demoted) or \
                    any(column[i] - slack[i] <= highest_left for i in promoted):
                return None
            chosen[rows, r] = False
            chosen[ranked[:winners], r] = True
    handed: I64 = chosen.astype(np.int64)
    return handed


def _largest(*, remainder: F64, eligible: B, take: I64, counts: I64) -> B:
    """In each column, the ``take[r]`` eligible rows of largest remainder, ties to the lower index.

    The same choice as a stable sort of every column, without the sort: a column where no one or
    every eligible row is taken needs no order at all, and elsewhere the ``take``-th largest value
    (found by partition, in linear time) is the cut: everything above it is taken, and of the rows
    equal to it, the lowest indices fill what is left.
    """
    chosen = eligible & (take >= counts)[None, :]
    for r in np.flatnonzero((take > 0) & (take < counts)).tolist():
        k = int(take[r])
        key = np.where(eligible[:, r], -remainder[:, r], np.inf)
        cut = np.partition(key, k - 1)[k - 1]
        above = key < cut
        ties = np.flatnonzero(key == cut)[:k - int(above.sum())]
        above[ties] = True
        chosen[:, r] = above
    return chosen


def _checked(demand: F64, capacity: F64, weights: F64, guarantees: F64) -> tuple[F64, F64, F64, F64]:
    """Validate shapes and ranges; the wrapper guarantees them, so a failure here is a caller bug."""
    dem = np.asarray(demand, dtype=np.float64)
    cap = np.asarray(capacity, dtype=np.float64)
    weight = np.asarray(weights, dtype=np.float64)
    guarantee = np.asarray(guarantees, dtype=np.float64)
    if dem.ndim != 2 or cap.shape != (dem.shape[1],) or weight.shape != guarantee.shape \
            or weight.shape != (dem.shape[0],):
        raise ValueError("demand must be (n, R), capacity (R,), weights and guarantees (n,)")
    if not all(np.isfinite(a).all() for a in (dem, cap, weight, guarantee)):
        raise ValueError("inputs must be finite")
    if (dem < 0).any() or (cap < 0).any() or (weight <= 0).any() or (guarantee < 0).any() or (guarantee > 1).any():
        raise ValueError("need demand >= 0, capacity >= 0, weights > 0 and guarantees in [0, 1]")
    return dem, cap, weight, guarantee
