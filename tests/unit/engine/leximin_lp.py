"""A slow, independent reference for dctenant.engine.filling: leximin by sequential linear programs.

Why this module exists: the closed-form water-filling in ``filling.fill`` is fast because it is clever,
and clever code needs a dumb oracle. This one shares no code with it. It states the same fairness
target as an optimisation problem (lexicographically maximise the sorted vector of weighted dominant
levels ``f_i * d_i / w_i`` subject to capacity, ``alpha * g_i <= f_i <= 1``) and solves it with HiGHS.
Each stage maximises the common level ``t`` of the tenants not yet fixed, then finds which of them
cannot rise above ``t`` by repeatedly maximising the sum of the candidates' levels: whoever ends up
above ``t`` can exceed it and drops out, and when none does the rest are fixed at ``t``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.optimize import linprog

F64 = npt.NDArray[np.float64]


@dataclass(frozen=True, kw_only=True)
class Leximin:
    fraction: F64
    guarantee_scale: float
    programs: int


def solve(*, demand: F64, capacity: F64, weights: F64, guarantees: F64, tol: float = 1e-9) -> Leximin:
    dem = np.asarray(demand, dtype=float)
    cap = np.asarray(capacity, dtype=float)
    n, n_res = dem.shape
    fraction = np.ones(n)
    programs = 0
    # Same edge semantics as the engine: empty demand is fully served, a tenant that needs a
    # zero-capacity resource gets nothing and is left out of the guarantee scaling.
    live_ids = []
    for i in range(n):
        needed = [r for r in range(n_res) if dem[i, r] > 0]
        if any(cap[r] == 0 for r in needed):
            fraction[i] = 0.0
        elif needed:
            live_ids.append(i)
    live = np.array(live_ids, dtype=int)
    if live.size == 0:
        return Leximin(fraction=fraction, guarantee_scale=1.0, programs=0)
    a = dem[live]  # (m, R)
    w = np.asarray(weights, dtype=float)[live]
    g = np.asarray(guarantees, dtype=float)[live]
    dom = np.array([max(a[k, r] / cap[r] for r in range(n_res) if a[k, r] > 0) for k in range(len(live))])
    coef = dom / w  # level per unit of fraction
    m = len(live)

    # alpha: the largest common scale (at most 1) at which all guarantees fit.
    res = linprog(c=[-1.0], A_ub=(g @ a)[:, None], b_ub=cap, bounds=[(0.0, 1.0)], method="highs")
    programs += 1
    alpha = float(res.x[0])
    if alpha > 1 - 1e-12:
        alpha = 1.0
    floor = alpha * g

    fixed: dict[int, float] = {}
    while len(fixed) < m:
        free = [k for k in range(m) if k not in fixed]
        bounds = [(fixed[k], fixed[k]) if k in fixed else (floor[k], 1.0) for k in range(m)]
        # Stage 1: variables (f_0..f_{m-1}, t); maximise t with level_k >= t for free k.
        rows = np.zeros((len(free), m + 1))
        for row, k in enumerate(free):
            rows[row, k] = -coef[k]
            rows[row, m] = 1.0
        a_ub = np.vstack([rows, np.hstack([a.T, np.zeros((n_res, 1))])])
        b_ub = np.concatenate([np.zeros(len(free)), cap])
        c = np.zeros(m + 1)
        c[m] = -1.0
        res = linprog(c=c, A_ub=a_ub, b_ub=b_ub, bounds=[*bounds, (None, None)], method="highs")
        programs += 1
        assert res.status == 0, res.message
        t = float(res.x[m])
        # Relax the common floor far less than the tolerance for "above": a tenant lowered by the
        # relaxation frees capacity that can lift another tenant by a multiple of it.
        relax, slack = 1e-4 * tol * max(1.0, abs(t)), tol * max(1.0, abs(t))
        # Stage 2: everyone free keeps level >= t; find who cannot go above it.
        cand = list(free)
        while cand:
            floors = np.zeros((len(free), m))
            for row, k in enumerate(free):
                floors[row, k] = -coef[k]
            a2 = np.vstack([floors, a.T])
            b2 = np.concatenate([np.full(len(free), -(t - relax)), cap])
            c2 = np.zeros(m)
            c2[cand] = -coef[cand]
            res = linprog(c=c2, A_ub=a2, b_ub=b2, bounds=bounds, method="highs")
            programs += 1
            assert res.status == 0, res.message
            above = [k for k in cand if coef[k] * res.x[k] > t + slack]
            if not above:
                break
            cand = [k for k in cand if k not in above]
        if not cand:  # Numerical corner: fix the lowest so the loop always progresses.
            cand = [min(free, key=lambda k: coef[k] * res.x[k])]
        for k in cand:
            fixed[k] = float(np.clip(t / coef[k], floor[k], 1.0))
    fraction[live] = [fixed[k] for k in range(m)]
    return Leximin(fraction=fraction, guarantee_scale=alpha, programs=programs)
