"""engine.reclaiming with hand-computed rows: need, the idle and coverage thresholds at their boundaries,
the proposed demand need ÷ served fraction, and what holds a proposal back.

Method defaults (domain.reclaim.Method): margin 0.15 on the peak of levels (memory, storage),
min_idle 0.20 of the envelope, min_coverage 0.80 of the window.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal

from dctenant.domain import allocations, reclaim, tenants
from dctenant.engine import reclaiming

METHOD = reclaim.Method()
GI = Decimal(2) ** 30


def unit(key: str) -> Decimal:
    return {"cpu": Decimal("0.001"), "memory": GI}.get(key, Decimal(1))


def allocation(*, envelope: Mapping[str, Decimal], demand: Mapping[str, Decimal],
               fraction: Decimal) -> allocations.Allocation:
    share = allocations.Share(pool="lab", demand=demand, envelope=envelope, fraction=fraction,
                              weighted_share=Decimal(0), dominant="cpu", limited_by=allocations.DEMAND, round=0)
    tenant = allocations.TenantAllocation(tenant="bale", licence=tenants.LicenceState.ACTIVE, weight=Decimal(1),
                                          guaranteed=Decimal(0), shares={"lab": share})
    return allocations.Allocation(at=dt.date(2026, 11, 1), pools={}, tenants={"bale": tenant}, namespaces=(),
                                  warnings=())


def row(key: str, *, envelope: str, demand: str, observed: str | None, coverage: str = "1", fraction: str = "1",
        floor: str | None = None) -> reclaim.Row:
    amounts = {key: Decimal(envelope)}
    observations = {("bale", "lab", key): reclaim.Observation(
        tenant="bale", pool="lab", resource=key, statistic=reclaiming.statistic(key),
        value=None if observed is None else Decimal(observed), coverage=Decimal(coverage))}
    floors = {} if floor is None else {("bale", "lab", key): Decimal(floor)}
    (only,) = reclaiming.rows(allocation(envelope=amounts, demand={key: Decimal(demand)}, fraction=Decimal(fraction)),
                              observations, method=METHOD, unit=unit, floors=floors)
    return only


def test_the_statistic_is_the_peak_for_levels_and_the_quantile_for_rates() -> None:
    assert [reclaiming.statistic(k) for k in ("cpu", "memory", "nvidia.com/gpu", "storage/ssd", "bandwidth/egress")] \
        == [reclaim.P95, reclaim.PEAK, reclaim.P95, reclaim.PEAK, reclaim.P95]


def test_cpu_need_is_the_p95_rounded_up_to_a_millicore_without_margin() -> None:
    r = row("cpu", envelope="10", demand="10", observed="2.0001")
    assert r.need == Decimal("2.001")  # 2.0001 → next millicore up; no margin on a rate
    assert r.proposed == Decimal("2.001") and r.held == ""
    assert (r.envelope, r.demand, r.observed, r.statistic) == (Decimal(10), Decimal(10), Decimal("2.0001"), reclaim.P95)


def test_memory_need_is_the_peak_plus_15_percent_rounded_up_to_a_gibibyte() -> None:
    r = row("memory", envelope=str(100 * GI), demand=str(100 * GI), observed=str(40 * GI))
    assert r.need == 46 * GI  # 40 Gi × 1.15 = 46 Gi exactly
    r = row("memory", envelope=str(100 * GI), demand=str(100 * GI), observed=str(40 * GI + 1))
    assert r.need == 47 * GI  # a byte more than 40 Gi: 46.0000000011 Gi → 47 Gi


def test_a_proposal_needs_at_least_a_fifth_of_the_envelope_idle() -> None:
    exactly = row("cpu", envelope="10", demand="10", observed="8")  # idle 2 = 0.20 × 10: enough
    assert exactly.proposed == Decimal(8)
    short = row("cpu", envelope="10", demand="10", observed="8.001")  # idle 1.999 < 2
    assert (short.need, short.proposed, short.held) == (Decimal("8.001"), None, "")


def test_a_proposal_needs_at_least_80_percent_coverage() -> None:
    assert row("cpu", envelope="10", demand="10", observed="4", coverage="0.80").proposed == Decimal(4)
    partial = row("cpu", envelope="10", demand="10", observed="4", coverage="0.7999")
    assert (partial.proposed, partial.held) == (None, "partial data")


def test_the_proposal_is_need_divided_by_the_served_fraction() -> None:
    # Served at half its demand of 20: envelope 10, need 3 → demand 6 keeps the envelope at 3.
    r = row("cpu", envelope="10", demand="20", observed="3", fraction="0.5")
    assert r.proposed == Decimal(6)
    # need ÷ f is rounded up to the unit: 3 ÷ 0.7 = 4.28571… → 4.286.
    assert row("cpu", envelope="10", demand="20", observed="3", fraction="0.7").proposed == Decimal("4.286")


def test_need_divided_by_the_fraction_at_or_above_the_demand_holds_as_served_fraction() -> None:
    # Need 5 at fraction 0.25: 20, exactly the demand: nothing to reclaim.
    r = row("cpu", envelope="10", demand="20", observed="5", fraction="0.25")
    assert (r.proposed, r.held) == (None, "served fraction")
    assert row("cpu", envelope="10", demand="20", observed="4.999", fraction="0.25").proposed == Decimal("19.996")


def test_a_tenant_served_nothing_keeps_its_demand() -> None:
    r = row("cpu", envelope="10", demand="20", observed="1", fraction="0")
    assert (r.proposed, r.held) == (None, "served fraction")


def test_namespace_quotas_are_the_floor() -> None:
    assert row("cpu", envelope="10", demand="10", observed="2", floor="5").proposed == Decimal(5)
    held = row("cpu", envelope="10", demand="10", observed="2", floor="10")  # the floor is the demand itself
    assert (held.proposed, held.held) == (None, "namespace quotas")
    assert row("cpu", envelope="10", demand="10", observed="2", floor="1.999").proposed == Decimal(2)


def test_no_data_is_no_need_and_no_proposal() -> None:
    r = row("cpu", envelope="10", demand="10", observed=None, coverage="0")
    assert (r.observed, r.need, r.proposed, r.held, r.coverage) == (None, None, None, "", Decimal(0))


def test_an_unobserved_resource_has_zero_coverage_and_an_empty_envelope_no_proposal() -> None:
    alloc = allocation(envelope={"cpu": Decimal(0), "memory": GI}, demand={"cpu": Decimal(1), "memory": GI},
                       fraction=Decimal(1))
    observations = {("bale", "lab", "cpu"): reclaim.Observation(
        tenant="bale", pool="lab", resource="cpu", statistic=reclaim.P95, value=Decimal(0), coverage=Decimal(1))}
    cpu, memory = reclaiming.rows(alloc, observations, method=METHOD, unit=unit, floors={})
    assert (cpu.resource, cpu.need, cpu.proposed) == ("cpu", Decimal(0), None)  # envelope 0: nothing to reclaim
    assert (memory.resource, memory.observed, memory.coverage, memory.proposed) == ("memory", None, Decimal(0), None)


def test_a_row_names_its_tenant_pool_and_resource() -> None:
    r = row("cpu", envelope="10", demand="10", observed="2")
    assert (r.tenant, r.pool, r.resource) == ("bale", "lab", "cpu")


def test_without_declared_namespaces_the_floor_is_zero() -> None:
    # Need half a core of a 10-core envelope: the proposal is 0.5, not some minimum of one unit.
    assert row("cpu", envelope="10", demand="10", observed="0.5").proposed == Decimal("0.5")


def test_an_envelope_without_a_demand_counts_the_demand_as_zero() -> None:
    # Nothing to lower below a demand of 0: the (zero) floor already reaches it.
    alloc = allocation(envelope={"cpu": Decimal(10)}, demand={}, fraction=Decimal(1))
    observations = {("bale", "lab", "cpu"): reclaim.Observation(
        tenant="bale", pool="lab", resource="cpu", statistic=reclaim.P95, value=Decimal(2), coverage=Decimal(1))}
    (r,) = reclaiming.rows(alloc, observations, method=METHOD, unit=unit, floors={})
    assert (r.demand, r.need, r.proposed, r.held) == (Decimal(0), Decimal(2), None, "namespace quotas")
