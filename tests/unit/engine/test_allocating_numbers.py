"""The allocator's fast paths: packed demand rows, integer remainders, six-decimal labels, the GC guard.

Each fast path replaced a slower exact one; these tests hold it to the slow one (Fractions, Decimal
formatting, the rational fill) or to values worked by hand, on the cases where a shortcut could go
wrong: rows of other keys that happen to pack to the same length, amounts too large to pack,
remainders that tie, floats a hair from a half, and a caller that had the collector switched off.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import gc
import math
import random
from decimal import Decimal
from fractions import Fraction

import numpy as np
import pytest

from dctenant.domain import allocations, pools, quantities, resources, tenants
from dctenant.engine import allocating, filling
from tests import tiers

AT = dt.date(2026, 11, 27)
CPU, MEM, GPU, EGRESS = resources.CPU, resources.MEMORY, resources.GPU, resources.EGRESS
POLICY = tiers.POLICY


def tenant(tid: str, demand: dict[str, dict[str, Decimal]], tier: str = "startup") -> tenants.Tenant:
    return tenants.Tenant(
        id=tid, display_name=pools.DisplayName(en=tid, fa=tid), tier=tier,
        licence=tenants.Licence(number="L", issued=dt.date(2020, 1, 1), expires=dt.date(2030, 1, 1),
                                status=tenants.LicenceStatus.ACTIVE),
        owners=tenants.Owners(groups=("g",)), demand=demand)


def datacentre(capacity: dict[str, Decimal]) -> pools.DataCentre:
    pool = pools.Pool(name="p", site="s", context="c", capacity=capacity)
    return pools.DataCentre(name="dc", display_name=pools.DisplayName(en="dc", fa="dc"), storage_classes=(),
                            pools=(pool,))


def rows(ts: list[tenants.Tenant], keys: tuple[str, ...]) -> tuple[list[list[float]], list[list[int]],
                                                                   list[list[Fraction]]]:
    """What ``_demand_in_units`` must give, from the Decimals: floats, floors and exact values in units."""
    unit = [POLICY.unit(k) for k in keys]
    exact = [[Fraction(t.demand["p"].get(k, Decimal(0))) / Fraction(u) for k, u in zip(keys, unit, strict=True)]
             for t in ts]
    return [[float(v) for v in row] for row in exact], [[math.floor(v) for v in row] for row in exact], exact


def demand_in_units(ts: list[tenants.Tenant], keys: tuple[str, ...]) -> allocating._PoolData:
    group = allocating._Members()
    for t in ts:
        group.tenants.append(t)
        group.packed.append(t.numbers["p"].packed)
        group.tiers.append(list(POLICY.tiers).index(t.tier))
    unit = [POLICY.unit(k) for k in keys]
    return allocating._PoolData.of("p", group, keys, unit, [Fraction(1)] * len(keys), POLICY)


KEYS = resources.ordered([CPU, MEM, GPU])


def check_rows(ts: list[tenants.Tenant], keys: tuple[str, ...]) -> None:
    data = demand_in_units(ts, keys)
    floats, floors, exact = rows(ts, keys)
    np.testing.assert_allclose(data.demand, np.array(floats).reshape(len(ts), len(keys)), rtol=1e-15)
    assert data.demand_floor.tolist() == floors
    assert [[data.exact(i, r) for r in range(len(keys))] for i in range(len(ts))] == exact


def test_packed_rows_give_the_exact_demands() -> None:
    # 1.5 cores is 1500 millicores; 3 GiB + 1 byte is 3072 MiB and a byte, floored to 3072.
    ts = [tenant("a", {"p": {CPU: Decimal("1.5"), MEM: Decimal(3 * 2**30 + 1), GPU: Decimal(2)}}),
          tenant("b", {"p": {CPU: Decimal("0.0005"), MEM: Decimal(2**20), GPU: Decimal(0)}})]
    assert all(t.numbers["p"].packed is not None for t in ts)
    data = demand_in_units(ts, KEYS)
    assert data.demand_floor.tolist() == [[1500, 3072, 2], [0, 1, 0]]
    check_rows(ts, KEYS)


def test_rows_of_other_keys_that_pack_to_the_same_length_are_not_misread() -> None:
    # a asks for two of the pool's three resources (7 words packed) and b for four (13 words): 20
    # words, exactly two rows of the pool's 10. Only the layout markers tell them apart.
    ts = [tenant("a", {"p": {CPU: Decimal(1), GPU: Decimal(1)}}),
          tenant("b", {"p": {CPU: Decimal(2), MEM: Decimal(2**30), GPU: Decimal(3), EGRESS: Decimal(10**9)}})]
    packed = [t.numbers["p"].packed for t in ts]
    assert packed[0] is not None and packed[1] is not None
    assert len(packed[0]) + len(packed[1]) == 2 * 8 * (1 + 3 * len(KEYS))
    data = demand_in_units(ts, KEYS)
    assert data.demand_floor.tolist() == [[1000, 0, 1], [2000, 1024, 3]]
    check_rows(ts, KEYS)


def test_amounts_too_large_to_pack_are_read_exactly() -> None:
    # 2^70 bytes (1 ZiB) has a mantissa beyond 2^62: no packed row; the pool's other row is packed.
    huge = tenant("a", {"p": {CPU: Decimal(1), MEM: Decimal(2**70), GPU: Decimal(1)}})
    plain = tenant("b", {"p": {CPU: Decimal(1), MEM: Decimal(2**30), GPU: Decimal(1)}})
    assert huge.numbers["p"].packed is None and plain.numbers["p"].packed is not None
    data = demand_in_units([huge, plain], KEYS)
    assert data.exact(0, KEYS.index(MEM)) == 2**50
    check_rows([huge, plain], KEYS)


def test_a_layout_marker_is_a_nan_no_packed_number_can_equal() -> None:
    marker = quantities.layout(("x-test", "y-test"))
    assert marker == quantities.layout(("x-test", "y-test")) != quantities.layout(("y-test", "x-test"))
    assert marker >= 2**62 and math.isnan(np.array([marker], dtype=np.int64).view(np.float64)[0])


def test_the_allocation_does_not_depend_on_which_rows_were_packed() -> None:
    # The same demands, once packed and once with every row forced through the general path.
    rnd = random.Random(5)
    capacity = {CPU: Decimal("37.5"), MEM: Decimal(40 * 2**30), GPU: Decimal(7)}
    ts = [tenant(f"t{i}", {"p": {CPU: Decimal(rnd.randint(1, 9000)) / 1000, MEM: Decimal(rnd.randint(1, 10**10)),
                                 GPU: Decimal(rnd.randint(0, 3))}}, rnd.choice(list(POLICY.tiers)))
          for i in range(60)]
    packed = allocating.allocate(datacentre(capacity), tenants=ts, policy=POLICY, at=AT)
    unpacked_ts = []
    for t in ts:
        numbers = {p: dataclasses.replace(n, packed=None) for p, n in t.numbers.items()}
        copy = dataclasses.replace(t)
        object.__setattr__(copy, "numbers", numbers)
        unpacked_ts.append(copy)
    unpacked = allocating.allocate(datacentre(capacity), tenants=unpacked_ts, policy=POLICY, at=AT)
    for t in ts:
        a, b = packed.tenants[t.id].shares["p"], unpacked.tenants[t.id].shares["p"]
        assert dict(a.envelope) == dict(b.envelope) and a.fraction == b.fraction and a.limited_by == b.limited_by


def test_floor_remainders_in_integers_order_as_fractions_do() -> None:
    # Many tenants held on their floors with equal and nearly equal demands: the integer remainders
    # must order them exactly as ``scale × g × demand − floor`` in fractions does, ties to the lower index.
    rnd = random.Random(11)
    capacity = {CPU: Decimal("12.345"), MEM: Decimal(3 * 2**30), GPU: Decimal(5)}
    ts = [tenant(f"t{i:03d}", {"p": {CPU: Decimal(rnd.choice([1, 2, 3])) + Decimal(rnd.randint(0, 2)) / 1000,
                                     MEM: Decimal(rnd.choice([2**30, 2**30 + 1, 3 * 2**29])),
                                     GPU: Decimal(rnd.randint(1, 2))}}, rnd.choice(["national", "standard"]))
          for i in range(80)]
    dc = datacentre(capacity)
    pool = dc.pools[0]
    keys = pool.resources
    unit = [POLICY.unit(k) for k in keys]
    capacity_units = [Fraction(pool.allocatable(k)) / Fraction(u) for k, u in zip(keys, unit, strict=True)]
    group = allocating._Members()
    for t in ts:
        group.tenants.append(t)
        group.packed.append(t.numbers["p"].packed)
        group.tiers.append(list(POLICY.tiers).index(t.tier))
    data = allocating._PoolData.of("p", group, keys, unit, capacity_units, POLICY)
    weights = np.array([float(POLICY.tiers[t.tier].weight) for t in ts])
    guarantees = np.array([float(POLICY.tiers[t.tier].guaranteed) for t in ts])
    result = filling.fill(demand=data.demand, capacity=np.array([float(c) for c in capacity_units]),
                          weights=weights, guarantees=guarantees)
    assert result.guarantee_scale < 1  # the guarantees do not fit: everyone sits on a scaled floor
    floors = [i for i in range(len(ts)) if result.limited_by[i] == filling.LIMITED_BY_GUARANTEE]
    assert len(floors) > 40
    exactly = allocating._ExactRemainders(result, data)
    scale = exactly.scale()
    for r in range(len(keys)):
        values = {i: scale * Fraction(POLICY.tiers[ts[i].tier].guaranteed) * data.exact(i, r) for i in floors}
        exactly.base[:, r] = [math.floor(values.get(i, Fraction(0))) for i in range(len(ts))]
        expected = sorted(floors, key=lambda i: (-(values[i] - math.floor(values[i])), i))
        assert exactly.order(r, floors) == expected


def test_the_exact_guarantee_scale_is_allocatable_over_the_guaranteed_use() -> None:
    # Worked by hand: 4 cpu; national (g = 1/2) asks 6 and 2.002, standard (g = 1/4) asks 4.
    # Guaranteed use 3 + 1.001 + 1 = 5.001 cpu, so every guarantee is scaled by 4 / 5.001 = 4000/5001.
    ts = [tenant("a", {"p": {CPU: Decimal(6)}}, "national"), tenant("b", {"p": {CPU: Decimal("2.002")}}, "national"),
          tenant("c", {"p": {CPU: Decimal(4)}}, "standard"), tenant("d", {"p": {CPU: Decimal(3)}}, "startup")]
    group = allocating._Members()
    for t in ts:
        group.tenants.append(t)
        group.packed.append(t.numbers["p"].packed)
        group.tiers.append(list(POLICY.tiers).index(t.tier))
    data = allocating._PoolData.of("p", group, (CPU,), [POLICY.unit(CPU)], [Fraction(4000)], POLICY)
    assert allocating._exact_guarantee_scale(data) == Fraction(4000, 5001)


@pytest.mark.parametrize("value", [0.0, -0.0, 1.0, 0.5, 0.1234565, 0.0000005, 2.5e-7, 0.857306, 1e10, 3e14,
                                   float("inf")])
def test_a_label_is_the_float_rounded_to_six_decimals(value: float) -> None:
    shown = allocating._shown_all(np.array([value, value, 0.25]))
    assert shown[0] is shown[1]  # formatted once
    assert str(shown[0]) == str(allocating._shown(value + 0.0)) and shown[2] == Decimal("0.250000")


def test_labels_of_values_a_hair_from_a_half_are_rounded_as_formatting_does() -> None:
    halves = (np.arange(20_000) + 0.5) / 1e6
    values = np.concatenate([halves, np.nextafter(halves, 1.0), np.nextafter(halves, 0.0),
                             np.random.default_rng(3).random(20_000)])
    shown = allocating._shown_all(values)
    assert [str(s) for s in shown] == [f"{x:.6f}" for x in values.tolist()]


@pytest.mark.parametrize("enabled", [True, False])
def test_the_collector_is_left_as_the_caller_had_it(enabled: bool) -> None:
    was = gc.isenabled()
    try:
        (gc.enable if enabled else gc.disable)()
        dc = datacentre({CPU: Decimal(4)})
        allocating.allocate(dc, tenants=[tenant("a", {"p": {CPU: Decimal(1)}})], policy=POLICY, at=AT)
        assert gc.isenabled() is enabled
        with pytest.raises(KeyError):  # a demand for a pool the data centre lacks fails inside
            allocating.allocate(dc, tenants=[tenant("b", {"q": {CPU: Decimal(1)}})], policy=POLICY, at=AT)
        assert gc.isenabled() is enabled
    finally:
        (gc.enable if was else gc.disable)()


def test_shares_and_tenant_allocations_built_from_drafts_are_the_real_values() -> None:
    # Two tenants on 9 CPUs (9,000 millicores), equal weights: 4.5 CPUs each, worked by hand (fractions
    # 4.5/8 and 4.5/6, both at the weighted dominant share 4.5/9 = 0.5). The
    # values come out of drafts made Share and TenantAllocation by __class__ assignment; each must
    # be exactly the value its constructor builds, and behave as one (frozen, replace works).
    dc = datacentre({CPU: Decimal(9)})
    ts = [tenant("a", {"p": {CPU: Decimal(8)}}), tenant("b", {"p": {CPU: Decimal(6)}})]
    plan = allocating.allocate(dc, tenants=ts, policy=POLICY, at=AT)
    for tid, fraction in (("a", Decimal("0.5625")), ("b", Decimal("0.75"))):
        got = plan.tenants[tid]
        share = got.shares["p"]
        assert type(got) is allocations.TenantAllocation and type(share) is allocations.Share
        assert dict(share.envelope) == {CPU: Decimal("4.5")}
        expected = allocations.Share(pool="p", demand=ts[0 if tid == "a" else 1].demand["p"],
                                     envelope={CPU: Decimal("4.5")}, fraction=fraction,
                                     weighted_share=Decimal("0.5"), dominant=CPU, limited_by=CPU, round=0)
        assert share == expected
        assert got == allocations.TenantAllocation(tenant=tid, licence=tenants.LicenceState.ACTIVE,
                                                   weight=Decimal(1), guaranteed=Decimal(0), shares={"p": expected})
        with pytest.raises(dataclasses.FrozenInstanceError):
            share.round = 3  # type: ignore[misc]
        assert dataclasses.replace(share, round=3).round == 3


def test_a_draft_whose_slots_drift_from_its_value_class_is_refused() -> None:
    class Drifted:
        __slots__ = ("demand", "dominant", "envelope", "fraction", "limited_by", "pool", "round")

    with pytest.raises(TypeError):
        object.__new__(Drifted).__class__ = allocations.Share  # type: ignore[assignment]


def test_the_guaranteed_use_in_one_int64_pass_is_the_fraction_sum() -> None:
    # Σ g × m × 10^e over mixed exponents (negative ones too), against Fractions term by term; and
    # None (the slow exact path) where a shift beyond 18 places or a total near 2^63 could overflow.
    rnd = random.Random(29)
    guarantees = [Decimal("0.5"), Decimal("0.25"), Decimal(0), Decimal("0.333")]
    for _ in range(200):
        n = rnd.randint(0, 30)
        m = [rnd.randint(0, 10**rnd.randint(0, 9)) for _ in range(n)]
        e = [rnd.randint(-4, 4) for _ in range(n)]
        t = [rnd.randrange(len(guarantees)) for _ in range(n)]
        expected = sum((Fraction(guarantees[ti]) * mi * Fraction(10) ** ei for mi, ei, ti in zip(m, e, t, strict=True)),
                       Fraction(0))
        got = allocating._guaranteed_use(np.array(m, dtype=np.int64), np.array(e, dtype=np.int64),
                                         np.array(t, dtype=np.intp), guarantees)
        assert got == expected
    one = np.array([0], dtype=np.intp)
    assert allocating._guaranteed_use(np.array([1, 1], dtype=np.int64), np.array([0, 19], dtype=np.int64),
                                      np.array([0, 0], dtype=np.intp), guarantees) is None
    assert allocating._guaranteed_use(np.array([1, 1], dtype=np.int64), np.array([0, 18], dtype=np.int64),
                                      np.array([0, 0], dtype=np.intp), guarantees) == Fraction(10**18 + 1, 2)
    assert allocating._guaranteed_use(np.array([9 * 10**18], dtype=np.int64), np.array([0], dtype=np.int64),
                                      one, guarantees) is None


def test_allocations_read_one_by_one_are_those_read_all_at_once() -> None:
    # A plan's tenant allocations are assembled from the pools' columns when read: one by one
    # (``plan.tenants[tid]``) or all at once (``items()``/``values()``). Both must give equal values,
    # shares in the data centre's pool order, the same object when read again, and for a tenant whose
    # licence is expired past grace, zero envelopes limited by its licence in every pool it asks for.
    rnd = random.Random(9)
    members = tuple(pools.Pool(name=name, site="s", context="c", capacity={CPU: Decimal(40), MEM: Decimal(2**40)})
                    for name in ("z", "a", "m"))
    dc = pools.DataCentre(name="dc", display_name=pools.DisplayName(en="dc", fa="dc"), storage_classes=(),
                          pools=members)
    expired = tenants.Licence(number="X", issued=dt.date(2020, 1, 1), expires=dt.date(2021, 1, 1),
                              status=tenants.LicenceStatus.ACTIVE)
    ts = []
    for i in range(30):
        asked = rnd.sample(["m", "a", "z"], rnd.randint(1, 3))
        t = tenant(f"t{i:02d}", {p: {CPU: Decimal(rnd.randint(1, 9000)) / 1000, MEM: Decimal(rnd.randint(1, 2**36))}
                                 for p in asked}, rnd.choice(list(POLICY.tiers)))
        ts.append(dataclasses.replace(t, licence=expired) if i % 7 == 3 else t)
    one_by_one = allocating.allocate(dc, tenants=ts, policy=POLICY, at=AT)
    all_at_once = allocating.allocate(dc, tenants=ts, policy=POLICY, at=AT)
    ids = sorted(t.id for t in ts)
    assert list(one_by_one.tenants) == ids and len(one_by_one.tenants) == 30 and "nobody" not in one_by_one.tenants
    picked = rnd.sample(ids, 12)
    first = {tid: one_by_one.tenants[tid] for tid in picked}  # some read one by one before the rest in a sweep
    swept = dict(one_by_one.tenants.items())
    assert all(swept[tid] is first[tid] for tid in picked)
    everything = dict(all_at_once.tenants.items())
    for t in ts:
        a, b = one_by_one.tenants[t.id], everything[t.id]
        assert a is one_by_one.tenants[t.id] and a.shares["z" if "z" in t.demand else next(iter(t.demand))] is \
            one_by_one.tenants[t.id].shares["z" if "z" in t.demand else next(iter(t.demand))]
        assert a == b and list(a.shares) == [p for p in ("z", "a", "m") if p in t.demand]
        for pool, share in a.shares.items():
            assert dict(share.envelope) == dict(b.shares[pool].envelope)
            assert share.demand == t.demand[pool]
            if t.licence is expired:
                assert a.licence is tenants.LicenceState.EXPIRED and share.limited_by == allocations.LICENCE
                assert dict(share.envelope) == dict.fromkeys(t.demand[pool], Decimal(0)) and share.fraction == 0
            else:
                assert share.limited_by != allocations.LICENCE
                assert all(share.envelope[k] <= v for k, v in t.demand[pool].items())
    with pytest.raises(KeyError):
        one_by_one.tenants["nobody"]
    assert one_by_one == all_at_once and repr(one_by_one.tenants) == repr(everything)
