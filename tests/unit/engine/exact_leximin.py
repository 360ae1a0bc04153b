"""An independent oracle for ``dctenant plan``: the weighted leximin of docs/plan.md, by linear programs
(scipy's HiGHS), made exact in rational arithmetic.

Why this module exists: the allocator is fast because it is clever (a float water-fill proved exact,
else redone in fractions); an oracle must be neither. This one shares no code or algorithm with it.
It reads docs/plan.md: every served tenant receives the same fraction ``f`` of everything it asked for
in a pool, ``scale·g ≤ f ≤ 1`` where ``scale`` is the largest common factor (at most 1) at which all
guarantees fit, capacity is never exceeded, and the sorted vector of weighted dominant shares
``f·d/w`` is lexicographically maximal.

Stage by stage, a linear program maximises the smallest weighted dominant share ``t`` of the tenants
not yet fixed; further programs find which of them cannot rise above ``t`` (whoever can is dropped
from the candidates until no candidate can), and those are fixed. Floats solve the programs, so a
second step makes the answer exact: tenants served in full get exactly 1, tenants held on their
floor exactly ``scale·g``, and each group fixed at one level gets the level that exactly fills a
resource they all use, given the exact amounts of everyone else on it (docs/plan.md's "the level at
which the first resource saturates"), in ``fractions.Fraction``.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np
from scipy.optimize import linprog

# Tolerances of the float stage only; the exact step decides the values.
_ABOVE = 1e-7  # a level this far (relatively) above t can rise above it
_SAME = 1e-6  # levels this close (relatively) were fixed by one saturation


@dataclass(frozen=True, kw_only=True)
class Tenant:
    demand: list[Fraction]  # per resource of the pool, in base units
    weight: Fraction
    guarantee: Fraction


@dataclass(frozen=True, kw_only=True)
class Answer:
    fraction: list[Fraction]  # per tenant, exact
    scale: Fraction
    programs: int


def solve(*, capacity: list[Fraction], tenants: list[Tenant]) -> Answer:
    """The exact weighted leximin fractions of the served ``tenants`` of one pool.

    docs/plan.md: a tenant that needs a resource of which nothing is allocatable gets nothing, and
    is left out of the guarantee scaling; a tenant that asks for nothing is served in full.
    """
    empty = [r for r, c in enumerate(capacity) if c == 0]
    blocked = {i for i, t in enumerate(tenants) if any(t.demand[r] > 0 for r in empty)}
    if empty:
        keep = [r for r in range(len(capacity)) if r not in empty]
        inner = solve(capacity=[capacity[r] for r in keep], tenants=[
            Tenant(demand=[t.demand[r] for r in keep], weight=t.weight, guarantee=t.guarantee)
            for i, t in enumerate(tenants) if i not in blocked])
        served = iter(inner.fraction)
        return Answer(fraction=[Fraction(0) if i in blocked else next(served) for i in range(len(tenants))],
                      scale=inner.scale, programs=inner.programs)
    n, n_res = len(tenants), len(capacity)
    fraction: dict[int, Fraction] = {i: Fraction(1) for i, t in enumerate(tenants) if not any(t.demand)}
    live = [i for i in range(n) if i not in fraction]
    if not live:
        return Answer(fraction=[fraction[i] for i in range(n)], scale=Fraction(1), programs=0)
    share = {i: [tenants[i].demand[r] / capacity[r] for r in range(n_res)] for i in live}
    dominant = {i: max(share[i]) for i in live}
    floor_use = [sum((tenants[i].guarantee * tenants[i].demand[r] for i in live), Fraction(0)) for r in range(n_res)]
    scale = min([Fraction(1)] + [capacity[r] / floor_use[r] for r in range(n_res) if floor_use[r] > 0])
    floor = {i: scale * tenants[i].guarantee for i in live}
    coef = {i: dominant[i] / tenants[i].weight for i in live}  # weighted dominant share per unit of f

    # Float programs in shares of each resource (every capacity row is then <= 1: well scaled).
    a = np.array([[float(share[i][r]) for r in range(n_res)] for i in live])
    c = np.array([float(coef[i]) for i in live])
    lo = np.array([float(floor[i]) for i in live])
    m = len(live)
    fixed: dict[int, float] = {}
    programs = 0
    while len(fixed) < m:
        free = [k for k in range(m) if k not in fixed]
        bounds = [(fixed[k], fixed[k]) if k in fixed else (lo[k], 1.0) for k in range(m)]
        rows = np.zeros((len(free), m + 1))
        for row, k in enumerate(free):
            rows[row, k], rows[row, m] = -c[k], 1.0
        res = linprog(c=np.r_[np.zeros(m), -1.0], A_ub=np.vstack([rows, np.c_[a.T, np.zeros(n_res)]]),
                      b_ub=np.r_[np.zeros(len(free)), np.ones(n_res)], bounds=[*bounds, (None, None)],
                      method="highs")
        programs += 1
        if res.status != 0:
            raise RuntimeError(res.message)
        t = float(res.x[m])
        candidates = list(free)
        while candidates:
            floors = np.zeros((len(free), m))
            for row, k in enumerate(free):
                floors[row, k] = -c[k]
            goal = np.zeros(m)
            goal[candidates] = -c[candidates]
            res = linprog(c=goal, A_ub=np.vstack([floors, a.T]),
                          b_ub=np.r_[np.full(len(free), -t * (1 - 1e-9)), np.ones(n_res)], bounds=bounds,
                          method="highs")
            programs += 1
            if res.status != 0:
                raise RuntimeError(res.message)
            above = [k for k in candidates if c[k] * res.x[k] > t * (1 + _ABOVE)]
            if not above:
                break
            candidates = [k for k in candidates if k not in above]
        if not candidates:
            candidates = [min(free, key=lambda k: c[k] * res.x[k])]
        for k in candidates:
            fixed[k] = float(np.clip(t / c[k], lo[k], 1.0))
    fraction.update(_exact(fixed, live, tenants, capacity, floor, coef))
    return Answer(fraction=[fraction[i] for i in range(n)], scale=scale, programs=programs)


def _exact(fixed: dict[int, float], live: list[int], tenants: list[Tenant], capacity: list[Fraction],
           floor: dict[int, Fraction], coef: dict[int, Fraction]) -> dict[int, Fraction]:
    """The float leximin made exact: full, floor, or the level that exactly fills a shared resource."""
    n_res = len(capacity)
    exact: dict[int, Fraction] = {}
    level: dict[int, float] = {}
    for k, i in enumerate(live):
        f = fixed[k]
        if f >= 1 - 1e-9:
            exact[i] = Fraction(1)
        elif floor[i] > 0 and f <= float(floor[i]) * (1 + 1e-9):
            exact[i] = floor[i]
        else:
            level[i] = float(coef[i]) * f
    # Groups of equal level, lowest first: a group's level is set by a resource its members use that
    # is full, with every other tenant on that resource already exact.
    pending = sorted(level, key=lambda i: level[i])
    while pending:
        first = pending[0]
        group = [i for i in pending if level[i] <= level[first] * (1 + _SAME)]
        best: dict[int, Fraction] = {}
        for r in range(n_res):
            users = [i for i in group if tenants[i].demand[r] > 0]
            others = [i for i in range(len(tenants)) if tenants[i].demand[r] > 0 and i not in users]
            if not users or any(i not in exact for i in others):
                continue
            rest = capacity[r] - sum((exact[i] * tenants[i].demand[r] for i in others), Fraction(0))
            rate = sum((tenants[i].demand[r] / coef[i] for i in users), Fraction(0))
            t = rest / rate
            if abs(float(t) - level[first]) > 1e-5 * level[first]:
                continue  # this resource is not what stopped the group
            for i in users:
                best[i] = min(best.get(i, t), t)
        for i in group:
            if i not in best:
                raise RuntimeError(f"tenant {i}: no full resource explains its level {level[i]}")
            exact[i] = best[i] / coef[i]
        pending = [i for i in pending if i not in group]
    return exact
