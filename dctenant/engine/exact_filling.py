"""The same weighted dominant-resource water-filling as ``filling``, in exact rational arithmetic.

Why this module exists: envelopes must equal the exact weighted leximin of docs/plan.md to the unit,
from one unit to 10^18 base units. The float64 fill in ``filling`` is fast and exact in its decisions
whenever they are clear, but a guarantee that exactly fills a resource, a tenant whose demand ends
exactly where a resource saturates, or an envelope that is a whole number of units are decided by
equalities that float64 cannot see. This module decides them with ``fractions.Fraction``: every level
at which a resource saturates is solved exactly from the linear piece of its usage, so the fractions it
returns are the model's exact values. It is slower (rational numbers grow), so the domain wrapper runs
it only for pools where the float fill is not provably right.

Pure: it reads no clock, file or network and prints nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

from dctenant.engine.filling import LIMITED_BY_DEMAND, LIMITED_BY_GUARANTEE

ZERO = Fraction(0)
ONE = Fraction(1)


@dataclass(frozen=True, kw_only=True)
class ExactFill:
    """Like ``filling.Fill``, with exact fractions and levels (plain lists, one item per tenant)."""

    fraction: list[Fraction]
    level: list[Fraction]
    limited_by: list[int]
    frozen_round: list[int]
    saturated: list[bool]
    capped: list[bool]
    guarantee_scale: Fraction
    rounds: int


def fill(*, demand: Sequence[Sequence[Fraction]], capacity: Sequence[Fraction], weights: Sequence[Fraction],
         guarantees: Sequence[Fraction]) -> ExactFill:
    """Weighted DRF with guarantee floors and demand caps, by progressive filling in exact arithmetic.

    The rules are those of ``filling.fill`` (and docs/plan.md): tenants demanding nothing are served
    in full, tenants needing a zero-capacity resource get nothing and are left out of the guarantee
    scaling, guarantees that overflow a resource are scaled by one common factor, then every tenant
    rises to the common level ``t`` (``f = clip(w·t / d, g, 1)``) until it reaches its demand or a
    resource it uses saturates.
    """
    n, n_res = len(demand), len(capacity)
    fraction = [ONE] * n
    limited_by = [LIMITED_BY_DEMAND] * n
    frozen_round = [0] * n
    capped = [True] * n
    live: list[int] = []
    for i, row in enumerate(demand):
        blocked = [r for r in range(n_res) if row[r] > 0 and capacity[r] == 0]
        if blocked:
            fraction[i], limited_by[i], capped[i] = ZERO, blocked[0], False
        elif any(v > 0 for v in row):
            live.append(i)
    dominant = {i: max(demand[i][r] / capacity[r] for r in range(n_res) if demand[i][r] > 0) for i in live}

    # Guarantees first: the largest common scale (at most 1) at which all of them fit.
    floor_use = [sum((guarantees[i] * demand[i][r] for i in live), ZERO) for r in range(n_res)]
    ratios = {r: capacity[r] / floor_use[r] for r in range(n_res) if floor_use[r] > 0}
    scale = min([ONE, *ratios.values()])
    forced = {r for r, ratio in ratios.items() if ratio == scale}

    lowest = {i: scale * guarantees[i] * dominant[i] / weights[i] for i in live}
    highest = {i: dominant[i] / weights[i] for i in live}
    slope = {i: [weights[i] * demand[i][r] / dominant[i] for r in range(n_res)] for i in live}
    # Breakpoints in ascending order: +1 where a tenant leaves its floor, -1 where it reaches its demand.
    events = sorted([(lowest[i], 1, i) for i in live] + [(highest[i], -1, i) for i in live],
                    key=lambda e: (e[0], -e[1]))
    active = set(live)
    frozen_use = [ZERO] * n_res
    saturated = [capacity[r] == 0 for r in range(n_res)]
    start, rounds = ZERO, 0
    while active:
        levels: dict[int, Fraction] = {}
        for r in range(n_res):
            if not any(slope[i][r] > 0 for i in active):
                continue
            found = start if rounds == 0 and r in forced else _saturation_level(
                r, events=events, active=active, slope=slope, lowest=lowest, capacity=capacity[r],
                frozen_use=frozen_use[r])
            if found is not None:
                levels[r] = max(found, start)
        level = min(levels.values()) if levels else None
        hit = sorted(r for r, t in levels.items() if t == level)
        done = {i for i in active if level is None or highest[i] <= level or lowest[i] >= highest[i]}
        stuck = {i for i in active - done if any(demand[i][r] > 0 for r in hit)}
        for i in done:
            fraction[i], frozen_round[i] = ONE, rounds
        for i in stuck:
            if level is None:  # never: a tenant is only stuck on a resource that saturated
                continue
            floor = scale * guarantees[i]
            fraction[i] = min(ONE, max(floor, level * weights[i] / dominant[i]))
            capped[i] = False
            frozen_round[i] = rounds
            at_floor = floor > 0 and lowest[i] >= level
            limited_by[i] = LIMITED_BY_GUARANTEE if at_floor else next(r for r in hit if demand[i][r] > 0)
        for i in done | stuck:
            for r in range(n_res):
                frozen_use[r] += fraction[i] * demand[i][r]
        for r in hit:
            saturated[r] = True
        active -= done | stuck
        start, rounds = (level if level is not None else start), rounds + 1
    level_of = [fraction[i] * dominant[i] / weights[i] if i in dominant else ZERO for i in range(n)]
    return ExactFill(fraction=fraction, level=level_of, limited_by=limited_by, frozen_round=frozen_round,
                     saturated=saturated, capped=capped, guarantee_scale=scale, rounds=rounds)


def _saturation_level(
    r: int, *, events: list[tuple[Fraction, int, int]], active: set[int], slope: dict[int, list[Fraction]],
    lowest: dict[int, Fraction], capacity: Fraction, frozen_use: Fraction,
) -> Fraction | None:
    """The smallest level at which resource ``r`` is used to capacity by the frozen and active tenants.

    Usage is ``frozen_use + Σ slope·clip(t, lowest, highest)``: constant below every breakpoint
    (everyone on its floor), linear between breakpoints. Walking the breakpoints in order with the
    running slope and constant finds the piece where it crosses the capacity, solved exactly.
    """
    constant = frozen_use + sum((slope[i][r] * lowest[i] for i in active), ZERO)
    rate = ZERO
    for position, kind, i in events:
        if i not in active or slope[i][r] == 0:
            continue
        if constant + rate * position >= capacity:
            # A flat piece already full is full from the start: only the first breakpoint can be one.
            return (capacity - constant) / rate if rate > 0 else ZERO
        if kind > 0:
            constant -= slope[i][r] * position
            rate += slope[i][r]
        else:
            rate -= slope[i][r]
            constant += slope[i][r] * position
    return None


def round_fairly(*, exact: Sequence[Sequence[Fraction]], demand_units: Sequence[Sequence[int]],
                 house: Sequence[int]) -> list[list[int]]:
    """Exact values in units to whole units: floors, then ``house[r]`` in total by largest remainder.

    Every tenant first gets the floor of its exact value; the units of ``house[r]`` left over go one
    apiece to the largest remainders (ties to the lower index) of tenants still below their demand.
    """
    n_res = len(house)
    base = [[v.numerator // v.denominator for v in row] for row in exact]
    for r in range(n_res):
        left = house[r] - sum(row[r] for row in base)
        candidates = sorted(
            (i for i, row in enumerate(exact) if row[r] > base[i][r] and base[i][r] < demand_units[i][r]),
            key=lambda i: (-(exact[i][r] - base[i][r]), i))
        for i in candidates[:max(left, 0)]:
            base[i][r] += 1
    return base
