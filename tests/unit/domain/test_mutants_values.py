"""Small domain values by hand: pools' allocatable, unit amounts, allocation states, what-if wording, policy units."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from dctenant.domain import allocations, policies, pools, resources, tenants, whatif

D = Decimal


def test_allocatable_is_capacity_times_overcommit_less_reserve_never_below_zero() -> None:
    pool = pools.Pool(name="p", site="s", context="c", capacity={"cpu": D(10), "memory": D(8), "nvidia.com/gpu": D(2)},
                      reserve={"cpu": D(2), "nvidia.com/gpu": D(3)}, overcommit={"cpu": D("1.5")})
    assert pool.allocatable("cpu") == D(13)  # 10 × 1.5 − 2
    assert pool.allocatable("memory") == D(8)  # no overcommit, no reserve
    assert pool.allocatable("nvidia.com/gpu") == D(0)  # 2 − 3 is below zero
    assert pool.allocatable("bandwidth/egress") == D(0)  # not in the pool
    assert pool.has("memory") and not pool.has("bandwidth/egress")
    assert pool.resources == ("cpu", "memory", "nvidia.com/gpu")
    assert pool.cluster_value == "p"
    assert pools.Pool(name="p", site="s", context="c", capacity={}, cluster="thr-1").cluster_value == "thr-1"


def test_a_data_centre_finds_its_pools_by_name() -> None:
    a = pools.Pool(name="a", site="s", context="c", capacity={})
    b = pools.Pool(name="b", site="s", context="c", capacity={})
    dc = pools.DataCentre(name="dc", display_name=pools.DisplayName(en="dc", fa="dc"), storage_classes=(), pools=(b, a))
    assert dc.pool("a") is a and dc.pool("b") is b
    assert dc.pool_names == ("b", "a")
    with pytest.raises(KeyError):
        dc.pool("c")
    assert dc.metrics == pools.Metrics(cluster_label="cluster", egress="")


def test_unit_amounts_read_their_own_row() -> None:
    index = {"cpu": 0, "memory": 1}
    units = (D("0.001"), D(2**20))
    counts = [1, 2, 1500, 3]  # two tenants' rows, each of two counts
    second = allocations.UnitAmounts(index=index, units=units, counts=counts, start=2)
    assert dict(second) == {"cpu": D("1.5"), "memory": D(3 * 2**20)}
    assert len(second) == 2 and list(second) == ["cpu", "memory"]
    assert repr(allocations.UnitAmounts(index={"cpu": 0}, units=(D(1),), counts=[4])) == (
        "UnitAmounts({'cpu': Decimal('4')})")


def _share(envelope: dict[str, Decimal], demand: dict[str, Decimal]) -> allocations.Share:
    return allocations.Share(pool="p", demand=demand, envelope=envelope, fraction=D(1), weighted_share=D(0),
                             dominant="cpu", limited_by=allocations.DEMAND, round=0)


def test_quick_values_equal_the_ordinary_ones() -> None:
    fields = {"pool": "p", "demand": {"cpu": D(2)}, "envelope": {"cpu": D(1)}, "fraction": D("0.5"),
              "weighted_share": D("0.25"), "dominant": "cpu", "limited_by": "cpu", "round": 3}
    assert allocations.Share.quick(**fields) == allocations.Share(**fields)  # type: ignore[arg-type]
    share = allocations.Share(**fields)  # type: ignore[arg-type]
    tenant = {"tenant": "t", "licence": tenants.LicenceState.GRACE, "weight": D(2), "guaranteed": D("0.1"),
              "shares": {"p": share}}
    assert allocations.TenantAllocation.quick(**tenant) == allocations.TenantAllocation(**tenant)  # type: ignore[arg-type]


def test_short_scaled_and_shortfall_exactly_at_the_demand() -> None:
    assert not _share({"cpu": D(2)}, {"cpu": D(2)}).short
    assert _share({"cpu": D("1.999")}, {"cpu": D(2)}).short
    assert _share({}, {"cpu": D(2)}).short
    assert not _share({}, {"cpu": D(0)}).short
    quota = allocations.NamespaceQuota(tenant="t", namespace="n", pool="p", requested={"cpu": D(2), "memory": D(1)},
                                       granted={"cpu": D(2), "memory": D(1)})
    assert not quota.scaled
    assert allocations.NamespaceQuota(tenant="t", namespace="n", pool="p", requested={"cpu": D(2)},
                                      granted={}).scaled

    def allocation(*shares: allocations.Share) -> allocations.Allocation:
        return allocations.Allocation(at=dt.date(2026, 11, 30), pools={}, namespaces=(), warnings=(), tenants={
            f"t{i}": allocations.TenantAllocation(tenant=f"t{i}", licence=tenants.LicenceState.ACTIVE, weight=D(1),
                                                  guaranteed=D(0), shares={"p": s}) for i, s in enumerate(shares)})

    full = _share({"cpu": D(2)}, {"cpu": D(2)})
    assert not allocation(full, full).shortfall
    assert allocation(full, _share({"cpu": D(1)}, {"cpu": D(2)})).shortfall


@pytest.mark.parametrize(("licence", "state"), [
    (tenants.LicenceState.ACTIVE, "allocated"), (tenants.LicenceState.EXPIRING, "allocated"),
    (tenants.LicenceState.GRACE, "grace"), (tenants.LicenceState.EXPIRED, "suspended"),
    (tenants.LicenceState.SUSPENDED, "suspended"), (tenants.LicenceState.REVOKED, "suspended"),
])
def test_a_tenants_state_follows_its_licence(licence: tenants.LicenceState, state: str) -> None:
    allocation = allocations.TenantAllocation(tenant="t", licence=licence, weight=D(1), guaranteed=D(0), shares={})
    assert allocation.state == state


@pytest.mark.parametrize(("change", "text"), [
    (whatif.Change(op=whatif.REMOVE_TENANT, argument="bale", location="c.yaml:3"), "removeTenant bale"),
    (whatif.Change(op=whatif.SET_DEMAND, argument={"tenant": "bale", "pool": "p", "name": 3}, location=""),
     "setDemand tenant=bale pool=p"),
    (whatif.Change(op=whatif.SET_TIER, argument={"name": "n", "tenant": "t"}, location=""), "setTier name=n tenant=t"),
    (whatif.Change(op=whatif.ADD_TENANT, argument={"metadata": {"name": "new"}, "tenant": "x"}, location=""),
     "addTenant name=new"),
    (whatif.Change(op=whatif.ADD_TENANT, argument={"tenant": "x"}, location=""), "addTenant tenant=x"),
    (whatif.Change(op=whatif.ADD_POOL, argument={"name": "p9", "tenant": "x"}, location=""), "addPool name=p9"),
    (whatif.Change(op=whatif.SET_LICENCE, argument={}, location=""), "setLicence"),
])
def test_a_what_if_change_describes_itself(change: whatif.Change, text: str) -> None:
    assert change.describe() == text


def test_an_envelope_change_in_numbers() -> None:
    shrunk = whatif.EnvelopeChange(tenant="t", pool="p", resource="cpu", before=D(4), after=D(3))
    assert (shrunk.delta, shrunk.ratio) == (D(-1), D("-0.25"))
    new = whatif.EnvelopeChange(tenant="t", pool="p", resource="cpu", before=None, after=D(3))
    assert (new.delta, new.ratio) == (D(3), None)
    gone = whatif.EnvelopeChange(tenant="t", pool="p", resource="cpu", before=D(2), after=None)
    assert (gone.delta, gone.ratio) == (D(-2), D(-1))
    assert whatif.EnvelopeChange(tenant="t", pool="p", resource="cpu", before=D(0), after=D(1)).ratio is None


def test_policy_units_and_isolation() -> None:
    tier = policies.Tier(name="gold", weight=D(2), guaranteed=D("0.5"))
    policy = policies.Policy(name="p", tiers={"gold": tier}, granularity={resources.Kind.CPU: D("0.5")})
    assert policy.unit("cpu") == D("0.5")
    assert policy.unit("memory") == policies.DEFAULT_GRANULARITY[resources.Kind.MEMORY]
    assert policy.isolation("gold") is tier.isolation
    assert policy.isolation("other") == policies.Isolation()
    assert not policies.Enforcer().enabled
    assert policies.Enforcer(prometheus_url="http://p").enabled
