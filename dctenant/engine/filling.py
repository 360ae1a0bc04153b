"""Exact weighted dominant-resource water-filling for one pool, and fair rounding to whole units.

Why this module exists: the fair allocator splits every pool among its tenants by weighted Dominant
Resource Fairness with guaranteed floors and demand caps, for thousands of tenants and dozens of pools
on every plan. Simulating the fill with small level steps would be slow and only approximately right.
Between breakpoints each resource's usage is linear in the common level, so a round of the fill is a
sort, two cumulative sums and one interpolation per resource, and at most one round per resource plus
one is needed. The module works on float64 arrays for a single pool; the domain wrapper maps Decimal
quantities, tenants and pools onto it and rounds the result with :func:`round_down_fairly`.

Pure: it reads no clock, file or network, prints nothing and never mutates its arguments.
"""

from __future__ import annotations

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
# A resource used within this relative margin of its capacity counts as saturated in the result.
_FULL = 1e-9


@dataclass(frozen=True, kw_only=True)
class Fill:
    """The outcome of :func:`fill`: per-tenant fractions of demand, and why each stopped growing.

    ``limited_by[i]`` is a resource index when a saturating resource stopped tenant ``i`` (the lowest
    index if several filled at the same level), ``LIMITED_BY_DEMAND`` when it got its whole demand, and
    ``LIMITED_BY_GUARANTEE`` when a resource filled while it still sat on a positive guarantee floor.
    ``frozen_round`` counts water-filling rounds from 0; tenants settled before any round (no demand,
    or a need for a zero-capacity resource) report 0. ``rounds`` is the number of rounds run, at most
    R + 1. ``saturated`` marks resources used to within 1e-9 of capacity, zero-capacity ones included.
    """

    fraction: F64
    level: F64
    limited_by: I64
    frozen_round: I64
    saturated: B
    guarantee_scale: float
    rounds: int


def fill(*, demand: F64, capacity: F64, weights: F64, guarantees: F64) -> Fill:
    """Weighted DRF with guarantee floors and demand caps, computed exactly by progressive filling.

    Tenant ``i`` receives ``fraction[i] * demand[i]``. Tenants demanding nothing are served in full
    (fraction 1, limited by demand). Tenants needing a resource whose capacity is zero get fraction 0,
    are limited by the lowest such resource, and are left out of guarantee scaling so that one
    unservable tenant cannot void everyone else's guarantee. Guarantees that together overflow some
    resource are all scaled by the common factor ``guarantee_scale``. An unservable tenant is told
    apart by ``fraction == 0`` with ``capacity[limited_by] == 0``. Quantities are expected in the
    normal float64 range (units such as millicores or MiB); subnormal dominant shares would overflow.
    Raises ValueError on malformed input, which is a bug in the caller rather than a user error.
    """
    dem, cap, w, g = _checked(demand, capacity, weights, guarantees)
    n, n_res = dem.shape
    needs = dem > 0
    blocked = needs & (cap == 0)
    unservable = blocked.any(axis=1)
    live = needs.any(axis=1) & ~unservable
    share = np.divide(dem, cap, out=np.zeros_like(dem), where=needs & (cap > 0))
    dom = share.max(axis=1, initial=0.0)

    fraction = np.where(unservable, 0.0, 1.0)
    limited_by = np.where(unservable, np.argmax(blocked, axis=1), LIMITED_BY_DEMAND).astype(np.int64)
    frozen_round = np.zeros(n, dtype=np.int64)

    # Guarantees first: scale them down together if they do not all fit on some resource.
    floor_use = g[live] @ dem[live]
    with np.errstate(over="ignore"):  # A vanishing guarantee gives an infinite ratio, as it should.
        ratio = np.divide(cap, floor_use, out=np.full(n_res, np.inf), where=floor_use > 0)
    alpha = float(min(1.0, ratio.min(initial=np.inf)))
    forced = ratio <= alpha * (1.0 + _TIE)

    idx = np.flatnonzero(live)
    f, why, rnd, saturated, rounds = _water_fill(
        dem=dem[idx], cap=cap, w=w[idx], dom=dom[idx], floor=alpha * g[idx], forced=forced
    )
    fraction[idx], limited_by[idx], frozen_round[idx] = f, why, rnd
    usage = fraction @ dem
    saturated |= usage >= cap * (1.0 - _FULL)
    level = np.divide(fraction * dom, w, out=np.zeros(n), where=live)
    return Fill(
        fraction=fraction,
        level=level,
        limited_by=limited_by,
        frozen_round=frozen_round,
        saturated=saturated,
        guarantee_scale=alpha,
        rounds=rounds,
    )


def _water_fill(*, dem: F64, cap: F64, w: F64, dom: F64, floor: F64, forced: B) -> tuple[F64, I64, I64, B, int]:
    """Progressive filling over tenants that need only resources with positive capacity.

    In level space tenant ``i`` sits at ``clip(t, lo[i], hi[i])`` and uses ``slope[i, r]`` of resource
    ``r`` per unit of level, so usage is a piecewise-linear, non-decreasing function of ``t`` whose
    breakpoints are the ``lo`` and ``hi`` values of the tenants still active.
    """
    m, n_res = dem.shape
    lo, hi = floor * dom / w, dom / w
    slope = dem * (w / dom)[:, None]
    fraction = np.zeros(m)
    why = np.full(m, LIMITED_BY_DEMAND, dtype=np.int64)
    rnd = np.zeros(m, dtype=np.int64)
    saturated = np.zeros(n_res, dtype=np.bool_)
    points = np.concatenate([lo, hi])
    order = np.argsort(points, kind="stable")  # Sorted once; each round keeps the active subsequence.
    active = np.ones(m, dtype=np.bool_)
    frozen_use = np.zeros(n_res)
    t0, rounds = 0.0, 0
    while active.any():
        t_res = _saturation_levels(
            points=points, order=order, active=active, slope=slope, cap=cap, frozen_use=frozen_use, t0=t0
        )
        if rounds == 0:
            # Guarantees that exactly fill a resource saturate it before any level rises.
            t_res[forced & np.isfinite(t_res)] = t0
        t_star = float(t_res.min(initial=np.inf))
        hit = t_res <= t_star * (1.0 + _TIE)
        capped = active & ((hi <= t_star * (1.0 + _TIE)) | (lo >= hi * (1.0 - _TIE)))
        uses_hit = (dem[:, hit] > 0).any(axis=1)
        stuck = active & uses_hit & ~capped
        fraction[capped] = 1.0
        fraction[stuck] = np.clip(t_star * w[stuck] / dom[stuck], floor[stuck], 1.0)
        at_floor = stuck & (floor > 0) & (lo >= t_star)
        first_hit = np.argmax((dem > 0) & hit[None, :], axis=1)
        why[stuck] = np.where(at_floor[stuck], LIMITED_BY_GUARANTEE, first_hit[stuck])
        frozen = capped | stuck
        rnd[frozen] = rounds
        frozen_use += fraction[frozen] @ dem[frozen]
        saturated |= hit & np.isfinite(t_res)
        active &= ~frozen
        t0, rounds = t_star, rounds + 1
    return fraction, why, rnd, saturated, rounds


def _saturation_levels(*, points: F64, order: I64, active: B, slope: F64, cap: F64, frozen_use: F64, t0: float) -> F64:
    """The smallest level ``t >= t0`` at which each resource is used to capacity (inf if never)."""
    m = active.size
    ev = order[np.concatenate([active, active])[order]]
    pos = points[ev]
    tenant = ev % m
    rising = np.where(ev < m, 1.0, -1.0)  # A floor starts a tenant rising; its cap stops it.
    k = slope[tenant]
    # Passing a floor swaps a constant k*lo for k*t; passing a cap swaps k*t for the constant k*hi.
    run_slope = np.cumsum(k * rising[:, None], axis=0)
    run_const = np.cumsum(k * (-rising * pos)[:, None], axis=0)
    start = frozen_use + slope[active].T @ points[:m][active]
    use = start + run_const + run_slope * pos[:, None]
    full = use >= cap
    users = (slope[active] > 0).any(axis=0)
    found = full.any(axis=0) & users
    j = np.argmax(full, axis=0)
    jm = np.maximum(j - 1, 0)
    cols = np.arange(cap.size)
    u0, u1 = use[jm, cols], use[j, cols]
    p0, p1 = pos[jm], pos[j]
    gap = u1 - u0
    step = np.divide(cap - u0, gap, out=np.ones_like(gap), where=gap > 0)
    t = p0 + np.clip(step, 0.0, 1.0) * (p1 - p0)
    # Before the first breakpoint usage is flat, so a resource full there is full at every level.
    t = np.where(j == 0, t0, np.maximum(t, t0))
    return np.where(found, t, np.inf)


def round_down_fairly(*, exact: F64, demand_units: I64, capacity_units: I64) -> I64:
    """Round exact envelopes to whole units without exceeding demand or capacity.

    Everyone gets the floor of their exact value; each resource's leftover whole units then go one
    apiece to the largest fractional remainders, ties to the lower index, never more than the rounded
    sum of remainders. Each result is within one unit of its exact value.
    """
    x = np.asarray(exact, dtype=np.float64)
    dmd = np.asarray(demand_units, dtype=np.int64)
    cap = np.asarray(capacity_units, dtype=np.int64)
    if x.ndim != 2 or dmd.shape != x.shape or cap.shape != (x.shape[1],):
        raise ValueError("exact and demand_units must be (n, R) and capacity_units (R,)")
    if not np.isfinite(x).all():
        raise ValueError("exact envelopes must be finite")
    # A value a hair below an integer is float error in an exact integer, so it rounds to that integer.
    base = np.floor(x + 1e-9 * np.maximum(1.0, np.abs(x))).astype(np.int64)
    base = np.clip(base, 0, np.maximum(dmd, 0))
    rem = x - base
    _shed_excess(base, rem, cap)
    rem = x - base
    eligible = (rem > 0) & (base < dmd)
    left = np.maximum(cap - base.sum(axis=0), 0)
    owed = np.floor(np.where(rem > 0, rem, 0.0).sum(axis=0) + 0.5).astype(np.int64)
    quota = np.minimum(left, owed)
    order = np.argsort(np.where(eligible, -rem, np.inf), axis=0, kind="stable")
    rank = np.empty_like(order)
    np.put_along_axis(rank, order, np.arange(x.shape[0])[:, None], axis=0)
    result: I64 = base + (eligible & (rank < quota[None, :])).astype(np.int64)
    return result


def _shed_excess(base: I64, rem: F64, cap: I64) -> None:
    """Take units back, smallest remainder first and ties from the higher index, where float error
    pushed a column of floors above capacity. Only ever runs on inputs at the edge of exactness."""
    n = base.shape[0]
    for r in np.flatnonzero(base.sum(axis=0) > cap):
        order = np.lexsort((-np.arange(n), rem[:, r]))
        while (excess := int(base[:, r].sum() - max(int(cap[r]), 0))) > 0:
            donors = order[base[order, r] > 0][:excess]
            base[donors, r] -= 1


def _checked(demand: F64, capacity: F64, weights: F64, guarantees: F64) -> tuple[F64, F64, F64, F64]:
    """Validate shapes and ranges; the wrapper guarantees them, so a failure here is a caller bug."""
    dem = np.asarray(demand, dtype=np.float64)
    cap = np.asarray(capacity, dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64)
    g = np.asarray(guarantees, dtype=np.float64)
    if dem.ndim != 2 or cap.shape != (dem.shape[1],) or w.shape != g.shape or w.shape != (dem.shape[0],):
        raise ValueError("demand must be (n, R), capacity (R,), weights and guarantees (n,)")
    if not all(np.isfinite(a).all() for a in (dem, cap, w, g)):
        raise ValueError("inputs must be finite")
    if (dem < 0).any() or (cap < 0).any() or (w <= 0).any() or (g < 0).any() or (g > 1).any():
        raise ValueError("need demand >= 0, capacity >= 0, weights > 0 and guarantees in [0, 1]")
    return dem, cap, w, g
