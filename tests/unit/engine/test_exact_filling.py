"""The rational water-filling: worked examples by hand, and agreement with the float fill when it is clear."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from dctenant.engine import exact_filling, filling

try:  # The float fill's pool strategy sits next to this file; import it whether or not tests/ is a package.
    from . import test_filling  # type: ignore[import-not-found,unused-ignore]
except ImportError:
    import test_filling  # type: ignore[no-redef,unused-ignore]


def _fill(demand: list[list[int | Fraction]], capacity: list[int | Fraction], weights: list[int | Fraction],
          guarantees: list[int | Fraction]) -> exact_filling.ExactFill:
    return exact_filling.fill(demand=[[Fraction(v) for v in row] for row in demand],
                              capacity=[Fraction(c) for c in capacity], weights=[Fraction(w) for w in weights],
                              guarantees=[Fraction(g) for g in guarantees])


def test_classic_drf_example_exactly() -> None:
    # Ghodsi et al.: 9 CPU, 18 GB; A needs (1, 4) per task, B (3, 1). A gets 3 tasks, B 2: with the
    # demands as 9 tasks each, f_A = 1/3 and f_B = 2/9; both resources' usage stops at (9, 14).
    out = _fill([[9, 36], [27, 9]], [9, 18], [1, 1], [0, 0])
    assert out.fraction == [Fraction(1, 3), Fraction(2, 9)]
    assert out.saturated == [True, False]
    assert out.limited_by == [0, 0]


def test_guarantees_that_exactly_fill_a_resource_freeze_everyone_on_it_at_once() -> None:
    # Guarantees of 50% on demands of 10 and 10 fill a capacity of 10 exactly: the scale stays 1, the
    # resource is full before any level rises, and both keep their floors (limited by guarantee).
    out = _fill([[10], [10]], [10], [1, 3], [Fraction(1, 2), Fraction(1, 2)])
    assert out.guarantee_scale == 1
    assert out.fraction == [Fraction(1, 2), Fraction(1, 2)]
    assert out.limited_by == [filling.LIMITED_BY_GUARANTEE] * 2
    assert out.rounds == 1


def test_a_demand_that_ends_exactly_at_the_saturation_is_served_in_full() -> None:
    # a asks 2 and b 8 of a capacity 10, equal weights: at level 0.2 a is capped and the resource
    # saturates as b reaches 8 too; both are capped (served in full) in the same round.
    out = _fill([[2], [8]], [10], [1, 1], [0, 0])
    assert out.fraction == [1, 1]
    assert out.limited_by == [filling.LIMITED_BY_DEMAND] * 2
    assert out.saturated == [True]


def test_unservable_and_empty_tenants() -> None:
    out = _fill([[0, 0], [1, 1], [5, 0]], [10, 0], [1, 1, 1], [0, Fraction(1, 2), 0])
    assert out.fraction == [1, 0, Fraction(1)]
    assert out.limited_by == [filling.LIMITED_BY_DEMAND, 1, filling.LIMITED_BY_DEMAND]
    assert out.saturated == [False, True]


def test_round_fairly_hands_out_the_floor_of_the_exact_total() -> None:
    # 1.5, 2.5, 0.7, 0.3 sum to 5: floors 1, 2, 0, 0 leave 2 units; 0.7 first, then the 0.5 tie to index 0.
    exact = [[Fraction(3, 2)], [Fraction(5, 2)], [Fraction(7, 10)], [Fraction(3, 10)]]
    assert exact_filling.round_fairly(exact=exact, demand_units=[[5]] * 4, house=[5]) == [[2], [2], [1], [0]]
    # A tenant at its (fractional) demand's floor takes no unit: the next remainder does.
    assert exact_filling.round_fairly(exact=[[Fraction(5, 2)], [Fraction(1, 4)]], demand_units=[[2], [5]], house=[3]) \
        == [[2], [1]]


@given(test_filling.pools())
def test_agrees_with_the_float_fill(pool: test_filling.Pool) -> None:
    quick = pool.run()
    exact = exact_filling.fill(
        demand=[[Fraction(v) for v in row] for row in pool.demand.tolist()],
        capacity=[Fraction(c) for c in pool.capacity.tolist()],
        weights=[Fraction(w) for w in pool.weights.tolist()],
        guarantees=[Fraction(g) for g in pool.guarantees.tolist()])
    np.testing.assert_allclose([float(f) for f in exact.fraction], quick.fraction, rtol=1e-9, atol=1e-12)
    if quick.clear:
        # A clear float fill took every decision the exact one took.
        assert exact.limited_by == quick.limited_by.tolist()
        assert exact.frozen_round == quick.frozen_round.tolist()
        assert exact.saturated == quick.saturated.tolist()
        assert exact.capped == quick.capped.tolist()
        assert exact.rounds == quick.rounds


@given(st.integers(1, 6), st.integers(1, 40))
def test_equal_tenants_split_exactly(n: int, capacity: int) -> None:
    out = _fill([[capacity]] * n, [capacity], [1] * n, [0] * n)
    assert out.fraction == [Fraction(1, n)] * n
