"""The domain-level allocator: licences, rounding to whole units, namespaces and the plan's JSON."""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from dctenant.domain import allocations, policies, pools, resources, tenants
from dctenant.engine import allocating

AT = dt.date(2026, 11, 27)
GPU, CPU, MEM, EGRESS = resources.GPU, resources.CPU, resources.MEMORY, resources.EGRESS
GI = Decimal(2**30)

POLICY = policies.Policy(
    name="p",
    tiers={
        "national": policies.Tier(name="national", weight=Decimal(4), guaranteed=Decimal("0.5")),
        "standard": policies.Tier(name="standard", weight=Decimal(2), guaranteed=Decimal("0.2")),
        "startup": policies.Tier(name="startup", weight=Decimal(1), guaranteed=Decimal(0)),
    },
    licences=policies.LicenceRules(warning_days=30, grace_days=14),
)


TI, PI = Decimal(2**40), Decimal(2**50)
HDD = resources.storage("hdd-archive")


def storage_pool(hdd: Decimal, **capacity: Decimal) -> pools.Pool:
    base = pool(**capacity)
    return pools.Pool(name=base.name, site=base.site, context=base.context, capacity={**base.capacity, HDD: hdd})


def pool(name: str = "p1", **capacity: Decimal) -> pools.Pool:
    keys = {"cpu": CPU, "memory": MEM, "gpu": GPU, "egress": EGRESS}
    return pools.Pool(name=name, site=name, context=name, capacity={keys[k]: v for k, v in capacity.items()})


def datacentre(*members: pools.Pool) -> pools.DataCentre:
    return pools.DataCentre(
        name="dc", display_name=pools.DisplayName(en="dc", fa="دی‌سی"), storage_classes=(), pools=members
    )


def tenant(
    tid: str,
    tier: str,
    demand: dict[str, dict[str, Decimal]],
    *,
    expires: dt.date = dt.date(2030, 1, 1),
    status: tenants.LicenceStatus = tenants.LicenceStatus.ACTIVE,
    namespaces: tuple[tenants.Namespace, ...] = (),
) -> tenants.Tenant:
    return tenants.Tenant(
        id=tid,
        display_name=pools.DisplayName(en=tid, fa=tid),
        tier=tier,
        licence=tenants.Licence(number="L-1", issued=dt.date(2020, 1, 1), expires=expires, status=status),
        owners=tenants.Owners(groups=("g",)),
        demand=demand,
        namespaces=namespaces,
    )


def run(dc: pools.DataCentre, *ts: tenants.Tenant, at: dt.date = AT) -> allocations.Allocation:
    return allocating.allocate(dc, tenants=ts, policy=POLICY, at=at)


def test_two_startups_split_a_saturated_resource_equally_and_whole_gpus() -> None:
    dc = datacentre(pool(gpu=Decimal(9), cpu=Decimal(100)))
    a = tenant("a", "startup", {"p1": {GPU: Decimal(8), CPU: Decimal(8)}})
    b = tenant("b", "startup", {"p1": {GPU: Decimal(8), CPU: Decimal(8)}})
    plan = run(dc, a, b)
    ga = plan.tenants["a"].shares["p1"].envelope[GPU]
    gb = plan.tenants["b"].shares["p1"].envelope[GPU]
    # Exact shares are 4.5 each; rounding hands the leftover GPU to the lower-index tenant.
    assert {ga, gb} == {Decimal(4), Decimal(5)}
    assert ga + gb == 9
    assert plan.tenants["a"].shares["p1"].limited_by == GPU
    assert plan.pools["p1"].resources[0].key == CPU
    assert plan.tenants["a"].shares["p1"].fraction == Decimal("0.5625")


def test_weights_divide_the_bottleneck_in_proportion() -> None:
    dc = datacentre(pool(cpu=Decimal(60)))
    big = tenant("big", "national", {"p1": {CPU: Decimal(100)}})
    small = tenant("small", "startup", {"p1": {CPU: Decimal(100)}})
    policy = policies.Policy(
        name="p",
        tiers={
            "national": policies.Tier(name="national", weight=Decimal(4), guaranteed=Decimal(0)),
            "startup": policies.Tier(name="startup", weight=Decimal(1), guaranteed=Decimal(0)),
        },
    )
    plan = allocating.allocate(dc, tenants=(big, small), policy=policy, at=AT)
    assert plan.tenants["big"].shares["p1"].envelope[CPU] == Decimal(48)
    assert plan.tenants["small"].shares["p1"].envelope[CPU] == Decimal(12)


def test_guarantee_floor_is_kept_even_against_a_heavier_weight() -> None:
    # national: weight 4, 50% guaranteed; standard: weight 2, 20% guaranteed. Capacity 100 cpu.
    dc = datacentre(pool(cpu=Decimal(100)))
    nat = tenant("nat", "national", {"p1": {CPU: Decimal(160)}})
    std = tenant("std", "standard", {"p1": {CPU: Decimal(200)}})
    plan = run(dc, nat, std)
    env_nat = plan.tenants["nat"].shares["p1"].envelope[CPU]
    env_std = plan.tenants["std"].shares["p1"].envelope[CPU]
    assert env_nat + env_std == Decimal(100)
    # Guarantees: 80 and 40 do not fit in 100: both scaled by 100/120, so nat >= 66.666 and std >= 33.333.
    assert env_nat >= Decimal("66.666") and env_std >= Decimal("33.333")
    assert any("guarantees do not all fit" in w for w in plan.warnings)
    assert plan.pools["p1"].guarantee_scale == Decimal("0.833333")


@pytest.mark.parametrize(
    ("status", "expires", "state", "served"),
    [
        (tenants.LicenceStatus.ACTIVE, dt.date(2030, 1, 1), "allocated", True),
        (tenants.LicenceStatus.ACTIVE, AT + dt.timedelta(days=10), "allocated", True),
        (tenants.LicenceStatus.ACTIVE, AT - dt.timedelta(days=14), "grace", True),
        (tenants.LicenceStatus.ACTIVE, AT - dt.timedelta(days=15), "suspended", False),
        (tenants.LicenceStatus.SUSPENDED, dt.date(2030, 1, 1), "suspended", False),
        (tenants.LicenceStatus.REVOKED, dt.date(2030, 1, 1), "suspended", False),
    ],
)
def test_licence_gating(status: tenants.LicenceStatus, expires: dt.date, state: str, served: bool) -> None:
    dc = datacentre(pool(cpu=Decimal(10)))
    t = tenant("t", "standard", {"p1": {CPU: Decimal(4)}}, status=status, expires=expires)
    other = tenant("o", "startup", {"p1": {CPU: Decimal(10)}})
    plan = run(dc, t, other)
    assert plan.tenants["t"].state == state
    envelope = plan.tenants["t"].shares["p1"].envelope[CPU]
    assert (envelope == 4) is served
    assert plan.tenants["o"].shares["p1"].envelope[CPU] == (6 if served else 10)
    if not served:
        assert plan.tenants["t"].shares["p1"].limited_by == allocations.LICENCE
    assert any("grace" in w for w in plan.warnings) is (state == "grace")


def test_namespaces_are_scaled_down_to_the_envelope_per_resource() -> None:
    dc = datacentre(pool(cpu=Decimal(10), memory=100 * GI))
    nss = (
        tenants.Namespace(name="a-x", pool="p1", quota={CPU: Decimal(6), MEM: 10 * GI}),
        tenants.Namespace(name="a-y", pool="p1", quota={CPU: Decimal(14), MEM: 10 * GI}),
    )
    a = tenant("a", "startup", {"p1": {CPU: Decimal(20), MEM: 20 * GI}}, namespaces=nss)
    b = tenant("b", "startup", {"p1": {CPU: Decimal(20), MEM: 20 * GI}})
    plan = run(dc, a, b)
    env = plan.tenants["a"].shares["p1"].envelope
    assert env[CPU] == Decimal(5)
    granted = {ns.namespace: ns.granted for ns in plan.namespaces}
    assert granted["a-x"][CPU] == Decimal("1.5") and granted["a-y"][CPU] == Decimal("3.5")
    assert granted["a-x"][MEM] + granted["a-y"][MEM] <= env[MEM]
    assert all(ns.scaled for ns in plan.namespaces)
    assert any("scaled down" in w for w in plan.warnings)


def test_unservable_tenant_gets_nothing_and_a_warning() -> None:
    dc = datacentre(pool(cpu=Decimal(10), gpu=Decimal(0)))
    a = tenant("a", "national", {"p1": {CPU: Decimal(4), GPU: Decimal(1)}})
    b = tenant("b", "startup", {"p1": {CPU: Decimal(20)}})
    plan = run(dc, a, b)
    assert plan.tenants["a"].shares["p1"].envelope[CPU] == 0
    assert plan.tenants["b"].shares["p1"].envelope[CPU] == 10
    assert any("nothing is allocatable" in w for w in plan.warnings)


def test_json_follows_the_documented_schema() -> None:
    dc = datacentre(pool(cpu=Decimal(10), egress=Decimal(10**10)))
    plan = run(dc, tenant("a", "startup", {"p1": {CPU: Decimal("2.5"), EGRESS: Decimal(10**9)}}))
    data = plan.as_dict()
    assert data["kind"] == "AllocationPlan" and data["at"] == "2026-11-27"
    assert data["pools"]["p1"][CPU] == {
        "capacity": "10",
        "reserve": "0",
        "allocatable": "10",
        "allocated": "2.5",
        "free": "7.5",
    }
    share = data["tenants"]["a"]["pools"]["p1"]
    assert share == {
        "demand": {CPU: "2.5", EGRESS: "1000000000"},
        "envelope": {CPU: "2.5", EGRESS: "1000000000"},
        "fraction": "1",
        "weightedShare": "0.25",
        "limitedBy": "demand",
    }
    assert data["tenants"]["a"]["state"] == "allocated" and data["tenants"]["a"]["weight"] == "1"
    assert data["warnings"] == []


# -- properties over random data centres, in Decimal, after rounding ------------------------------------

amount = st.integers(min_value=0, max_value=5000)


Estate = tuple[pools.DataCentre, list[tenants.Tenant]]


@st.composite
def estates(draw: st.DrawFn) -> Estate:
    n_pools = draw(st.integers(1, 3))
    members = []
    for p in range(n_pools):
        members.append(
            pool(
                f"p{p}",
                cpu=Decimal(draw(st.integers(0, 4000))) / 1000 * 64,
                memory=Decimal(draw(st.integers(1, 10**6))) * 2**20,
                gpu=Decimal(draw(st.integers(0, 16))),
                egress=Decimal(draw(st.integers(1, 10**4))) * 10**6,
            )
        )
    ts = []
    for i in range(draw(st.integers(1, 8))):
        demand = {}
        for p in members:
            if draw(st.booleans()):
                demand[p.name] = {
                    CPU: Decimal(draw(amount)) / 10,
                    MEM: Decimal(draw(amount)) * 2**24,
                    GPU: Decimal(draw(st.integers(0, 6))),
                    EGRESS: Decimal(draw(amount)) * 10**7,
                }
        status = draw(st.sampled_from(list(tenants.LicenceStatus)))
        ts.append(
            tenant(
                f"t{i}",
                draw(st.sampled_from(["national", "standard", "startup"])),
                demand,
                status=status,
                expires=AT + dt.timedelta(days=draw(st.integers(-30, 60))),
            )
        )
    return datacentre(*members), ts


def exact_fit_guarantees() -> Estate:
    """Guarantees that fill the pool exactly: 50% of 12 and 20% of 10 cpu is 8 of 8."""
    return datacentre(pool(cpu=Decimal(8))), [tenant("n", "national", {"p1": {CPU: Decimal(12)}}),
                                              tenant("s", "standard", {"p1": {CPU: Decimal(10)}})]


def repro_fractional_allocatable() -> Estate:
    """Issue 13, repro 1: an allocatable of 1500.5 Mbit/s, not a whole number of units."""
    return datacentre(pool(gpu=Decimal(8), memory=64 * TI, egress=Decimal(1500500000))), [
        tenant("a", "startup", {"p1": {GPU: Decimal(4), MEM: 16 * TI, EGRESS: Decimal(10**9)}}),
        tenant("b", "startup", {"p1": {GPU: Decimal(8)}})]


def repro_pebibytes() -> Estate:
    """Issue 13, repro 2b: 10 PiB of storage, a wants 1 PiB and b 20 PiB."""
    return datacentre(storage_pool(Decimal(10) * PI)), [
        tenant("a", "startup", {"p1": {HDD: PI}}), tenant("b", "startup", {"p1": {HDD: 20 * PI}})]


@settings(max_examples=150)
@given(estates())
@example(exact_fit_guarantees())
@example(repro_fractional_allocatable())
@example(repro_pebibytes())
def test_rounded_envelopes_are_feasible_and_within_one_unit(estate: Estate) -> None:
    dc, ts = estate
    plan = run(dc, *ts)
    for p in dc.pools:
        for key in p.resources:
            total = sum(
                (t.shares[p.name].envelope.get(key, Decimal(0)) for t in plan.tenants.values() if p.name in t.shares),
                Decimal(0),
            )
            assert total <= p.allocatable(key), (p.name, key)
    for t in ts:
        for pool_name, share in plan.tenants[t.id].shares.items():
            for key, env in share.envelope.items():
                unit = POLICY.unit(key)
                assert Decimal(0) <= env <= t.demand[pool_name][key]
                assert env % unit == 0
                exact = share.fraction * t.demand[pool_name][key]
                # fraction is shown with 6 decimals; allow that rounding on top of one unit.
                assert abs(env - exact) <= unit + Decimal("0.000001") * t.demand[pool_name][key] + unit / 1000
                if share.limited_by == allocations.DEMAND and t.demand[pool_name][key] % unit == 0:
                    assert env == t.demand[pool_name][key]


@settings(max_examples=150)
@given(estates())
@example(exact_fit_guarantees())
@example(repro_fractional_allocatable())
@example(repro_pebibytes())
def test_float_fill_gives_the_exact_fills_envelopes(estate: Estate) -> None:
    dc, ts = estate
    quick = run(dc, *ts)
    allocating.FORCE_EXACT = True
    try:
        exact = run(dc, *ts)
    finally:
        allocating.FORCE_EXACT = False
    for t in ts:
        for pool_name, share in exact.tenants[t.id].shares.items():
            other = quick.tenants[t.id].shares[pool_name]
            assert dict(other.envelope) == dict(share.envelope), (t.id, pool_name)
            assert other.limited_by == share.limited_by
    assert [dataclasses.astuple(r) for p in quick.pools.values() for r in p.resources] == \
        [dataclasses.astuple(r) for p in exact.pools.values() for r in p.resources]


@settings(deadline=None, max_examples=60)
@given(estates(), st.randoms(use_true_random=False))
def test_tenant_order_does_not_matter(estate: Estate, rnd: object) -> None:
    dc, ts = estate
    shuffled = list(ts)
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    a, b = run(dc, *ts), run(dc, *shuffled)
    for t in ts:
        for pool_name, share in a.tenants[t.id].shares.items():
            other = b.tenants[t.id].shares[pool_name]
            assert share.fraction == other.fraction
            assert share.envelope == other.envelope


@pytest.mark.parametrize(
    ("asked", "expected"),
    [
        (Decimal("4793.172"), Decimal("4793.172")),  # 4793.172 / 0.001 is 4793171.9999999995 as a float
        (Decimal("4793.1719999999999"), Decimal("4793.171")),  # just below a whole millicore: floor, never up
        (Decimal("0.0005"), Decimal(0)),
        (Decimal("1e3"), Decimal(1000)),
    ],
)
def test_demand_is_floored_exactly_to_whole_units(asked: Decimal, expected: Decimal) -> None:
    dc = datacentre(pool(cpu=Decimal(10_000)))
    plan = run(dc, tenant("a", "startup", {"p1": {CPU: asked}}))
    share = plan.tenants["a"].shares["p1"]
    assert share.envelope[CPU] == expected
    assert share.envelope[CPU] <= asked
    assert plan.pools["p1"].resources[0].allocated == expected


# -- the three repros of issue 13, with values worked by hand --------------------------------------------


def test_repro_fractional_allocatable_is_divided_exactly() -> None:
    # Egress 1500.5 Mbit/s. a's dominant share is egress, 1000/1500.5 = 2000/3001; b's is GPUs, 8/8.
    # GPUs saturate first: 4·f_a + 8·f_b = 8 with f_a = t·3001/2000, f_b = t gives t = 4000/7001,
    # f_a = 6002/7001 = 0.857306, f_b = 0.571347. a's memory: 16 TiB × 6002/7001 = 14,383,209.6 MiB.
    # GPUs: 3.43 and 4.57, floors 3 + 4; the eighth goes to the larger remainder, b's.
    dc, ts = repro_fractional_allocatable()
    plan = run(dc, *ts)
    a, b = plan.tenants["a"].shares["p1"], plan.tenants["b"].shares["p1"]
    assert a.envelope[MEM] == 14_383_209 * 2**20
    assert a.envelope[GPU] == 3 and b.envelope[GPU] == 5
    assert a.envelope[EGRESS] == 857 * 10**6  # 857.306 Mbit/s, floored
    assert (a.fraction, b.fraction) == (Decimal("0.857306"), Decimal("0.571347"))
    assert a.weighted_share == b.weighted_share == Decimal("0.571347")
    assert a.limited_by == b.limited_by == GPU


def test_repro_pebibytes_are_not_bumped() -> None:
    # One tenant asks 4 GPUs of 2 and 16 PiB of 20: f = 1/2, so exactly 8 PiB = 8,589,934,592 MiB.
    dc = datacentre(storage_pool(20 * PI, gpu=Decimal(2)))
    plan = run(dc, tenant("a", "startup", {"p1": {GPU: Decimal(4), HDD: 16 * PI}}))
    share = plan.tenants["a"].shares["p1"]
    assert share.envelope[HDD] == 8_589_934_592 * 2**20
    assert share.envelope[GPU] == 2


def test_repro_a_tenant_served_in_full_gets_exactly_its_demand() -> None:
    # a (1 PiB) is capped at level 0.1; b takes the other 9 PiB: f_b = 9/20.
    dc, ts = repro_pebibytes()
    plan = run(dc, *ts)
    a, b = plan.tenants["a"].shares["p1"], plan.tenants["b"].shares["p1"]
    assert a.envelope[HDD] == PI and a.fraction == 1 and a.limited_by == allocations.DEMAND
    assert b.envelope[HDD] == 9 * PI and b.fraction == Decimal("0.45") and b.limited_by == HDD
    assert plan.pools["p1"].resources[0].allocated == 10 * PI


def test_repro_extreme_weights_never_claim_full_service_of_a_cut_envelope() -> None:
    # Weights 1e-9 and 1e9 (refused by the validator, so only reachable through the API): one cpu
    # level t with 10·(1e-9·t + 1e9·t) = 10 gives f_a = 1e-18/(1 + 1e-18) and f_b = 1/(1 + 1e-18).
    policy = policies.Policy(name="p", tiers={
        "tiny": policies.Tier(name="tiny", weight=Decimal("1e-9"), guaranteed=Decimal(0)),
        "huge": policies.Tier(name="huge", weight=Decimal("1e9"), guaranteed=Decimal(0))})
    dc = datacentre(pool(cpu=Decimal(10)))
    ts = (tenant("a", "tiny", {"p1": {CPU: Decimal(10)}}), tenant("b", "huge", {"p1": {CPU: Decimal(10)}}))
    plan = allocating.allocate(dc, tenants=ts, policy=policy, at=AT)
    a, b = plan.tenants["a"].shares["p1"], plan.tenants["b"].shares["p1"]
    # b's exact envelope is 9999.99999999999999990 millicores: floor 9999, plus the pool's one leftover unit.
    assert (a.envelope[CPU], b.envelope[CPU]) == (Decimal(0), Decimal(10))
    assert a.limited_by == b.limited_by == CPU  # neither reached its demand exactly
    assert a.fraction == Decimal(0)


# -- namespace quotas: floored to the unit, never rounded to nearest ------------------------------------


def test_namespace_quotas_are_floored_to_the_unit() -> None:
    # a's envelope is 5 cpu of its namespaces' 10: each quota is halved. 7m halves to 3.5m, which is
    # floored to 3m (half-even rounding would give 4m); 9993m halves to 4996.5m, floored to 4996m.
    dc = datacentre(pool(cpu=Decimal(10)))
    nss = (tenants.Namespace(name="a-x", pool="p1", quota={CPU: Decimal("0.007")}),
           tenants.Namespace(name="a-y", pool="p1", quota={CPU: Decimal("9.993")}))
    a = tenant("a", "startup", {"p1": {CPU: Decimal(20)}}, namespaces=nss)
    b = tenant("b", "startup", {"p1": {CPU: Decimal(20)}})
    plan = run(dc, a, b)
    assert plan.tenants["a"].shares["p1"].envelope[CPU] == 5
    granted = {ns.namespace: ns.granted[CPU] for ns in plan.namespaces}
    assert granted == {"a-x": Decimal("0.003"), "a-y": Decimal("4.996")}


def test_allocate_returns_every_warning_in_the_allocation() -> None:
    # A licence in grace, guarantees that do not fit, and namespaces scaled down: all in one list.
    dc = datacentre(pool(cpu=Decimal(10)))
    nss = (tenants.Namespace(name="s-x", pool="p1", quota={CPU: Decimal(20)}),)
    ts = (tenant("n", "national", {"p1": {CPU: Decimal(20)}}, expires=AT - dt.timedelta(days=1)),
          tenant("s", "standard", {"p1": {CPU: Decimal(20)}}, namespaces=nss))
    plan = run(dc, *ts)
    assert len(plan.warnings) == 3
    assert plan.warnings[0].startswith("tenant n: licence L-1 expired on 2026-11-26; served in grace")
    # Guarantees 10 + 4 of 10 cpu: scaled to 10/14 = 71.428…%, shown rounded down.
    assert plan.warnings[1] == ("pool p1: the tier guarantees do not all fit; every guarantee is scaled "
                                "to 71.42% of what the tiers promise")
    assert plan.warnings[2].startswith("tenant s: namespaces in pool p1 exceed the envelope")
