"""The domain-level allocator: licences, rounding to whole units, namespaces and the plan's JSON."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given, settings
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


@settings(deadline=None, max_examples=150)
@given(estates())
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
