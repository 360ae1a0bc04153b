"""Properties and worked examples for the exact weighted DRF water-filling and the fair rounding."""

from __future__ import annotations

import random
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from dctenant.engine import filling

try:  # The reference solver sits next to this file; import it whether or not tests/ is a package.
    from . import leximin_lp  # type: ignore[import-not-found,unused-ignore]
except ImportError:
    import leximin_lp  # type: ignore[no-redef,unused-ignore]

F64 = npt.NDArray[np.float64]
TOL = 1e-9


@dataclass(frozen=True)
class Pool:
    demand: F64
    capacity: F64
    weights: F64
    guarantees: F64

    def run(self) -> filling.Fill:
        return filling.fill(
            demand=self.demand, capacity=self.capacity, weights=self.weights, guarantees=self.guarantees
        )


def _nonneg(low: int, high: int) -> st.SearchStrategy[int]:
    # Negative draws become zero, so zeros are common but not dominant.
    return st.integers(low, high).map(lambda v: max(v, 0))


def _amount(low: float, high: float) -> st.SearchStrategy[float]:
    # Quantities near 1e-308 would overflow 1 / dominant share; real amounts are whole units (>= 1),
    # so tiny values are mapped to zero, which the allocator must handle anyway.
    return st.floats(low, high, allow_subnormal=False).map(lambda x: 0.0 if x < 1e-6 else x)


@st.composite
def pools(draw: st.DrawFn, *, max_n: int = 12, max_r: int = 6, guaranteed: bool = True, dense: bool = False) -> Pool:
    n = draw(st.integers(1, max_n))
    r = draw(st.integers(1, max_r))
    low = 1 if dense else -6  # dense: every tenant needs every resource, and every resource exists
    cap = np.array(draw(st.lists(_nonneg(low, 60), min_size=r, max_size=r)), dtype=float)
    rows = st.lists(_nonneg(low, 30), min_size=r, max_size=r)
    dem = np.array(draw(st.lists(rows, min_size=n, max_size=n)), dtype=float)
    scale = np.array(draw(st.lists(st.sampled_from([1.0, 0.001, 7.5, 1024.0]), min_size=r, max_size=r)))
    weights = np.array(draw(st.lists(st.integers(1, 8), min_size=n, max_size=n)), dtype=float)
    if guaranteed:
        g = draw(st.lists(st.one_of(st.just(0.0), st.floats(1e-6, 0.8)), min_size=n, max_size=n))
    else:
        g = [0.0] * n
    return Pool(dem * scale, cap * scale, weights, np.array(g, dtype=float))


def _usage(pool: Pool, fraction: F64) -> F64:
    return np.asarray(fraction @ pool.demand, dtype=float)


def _unservable(pool: Pool) -> npt.NDArray[np.bool_]:
    return np.asarray(((pool.demand > 0) & (pool.capacity == 0)).any(axis=1))


def _dominant(pool: Pool) -> F64:
    share = np.divide(pool.demand, pool.capacity, out=np.zeros_like(pool.demand), where=pool.capacity > 0)
    return np.asarray(share.max(axis=1), dtype=float)


def _utility(true_demand: F64, bundle: F64) -> float:
    """What a Leontief tenant with ``true_demand`` makes of ``bundle``: the fraction of it served."""
    need = true_demand > 0
    if not need.any():
        return 1.0
    return float(min(1.0, (bundle[need] / true_demand[need]).min()))


# --- properties of fill -----------------------------------------------------------------------------


@settings(deadline=None, max_examples=300)
@given(pools())
def test_feasible_bounded_and_consistent(pool: Pool) -> None:
    out = pool.run()
    n, r = pool.demand.shape
    assert out.fraction.shape == out.level.shape == out.limited_by.shape == out.frozen_round.shape == (n,)
    assert out.saturated.shape == (r,)
    assert out.fraction.dtype == np.float64 and out.limited_by.dtype == np.int64
    assert ((out.fraction >= 0) & (out.fraction <= 1)).all()
    assert (_usage(pool, out.fraction) <= pool.capacity * (1 + TOL)).all()
    np.testing.assert_allclose(out.level, out.fraction * _dominant(pool) / pool.weights * ~_unservable(pool))
    assert 0 < out.guarantee_scale <= 1
    assert 0 <= out.rounds <= r + 1
    assert (out.frozen_round < max(out.rounds, 1)).all()


@settings(deadline=None, max_examples=300)
@given(pools())
def test_guarantees_scaled_by_common_factor_and_respected(pool: Pool) -> None:
    out = pool.run()
    servable = ~_unservable(pool)
    need = pool.guarantees[servable] @ pool.demand[servable]
    ratios = [c / u for c, u in zip(pool.capacity, need, strict=True) if u > 0]
    assert out.guarantee_scale == pytest.approx(min([1.0, *ratios]), rel=1e-12)
    floors = out.guarantee_scale * pool.guarantees
    assert (out.fraction[servable] >= floors[servable] - TOL).all()
    assert (out.fraction[~servable] == 0).all()


@settings(deadline=None, max_examples=300)
@given(pools())
def test_pareto_and_reasons(pool: Pool) -> None:
    out = pool.run()
    usage = _usage(pool, out.fraction)
    full = usage >= pool.capacity * (1 - TOL)
    np.testing.assert_array_equal(out.saturated, full)
    for i, why in enumerate(out.limited_by):
        uses = pool.demand[i] > 0
        assert out.fraction[i] >= 1 - TOL or (uses & full).any(), "could have been given more"
        if why == filling.LIMITED_BY_DEMAND:
            assert out.fraction[i] == 1.0
        elif why == filling.LIMITED_BY_GUARANTEE:
            assert out.fraction[i] == pytest.approx(out.guarantee_scale * pool.guarantees[i], abs=1e-12)
            assert pool.guarantees[i] > 0
        else:
            assert why >= 0 and uses[why] and full[why]


@settings(deadline=None, max_examples=200)
@given(pools())
def test_equal_levels_within_a_saturation(pool: Pool) -> None:
    out = pool.run()
    for r in range(pool.capacity.size):
        for k in range(out.rounds):
            group = out.level[(out.limited_by == r) & (out.frozen_round == k)]
            if group.size:
                np.testing.assert_allclose(group, group[0], rtol=1e-9)


@settings(deadline=None, max_examples=200)
@given(pools(guaranteed=False))
def test_weighted_sharing_incentive(pool: Pool) -> None:
    # Splitting every resource in proportion to weight would give tenant i the fraction
    # min(1, w_i / (W * d_i)) of its demand; the fill never gives less. Proof sketch: a tenant frozen
    # at level t by resource r means r is full although everyone's level is <= t, and r's usage is
    # at most sum_j w_j * level_j * C_r <= W * t * C_r, so t >= 1 / W.
    out = pool.run()
    d = _dominant(pool)
    fair = np.minimum(1.0, np.divide(pool.weights / pool.weights.sum(), d, out=np.ones_like(d), where=d > 0))
    fair[_unservable(pool)] = 0.0
    assert (out.fraction >= fair - TOL).all()


@settings(deadline=None, max_examples=200)
@given(pools(guaranteed=False))
def test_weighted_envy_free(pool: Pool) -> None:
    out = pool.run()
    bundles = out.fraction[:, None] * pool.demand
    for i in range(len(bundles)):
        for j in range(len(bundles)):
            scaled = bundles[j] * pool.weights[i] / pool.weights[j]
            assert _utility(pool.demand[i], scaled) <= out.fraction[i] + TOL


@settings(deadline=None, max_examples=150)
@given(pools(), st.randoms(use_true_random=False))
def test_permutation_invariant(pool: Pool, rnd: random.Random) -> None:
    out = pool.run()
    perm = np.array(rnd.sample(range(len(pool.weights)), len(pool.weights)))
    moved = Pool(pool.demand[perm], pool.capacity, pool.weights[perm], pool.guarantees[perm]).run()
    np.testing.assert_allclose(moved.fraction, out.fraction[perm], rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(moved.limited_by, out.limited_by[perm])


@settings(deadline=None, max_examples=150)
@given(pools(max_n=6), st.integers(2, 4))
def test_identical_tenants_get_identical_fractions(pool: Pool, copies: int) -> None:
    twin = np.repeat(np.arange(len(pool.weights)), copies)
    out = Pool(pool.demand[twin], pool.capacity, pool.weights[twin], pool.guarantees[twin]).run()
    spread = out.fraction.reshape(-1, copies)
    np.testing.assert_allclose(spread, spread[:, :1].repeat(copies, axis=1), rtol=1e-12, atol=1e-12)


@settings(deadline=None, max_examples=150)
@given(pools(), st.data())
def test_scale_invariant_per_resource(pool: Pool, data: st.DataObject) -> None:
    factors = np.array(
        data.draw(st.lists(st.sampled_from([1e-3, 0.5, 3.0, 1e6]), min_size=pool.capacity.size, max_size=6))[
            : pool.capacity.size
        ]
    )
    out = pool.run()
    scaled = Pool(pool.demand * factors, pool.capacity * factors, pool.weights, pool.guarantees).run()
    np.testing.assert_allclose(scaled.fraction, out.fraction, rtol=1e-9, atol=1e-12)
    assert scaled.guarantee_scale == pytest.approx(out.guarantee_scale, rel=1e-9)


@settings(deadline=None, max_examples=300)
@given(pools(guaranteed=False), st.data())
def test_strategy_proof(pool: Pool, data: st.DataObject) -> None:
    n, r = pool.demand.shape
    liar = data.draw(st.integers(0, n - 1))
    true = pool.demand[liar]
    lie = true.copy()
    how = data.draw(st.sampled_from(["inflate", "invent", "arbitrary"]))
    if how == "inflate":
        res = data.draw(st.integers(0, r - 1))
        lie[res] = lie[res] * data.draw(_amount(1.0, 10.0)) + data.draw(_amount(0.0, 5.0))
    elif how == "invent":
        lie = lie + np.array(data.draw(st.lists(_amount(0.0, 20.0), min_size=r, max_size=r)))
    else:
        lie = np.array(data.draw(st.lists(_amount(0.0, 40.0), min_size=r, max_size=r)))
    honest = pool.run().fraction[liar]
    reported = pool.demand.copy()
    reported[liar] = lie
    got = replace(pool, demand=reported).run().fraction[liar] * lie
    assert _utility(true, got) <= honest + 1e-9


@settings(deadline=None, max_examples=200)
@given(pools(guaranteed=False, dense=True), st.data())
def test_population_monotone(pool: Pool, data: st.DataObject) -> None:
    # Population monotonicity holds when every tenant needs every resource, not in general: with
    # capacities <1, 2> and demands A <1, 0>, B <0, 2>, C <1, 1>, resource 0 stops A and C at 1/2 and
    # B then gets 3/4; without A, C climbs to 2/3 on resource 1 and takes B down to 2/3 with it.
    n = len(pool.weights)
    assume(n > 1)
    gone = data.draw(st.integers(0, n - 1))
    keep = np.arange(n) != gone
    before = pool.run().fraction[keep]
    after = Pool(pool.demand[keep], pool.capacity, pool.weights[keep], pool.guarantees[keep]).run().fraction
    assert (after >= before - TOL).all()


def _max_min_one_resource(demand: F64, capacity: float, weights: F64) -> F64:
    """Textbook weighted max-min with caps on one resource: raise everyone's share per unit of weight,
    handing capped tenants their demand in order of how soon they cap."""
    alloc = np.zeros(len(demand))
    left, weight = capacity, weights[demand > 0].sum()
    for i in sorted(np.flatnonzero(demand > 0), key=lambda i: demand[i] / weights[i]):
        per_weight = left / weight
        alloc[i] = min(demand[i], per_weight * weights[i])
        left, weight = left - alloc[i], weight - weights[i]
    return np.divide(alloc, demand, out=np.ones_like(alloc), where=demand > 0)


@settings(deadline=None, max_examples=300)
@given(pools(max_r=1, guaranteed=False))
def test_single_resource_is_weighted_max_min(pool: Pool) -> None:
    assume(pool.capacity[0] > 0)
    expect = _max_min_one_resource(pool.demand[:, 0], float(pool.capacity[0]), pool.weights)
    np.testing.assert_allclose(pool.run().fraction, expect, rtol=1e-9, atol=1e-12)


@settings(deadline=None, max_examples=80)
@given(pools(max_n=8, max_r=4))
def test_agrees_with_leximin_linear_programs(pool: Pool) -> None:
    out = pool.run()
    ref = leximin_lp.solve(demand=pool.demand, capacity=pool.capacity, weights=pool.weights, guarantees=pool.guarantees)
    np.testing.assert_allclose(out.fraction, ref.fraction, atol=1e-6)
    assert out.guarantee_scale == pytest.approx(ref.guarantee_scale, abs=1e-9)


# --- worked examples --------------------------------------------------------------------------------


def test_classic_drf_example() -> None:
    # Ghodsi et al. (NSDI 2011): 9 CPUs and 18 GB; A's tasks need <1 CPU, 4 GB>, B's <3 CPU, 1 GB>.
    # Both want far more tasks than fit (here 100 each), so demand caps never bind. DRF gives A three
    # tasks <3, 12> and B two tasks <6, 2>: both dominant shares are 2/3 and the CPUs run out.
    tasks = 100
    pool = Pool(np.array([[1.0, 4.0], [3.0, 1.0]]) * tasks, np.array([9.0, 18.0]), np.ones(2), np.zeros(2))
    out = pool.run()
    np.testing.assert_allclose(out.fraction * tasks, [3.0, 2.0])
    np.testing.assert_allclose(out.fraction[:, None] * pool.demand, [[3, 12], [6, 2]])
    np.testing.assert_allclose(out.level, [2 / 3, 2 / 3])
    assert out.limited_by.tolist() == [0, 0]
    assert out.saturated.tolist() == [True, False]


def test_two_tenant_weighted_example() -> None:
    # C = <12 CPU, 24 GB>. A (weight 2) demands <16, 16>, B (weight 1) demands <4, 20>.
    # Dominant shares at full demand: d_A = max(16/12, 16/24) = 4/3, d_B = max(4/12, 20/24) = 5/6.
    # At common level t: f_A = 2t / (4/3) = 1.5t and f_B = t / (5/6) = 1.2t.
    # CPU used: 16 * 1.5t + 4 * 1.2t = 28.8t, full at t = 5/12; memory 48t would last to t = 1/2,
    # and neither caps before t = 2/3. So at t = 5/12: f_A = 0.625, f_B = 0.5, both limited by CPU,
    # and A's dominant share (0.625 * 4/3 = 5/6) is twice B's (0.5 * 5/6 = 5/12).
    out = Pool(np.array([[16.0, 16.0], [4.0, 20.0]]), np.array([12.0, 24.0]), np.array([2.0, 1.0]), np.zeros(2)).run()
    np.testing.assert_allclose(out.fraction, [0.625, 0.5])
    np.testing.assert_allclose(out.level, [5 / 12, 5 / 12])
    assert out.limited_by.tolist() == [0, 0] and out.rounds == 1


def test_tenant_capped_on_the_way() -> None:
    # As above but A demands only <8, 8>: d_A = 2/3, so f_A = 3t and A caps at t = 1/3, before CPU
    # (8 * 3t + 4 * 1.2t = 28.8t, full at 5/12). Past t = 1/3 usage is 8 + 4.8t CPU and 8 + 24t GB,
    # so memory fills first, at t = 2/3 with f_B = 0.8. A cap is a breakpoint, not a round, so both
    # tenants freeze in round 0.
    out = Pool(np.array([[8.0, 8.0], [4.0, 20.0]]), np.array([12.0, 24.0]), np.array([2.0, 1.0]), np.zeros(2)).run()
    np.testing.assert_allclose(out.fraction, [1.0, 0.8])
    assert out.limited_by.tolist() == [filling.LIMITED_BY_DEMAND, 1]
    assert out.frozen_round.tolist() == [0, 0] and out.rounds == 1
    assert out.saturated.tolist() == [False, True]


def test_second_round_after_a_saturation() -> None:
    # Capacities <1, 2>; A needs <1, 0>, B <0, 2>, C <1, 1>, all weight 1 so d = 1 and f = t for all.
    # Resource 0 fills at t = 1/2 (A + C), freezing A and C. B is alone on resource 1 with 2 - 1/2
    # left and fills it in round 1 at f_B = 3/4.
    out = Pool(np.array([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]]), np.array([1.0, 2.0]), np.ones(3), np.zeros(3)).run()
    np.testing.assert_allclose(out.fraction, [0.5, 0.75, 0.5])
    assert out.limited_by.tolist() == [0, 1, 0]
    assert out.frozen_round.tolist() == [0, 1, 0] and out.rounds == 2


def test_overcommitted_guarantees_are_scaled_together() -> None:
    # Guarantees need 6 + 6 + 2 = 14 of 10 units: alpha = 10/14, and the floors alone fill the pool.
    # The fourth tenant has no guarantee and shares the full resource, so it gets nothing.
    pool = Pool(np.full((4, 1), 10.0), np.array([10.0]), np.ones(4), np.array([0.6, 0.6, 0.2, 0.0]))
    out = pool.run()
    assert out.guarantee_scale == pytest.approx(10 / 14)
    np.testing.assert_allclose(out.fraction, [0.6 * 10 / 14, 0.6 * 10 / 14, 0.2 * 10 / 14, 0.0])
    g = filling.LIMITED_BY_GUARANTEE
    assert out.limited_by.tolist() == [g, g, g, 0]


def test_guarantee_floor_above_the_common_level() -> None:
    # One unit of capacity, three equal tenants each demanding all of it; tenant 0 is guaranteed 0.5.
    # The others rise to 0.25 each, where the resource fills; tenant 0 never leaves its floor.
    out = Pool(np.ones((3, 1)), np.array([1.0]), np.ones(3), np.array([0.5, 0.0, 0.0])).run()
    np.testing.assert_allclose(out.fraction, [0.5, 0.25, 0.25])
    assert out.limited_by.tolist() == [filling.LIMITED_BY_GUARANTEE, 0, 0]


def test_zero_demand_and_zero_capacity() -> None:
    # Tenant 0 needs a resource the pool does not have: nothing, limited by resource 1, and its
    # guarantee is left out of the scaling so tenant 1 keeps its own. Tenant 2 asks for nothing.
    pool = Pool(
        np.array([[5.0, 1.0], [5.0, 0.0], [0.0, 0.0]]),
        np.array([10.0, 0.0]),
        np.ones(3),
        np.full(3, 0.5),
    )
    out = pool.run()
    assert out.fraction.tolist() == [0.0, 1.0, 1.0]
    assert out.limited_by.tolist() == [1, filling.LIMITED_BY_DEMAND, filling.LIMITED_BY_DEMAND]
    assert out.level.tolist() == [0.0, 0.5, 0.0]
    assert out.guarantee_scale == 1.0
    assert out.saturated.tolist() == [False, True]


def test_no_tenants() -> None:
    out = filling.fill(demand=np.zeros((0, 3)), capacity=np.ones(3), weights=np.zeros(0), guarantees=np.zeros(0))
    assert out.fraction.shape == (0,) and out.rounds == 0 and out.guarantee_scale == 1.0
    assert out.saturated.tolist() == [False, False, False]


@pytest.mark.parametrize(
    ("demand", "capacity", "weights", "guarantees"),
    [
        (np.ones(3), np.ones(3), np.ones(3), np.zeros(3)),
        (np.ones((2, 3)), np.ones(2), np.ones(2), np.zeros(2)),
        (-np.ones((2, 1)), np.ones(1), np.ones(2), np.zeros(2)),
        (np.ones((2, 1)), np.ones(1), np.zeros(2), np.zeros(2)),
        (np.ones((2, 1)), np.ones(1), np.ones(2), np.full(2, 1.5)),
        (np.full((2, 1), np.nan), np.ones(1), np.ones(2), np.zeros(2)),
    ],
)
def test_rejects_malformed_input(demand: F64, capacity: F64, weights: F64, guarantees: F64) -> None:
    with pytest.raises(ValueError, match=r"."):
        filling.fill(demand=demand, capacity=capacity, weights=weights, guarantees=guarantees)


def test_does_not_mutate_inputs() -> None:
    pool = Pool(np.array([[3.0, 1.0], [1.0, 3.0]]), np.array([2.0, 2.0]), np.ones(2), np.array([0.3, 0.0]))
    copies = [a.copy() for a in (pool.demand, pool.capacity, pool.weights, pool.guarantees)]
    pool.run()
    for before, after in zip(copies, (pool.demand, pool.capacity, pool.weights, pool.guarantees), strict=True):
        np.testing.assert_array_equal(before, after)


# --- hand_out_leftovers ------------------------------------------------------------------------------


def _hand_out(remainder: list[float], leftover: int, *, error: float = 0.0, eligible: list[bool] | None = None,
              exact: list[int] | None = None) -> list[int] | None:
    """One resource; ``exact`` is the exact order of all rows (largest remainder first), else unknown."""
    rem = np.array(remainder)[:, None]
    ok = np.array(eligible if eligible is not None else [True] * len(remainder))[:, None]

    def exact_order(r: int, rows: list[int]) -> list[int] | None:
        return None if exact is None else [i for i in exact if i in rows]

    got = filling.hand_out_leftovers(remainder=rem, error=np.full_like(rem, error), eligible=ok,
                                     leftover=np.array([leftover]), exact_order=exact_order)
    return None if got is None else got[:, 0].tolist()


def test_leftovers_go_to_the_largest_remainders_ties_to_the_lower_index() -> None:
    # Remainders 0.5, 0.5, 0.7, 0.3 and two units: the 0.7 first, then the 0.5 tie goes to index 0.
    assert _hand_out([0.5, 0.5, 0.7, 0.3], 2) == [1, 0, 1, 0]
    assert _hand_out([0.5, 0.5, 0.7, 0.3], 0) == [0, 0, 0, 0]
    # More units than eligible tenants: each eligible tenant gets one, no more.
    assert _hand_out([0.5, 0.5, 0.7, 0.3], 9, eligible=[True, False, True, True]) == [1, 0, 1, 1]


def test_leftovers_are_refused_when_float_error_could_reorder_them() -> None:
    # 0.5 and 0.5 are a tie only if they are exact; within an error of 1e-12 either could be larger.
    assert _hand_out([0.5, 0.5], 1, error=1e-12) is None
    # Apart by more than both errors: decided. Exactly at the boundary (gap == 2 × error): refused.
    assert _hand_out([0.5, 0.25], 1, error=0.1) == [1, 0]
    assert _hand_out([0.5, 0.25], 1, error=0.125) is None
    # When every eligible tenant gets a unit, or none does, the error does not matter.
    assert _hand_out([0.5, 0.5], 2, error=0.4) == [1, 1]
    assert _hand_out([0.5, 0.5], 0, error=0.4) == [0, 0]


def test_leftovers_too_close_for_floats_follow_the_exact_order() -> None:
    # Two remainders within float error: the exact order decides. Equal exact values (a tie) go to
    # the lower index; a larger exact value at index 1 wins the unit.
    assert _hand_out([0.5, 0.5, 0.1], 1, error=1e-12, exact=[0, 1, 2]) == [1, 0, 0]
    assert _hand_out([0.5, 0.5, 0.1], 1, error=1e-12, exact=[1, 0, 2]) == [0, 1, 0]
    # Two units, errors of 0.1: 0.55 is clearly in, 0.45 and 0.3 are contested and the exact order
    # puts 0.3 first. 0.45 then drops out, but it might exceed 0.55 (0.45 + 0.1 >= 0.55 - 0.1): refused.
    assert _hand_out([0.55, 0.45, 0.3], 2, error=0.1, exact=[0, 2, 1]) is None
    # With 0.8 clearly above anything 0.45 could be, the exact order stands.
    assert _hand_out([0.8, 0.45, 0.3], 2, error=0.1, exact=[0, 2, 1]) == [1, 0, 1]


def test_leftovers_match_a_sort_of_every_column_on_many_ties() -> None:
    # The hand-out picks its units without sorting; an independent sort by (-remainder, index) of the
    # eligible rows of each column must pick the same ones, on columns full of ties, with leftovers
    # of none, some, every eligible row and more.
    rnd = random.Random(13)
    for _ in range(300):
        n, n_res = rnd.randint(1, 40), rnd.randint(1, 4)
        remainder = np.array([[rnd.choice([0.0, 0.125, 0.25, 0.5, 0.75]) for _ in range(n_res)] for _ in range(n)])
        eligible = np.array([[rnd.random() < 0.8 for _ in range(n_res)] for _ in range(n)])
        leftover = np.array([rnd.randint(-1, n + 1) for _ in range(n_res)], dtype=np.int64)
        got = filling.hand_out_leftovers(remainder=remainder, error=np.zeros_like(remainder), eligible=eligible,
                                         leftover=leftover, exact_order=lambda r, rows: None)
        assert got is not None
        for r in range(n_res):
            ranked = sorted((i for i in range(n) if eligible[i, r]), key=lambda i: (-remainder[i, r], i))
            expected = set(ranked[:max(int(leftover[r]), 0)])
            assert [int(got[i, r]) for i in range(n)] == [int(i in expected) for i in range(n)]
