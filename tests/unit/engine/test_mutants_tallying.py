"""engine.tallying figure by figure: allocation, usage, traffic, violations and licence sections.

Every input is a hand-built value and every expected cell is worked out by hand in the comments
(fractions to six places, means to the millicore); the column keys, titles and kinds are the
reports' published wording, pinned so that changing one is a decision and not an accident.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from dctenant.domain import allocations, audit_events, periods, policies, pools, quotas, reports, snapshots, tenants
from dctenant.engine import tallying

D = Decimal
C = reports.Column
CPU, MEM = "cpu", "memory"
UTC = dt.UTC
NOVEMBER = periods.parse("2026-11")


def _tenant(tid: str, tier: str, *, expires: dt.date = dt.date(2027, 1, 1),
            status: tenants.LicenceStatus = tenants.LicenceStatus.ACTIVE) -> tenants.Tenant:
    return tenants.Tenant(id=tid, display_name=pools.DisplayName(en=f"{tid}-en", fa=f"{tid}-fa"), tier=tier,
                          licence=tenants.Licence(number=f"L-{tid}", issued=dt.date(2025, 1, 2), expires=expires,
                                                  status=status),
                          owners=tenants.Owners(groups=("g",)), demand={})


def _model(*members: tenants.Tenant) -> quotas.Quotas:
    policy = policies.Policy(name="p", tiers={}, licences=policies.LicenceRules(warning_days=30, grace_days=14))
    dc = pools.DataCentre(name="dc", display_name=pools.DisplayName(en="dc", fa="dc"), storage_classes=(), pools=())
    return quotas.Quotas(datacentre=dc, policy=policy, tenants=members)


def _share(pool: str, demand: dict[str, Decimal], envelope: dict[str, Decimal]) -> allocations.Share:
    return allocations.Share(pool=pool, demand=demand, envelope=envelope, fraction=D(1), weighted_share=D(0),
                             dominant=CPU, limited_by=CPU, round=0)


def _resource(key: str, capacity: int, reserve: int, allocated: int) -> allocations.PoolResource:
    return allocations.PoolResource(key=key, capacity=D(capacity), reserve=D(reserve),
                                    allocatable=D(capacity - reserve), allocated=D(allocated), saturated=False)


# -- allocation ------------------------------------------------------------------------------------

def test_allocation_rows_pools_and_cpu_chart() -> None:
    model = _model(_tenant("a", "national"), _tenant("b", "startup"))
    result = allocations.Allocation(
        at=dt.date(2026, 11, 30),
        pools={"p": allocations.PoolAllocation(name="p", resources=(_resource(CPU, 10, 2, 6), _resource(MEM, 64, 0, 8)),
                                               guarantee_scale=D(1), rounds=1),
               "q": allocations.PoolAllocation(name="q", resources=(_resource(CPU, 4, 0, 1),),
                                               guarantee_scale=D(1), rounds=1)},
        tenants={
            "b": allocations.TenantAllocation(tenant="b", licence=tenants.LicenceState.SUSPENDED, weight=D(1),
                                              guaranteed=D(0), shares={"q": _share("q", {CPU: D(1)}, {})}),
            "a": allocations.TenantAllocation(
                tenant="a", licence=tenants.LicenceState.ACTIVE, weight=D(4), guaranteed=D("0.5"),
                shares={"p": _share("p", {MEM: D(16), CPU: D(4), "nvidia.com/gpu": D(1)}, {CPU: D(4), MEM: D(8)}),
                        "q": _share("q", {CPU: D(1)}, {CPU: D(1)})}),
        },
        namespaces=(), warnings=())
    tenants_section, pools_section = tallying.allocation(model, result)
    assert tenants_section.name == "tenants" and tenants_section.title == "Envelopes per tenant, pool and resource"
    # b first (the allocation's order); within a pool cpu, memory, GPU. Shares of the pool's allocatable:
    # 4/8 = 0.5, 8/64 = 0.125, the GPU has none in the pool (no share), 1/4 = 0.25; b has no envelope: 0/4 = 0.
    assert tenants_section.rows == (
        {"tenant": "b", "pool": "q", "tier": "startup", "guaranteed": "0", "state": "suspended", "resource": CPU,
         "demand": "1", "envelope": "0", "capacityShare": "0", "limitedBy": CPU},
        {"tenant": "a", "pool": "p", "tier": "national", "guaranteed": "0.5", "state": "allocated", "resource": CPU,
         "demand": "4", "envelope": "4", "capacityShare": "0.5", "limitedBy": CPU},
        {"tenant": "a", "pool": "p", "tier": "national", "guaranteed": "0.5", "state": "allocated", "resource": MEM,
         "demand": "16", "envelope": "8", "capacityShare": "0.125", "limitedBy": CPU},
        {"tenant": "a", "pool": "p", "tier": "national", "guaranteed": "0.5", "state": "allocated",
         "resource": "nvidia.com/gpu", "demand": "1", "envelope": "0", "capacityShare": None, "limitedBy": CPU},
        {"tenant": "a", "pool": "q", "tier": "national", "guaranteed": "0.5", "state": "allocated", "resource": CPU,
         "demand": "1", "envelope": "1", "capacityShare": "0.25", "limitedBy": CPU},
    )
    assert tenants_section.columns == (
        C(key="tenant", title="Tenant", kind=reports.NAME), C(key="pool", title="Pool"), C(key="tier", title="Tier"),
        C(key="guaranteed", title="Guarantee", kind=reports.FRACTION), C(key="state", title="State"),
        C(key="resource", title="Resource"), C(key="demand", title="Demand", kind=reports.AMOUNT),
        C(key="envelope", title="Envelope", kind=reports.AMOUNT),
        C(key="capacityShare", title="Share of pool", kind=reports.FRACTION), C(key="limitedBy", title="Bottleneck"))
    # The data centre's allocatable CPU is 8 + 4 = 12: a holds 5/12 of it, b nothing.
    assert tenants_section.chart == reports.Chart(
        title="Share of the data centre's allocatable CPU", unit="fraction",
        bars=(reports.Bar(label="b", value=0.0), reports.Bar(label="a", value=5 / 12)))
    assert pools_section.name == "pools" and pools_section.title == "Pools"
    assert pools_section.rows == (
        {"pool": "p", "resource": CPU, "capacity": "10", "reserve": "2", "allocatable": "8", "allocated": "6",
         "free": "2"},
        {"pool": "p", "resource": MEM, "capacity": "64", "reserve": "0", "allocatable": "64", "allocated": "8",
         "free": "56"},
        {"pool": "q", "resource": CPU, "capacity": "4", "reserve": "0", "allocatable": "4", "allocated": "1",
         "free": "3"},
    )
    assert pools_section.columns == (
        C(key="pool", title="Pool"), C(key="resource", title="Resource"),
        C(key="capacity", title="Capacity", kind=reports.AMOUNT),
        C(key="reserve", title="Reserve", kind=reports.AMOUNT),
        C(key="allocatable", title="Allocatable", kind=reports.AMOUNT),
        C(key="allocated", title="Allocated", kind=reports.AMOUNT), C(key="free", title="Free", kind=reports.AMOUNT))
    assert pools_section.chart is None


def test_allocation_without_cpu_draws_zero_bars() -> None:
    result = allocations.Allocation(
        at=dt.date(2026, 11, 30),
        pools={"p": allocations.PoolAllocation(name="p", resources=(_resource(MEM, 8, 0, 8),), guarantee_scale=D(1),
                                               rounds=1)},
        tenants={"a": allocations.TenantAllocation(tenant="a", licence=tenants.LicenceState.ACTIVE, weight=D(1),
                                                   guaranteed=D(0),
                                                   shares={"p": _share("p", {MEM: D(8)}, {MEM: D(8)})})},
        namespaces=(), warnings=())
    (tenants_section, _) = tallying.allocation(_model(_tenant("a", "startup")), result)
    assert tenants_section.chart is not None
    assert tenants_section.chart.bars == (reports.Bar(label="a", value=0.0),)
    assert tenants_section.rows[0]["capacityShare"] == "1"


def test_fractions_to_six_places() -> None:
    # Half-even at the sixth place: 2/3 = 0.6666666… → 0.666667; 1/3 → 0.333333; 1/8 exactly 0.125.
    envelopes = {dt.date(2026, 11, 1): {("t", "p", CPU): D(3)}}
    rows = [tallying.usage(envelopes, [snapshots.Rollup(tenant="t", pool="p", resource=CPU, stat="avg", value=v),
                                       snapshots.Rollup(tenant="t", pool="p", resource=CPU, stat="coverage",
                                                        value="1")])[0].rows[0]["utilisation"]
            for v in ("2", "1", "0.375")]
    assert rows == ["0.666667", "0.333333", "0.125"]


# -- combine ---------------------------------------------------------------------------------------

def _r(tenant: str, stat: str, value: str, *, day: str = "", resource: str = CPU) -> snapshots.Rollup:
    return snapshots.Rollup(tenant=tenant, pool="p", resource=resource, stat=stat, value=value, day=day)


def test_one_month_is_passed_through_untouched() -> None:
    rollups = [_r("a", "avg", "2.50"), _r("a", "p95", "7")]  # no coverage: combining would add one
    assert tallying.combine([(NOVEMBER, rollups)]) == tuple(rollups)


def test_combine_takes_maxima_sums_totals_and_weighs_only_covered_time() -> None:
    september, october = periods.parse("2026-09"), periods.parse("2026-10")  # 30 and 31 days
    combined = tallying.combine([
        (september, [_r("a", "p95", "5"), _r("a", "max", "9"), _r("a", "avg", "100"), _r("a", "coverage", "0"),
                     _r("a", "day-max", "4", day="2026-09-30"), _r("b", "p95", "3")]),
        (october, [_r("a", "p95", "6"), _r("a", "max", "8"), _r("a", "avg", "2"),
                   _r("a", "day-max", "7", day="2026-10-01"), _r("a", "total", "5"), _r("a", "total", "6")]),
    ])
    # a: September's average has no covered time (coverage 0), so only October's 2 counts; October has
    # figures but no stored coverage: whole, so 31 of 61 days (0.508197). b: a p95 alone is no data.
    assert combined == (
        _r("a", "avg", "2"), _r("a", "coverage", "0.508197"), _r("a", "day-max", "4", day="2026-09-30"),
        _r("a", "day-max", "7", day="2026-10-01"), _r("a", "max", "9"), _r("a", "p95", "6"), _r("a", "total", "6"),
        _r("b", "coverage", "0"), _r("b", "p95", "3"),
    )


def test_combine_keeps_the_largest_day_maximum_and_counts_a_total_alone_as_data() -> None:
    september, october = periods.parse("2026-09"), periods.parse("2026-10")
    combined = tallying.combine([
        (september, [_r("a", "day-max", "4", day="2026-10-01"), _r("a", "total", "1")]),
        (october, [_r("a", "day-max", "3", day="2026-10-01"), _r("a", "max", "1")]),
    ])
    assert combined == (_r("a", "coverage", "1"), _r("a", "day-max", "4", day="2026-10-01"), _r("a", "max", "1"),
                        _r("a", "total", "1"))


# -- usage -----------------------------------------------------------------------------------------

def test_mean_envelopes_count_shared_days_once_each() -> None:
    shared = {("t", "p", CPU): D(1)}
    other = {("t", "p", CPU): D(0), ("u", "p", CPU): D(2)}
    means = tallying.mean_envelopes({dt.date(2026, 11, 1): shared, dt.date(2026, 11, 2): shared,
                                     dt.date(2026, 11, 3): other})
    assert means == {("t", "p", CPU): D("0.667"), ("u", "p", CPU): D("0.667")}  # 2/3 and 2/3
    assert tallying.mean_envelopes({}) == {}
    assert str(tallying.mean_envelopes({dt.date(2026, 11, 1): {("t", "p", CPU): D("2.000")}})[("t", "p", CPU)]) == "2"


def test_usage_rows_idle_rows_and_chart() -> None:
    day1, day2 = dt.date(2026, 11, 1), dt.date(2026, 11, 2)
    a_cpu, a_mem, a_cpu_q, b_cpu, z_cpu = ("a", "p", CPU), ("a", "p", MEM), ("a", "q", CPU), ("b", "p", CPU), (
        "z", "p", CPU)
    envelopes = {day1: {a_cpu: D(4), a_mem: D(8), a_cpu_q: D(2), b_cpu: D(2), z_cpu: D(0)},
                 day2: {a_cpu: D(4), a_mem: D(8), a_cpu_q: D(2), b_cpu: D(2), z_cpu: D(0)}}
    rollups = [
        _r("a", "avg", "1"), _r("a", "p95", "3"), _r("a", "max", "5"),  # no coverage stored: whole
        _r("a", "day-max", "5", day="2026-11-01"), _r("a", "day-max", "4", day="2026-11-02"),
        _r("a", "day-max", "1", day="2026-11-03"),  # a day without an envelope: any use is over
        _r("a", "avg", "2", resource=MEM), _r("a", "coverage", "0.5", resource=MEM),
        snapshots.Rollup(tenant="a", pool="q", resource=CPU, stat="avg", value="4"),
        snapshots.Rollup(tenant="a", pool="q", resource=CPU, stat="coverage", value="1"),
        _r("b", "coverage", "1"),  # a coverage without an average is no data
        _r("a", "total", "99", resource="traffic/egress"),  # traffic is not usage
    ]
    usage, idle = tallying.usage(envelopes, rollups)
    assert usage.name == "usage" and usage.title == "Usage per tenant, pool and resource"
    # Order: tenant, pool, resource in reading order; z (envelope 0, no data) has no row.
    assert usage.rows == (
        {"tenant": "a", "pool": "p", "resource": CPU, "envelope": "4", "coverage": "1", "status": "complete",
         "average": "1", "p95": "3", "maximum": "5", "utilisation": "0.25", "daysWithData": 3, "daysOver": 2},
        {"tenant": "a", "pool": "p", "resource": MEM, "envelope": "8", "coverage": "0.5", "status": "partial",
         "average": "2", "p95": None, "maximum": None, "utilisation": "0.25", "daysWithData": 0, "daysOver": None},
        {"tenant": "a", "pool": "q", "resource": CPU, "envelope": "2", "coverage": "1", "status": "complete",
         "average": "4", "p95": None, "maximum": None, "utilisation": "2", "daysWithData": 0, "daysOver": None},
        {"tenant": "b", "pool": "p", "resource": CPU, "envelope": "2", "coverage": "0", "status": "no data",
         "average": None, "p95": None, "maximum": None, "utilisation": None, "daysWithData": 0, "daysOver": None},
    )
    assert usage.columns == (
        C(key="tenant", title="Tenant", kind=reports.NAME), C(key="pool", title="Pool"),
        C(key="resource", title="Resource"), C(key="envelope", title="Envelope (mean)", kind=reports.AMOUNT),
        C(key="coverage", title="Data", kind=reports.COVERAGE),
        C(key="average", title="Average", kind=reports.AMOUNT), C(key="p95", title="p95", kind=reports.AMOUNT),
        C(key="maximum", title="Maximum", kind=reports.AMOUNT),
        C(key="utilisation", title="Utilisation", kind=reports.FRACTION),
        C(key="daysWithData", title="Days with data", kind=reports.INTEGER),
        C(key="daysOver", title="Days over", kind=reports.INTEGER), C(key="status", title="Status"))
    # Idle per tenant and resource over its pools: a's cpu 4 + 2 = 6 envelope, 1 + 4 = 5 used, 1 idle (1/6);
    # a's memory 8 − 2 = 6 idle (0.75), coverage the least of its rows; b's cpu has no data.
    assert idle.name == "idle" and idle.title == "Idle envelope per tenant (allocated but unused on average)"
    assert idle.rows == (
        {"tenant": "a", "resource": CPU, "envelope": "6", "coverage": "1", "status": "complete", "average": "5",
         "idle": "1", "idleShare": "0.166667"},
        {"tenant": "a", "resource": MEM, "envelope": "8", "coverage": "0.5", "status": "partial", "average": "2",
         "idle": "6", "idleShare": "0.75"},
        {"tenant": "b", "resource": CPU, "envelope": "2", "coverage": "0", "status": "no data", "average": None,
         "idle": None, "idleShare": None},
    )
    assert idle.columns == (
        C(key="tenant", title="Tenant", kind=reports.NAME), C(key="resource", title="Resource"),
        C(key="envelope", title="Envelope (mean)", kind=reports.AMOUNT),
        C(key="coverage", title="Data", kind=reports.COVERAGE), C(key="average", title="Average", kind=reports.AMOUNT),
        C(key="idle", title="Idle", kind=reports.AMOUNT), C(key="idleShare", title="Idle share", kind=reports.FRACTION),
        C(key="status", title="Status"))
    assert usage.chart == reports.Chart(title="CPU utilisation (average / envelope)", unit="fraction",
                                        bars=(reports.Bar(label="a", value=5 / 6),))


def test_usage_above_the_envelope_idles_nothing_and_a_zero_envelope_draws_no_bar() -> None:
    envelopes = {dt.date(2026, 11, 1): {("a", "p", CPU): D(2)}}
    rollups = [_r("a", "avg", "3"), _r("a", "coverage", "1"), _r("z", "avg", "1"), _r("z", "coverage", "1")]
    usage, idle = tallying.usage(envelopes, rollups)
    assert [r["tenant"] for r in usage.rows] == ["a", "z"]
    assert idle.rows[0]["idle"] == "0" and idle.rows[0]["idleShare"] == "0"
    assert idle.rows[1]["envelope"] == "0" and idle.rows[1]["idleShare"] is None  # z: no envelope at all
    assert usage.rows[1]["utilisation"] is None
    assert usage.chart is not None and usage.chart.bars == (reports.Bar(label="a", value=1.5),)


# -- traffic ---------------------------------------------------------------------------------------

def test_traffic_totals_shares_and_coverage() -> None:
    eg, ing = snapshots.TRAFFIC_EGRESS, snapshots.TRAFFIC_INGRESS
    rollups = [
        _r("b", "total", "100", resource=eg), _r("b", "total", "50", resource=eg),  # 150 egress
        _r("b", "coverage", "0.5", resource=eg), _r("b", "coverage", "0.8", resource=eg),
        _r("b", "coverage", "0.1", resource=ing),  # ingress coverage is not the row's
        _r("b", "max", "999", resource=eg),  # not a total
        _r("a", "total", "50", resource=eg), _r("a", "total", "30", resource=ing),
        _r("c", "total", "40", resource=ing),  # ingress only: no egress, so no data
        _r("a", "total", "7", resource=CPU),  # not traffic
    ]
    (section,) = tallying.traffic(rollups, tenants=["d"])
    assert section.name == "traffic" and section.title == "Traffic per tenant"
    # Egress 150 + 50 = 200: b 0.75, a 0.25; ingress 30 + 40 = 70: a 3/7, c 4/7.
    assert section.rows == (
        {"tenant": "a", "coverage": "1", "status": "complete", "egressBytes": "50", "ingressBytes": "30",
         "egressShare": "0.25", "ingressShare": "0.428571"},
        {"tenant": "b", "coverage": "0.5", "status": "partial", "egressBytes": "150", "ingressBytes": None,
         "egressShare": "0.75", "ingressShare": None},
        {"tenant": "c", "coverage": "0", "status": "no data", "egressBytes": None, "ingressBytes": "40",
         "egressShare": None, "ingressShare": "0.571429"},
        {"tenant": "d", "coverage": "0", "status": "no data", "egressBytes": None, "ingressBytes": None,
         "egressShare": None, "ingressShare": None},
    )
    assert section.columns == (
        C(key="tenant", title="Tenant", kind=reports.NAME), C(key="coverage", title="Data", kind=reports.COVERAGE),
        C(key="egressBytes", title="Egress", kind=reports.BYTES),
        C(key="ingressBytes", title="Ingress", kind=reports.BYTES),
        C(key="egressShare", title="Egress share", kind=reports.FRACTION),
        C(key="ingressShare", title="Ingress share", kind=reports.FRACTION), C(key="status", title="Status"))
    assert section.chart == reports.Chart(title="Share of egress traffic", unit="fraction",
                                          bars=(reports.Bar(label="a", value=0.25), reports.Bar(label="b", value=0.75)))


def test_traffic_of_zero_bytes_has_no_share_and_no_bars() -> None:
    (section,) = tallying.traffic([_r("a", "total", "0", resource=snapshots.TRAFFIC_EGRESS)])
    assert section.rows[0]["egressBytes"] == "0" and section.rows[0]["egressShare"] is None
    assert section.chart is not None and section.chart.bars == ()


# -- violations ------------------------------------------------------------------------------------

def _event(seq: int, at: dt.datetime, kind: str, after: object, *, tenant: str = "t", resource: str = CPU,
           reason: str = "r") -> audit_events.LedgerEvent:
    return audit_events.LedgerEvent(seq=seq, at=at, kind=kind, actor=f"actor{seq}",
                                    subject={"tenant": tenant, "pool": "p", "resource": resource},
                                    before=None, after=after, reason=reason, prev_hash="0" * 64, hash=f"{seq:064x}")


def _at(day: int, hour: int = 0) -> dt.datetime:
    return dt.datetime(2026, 11, day, hour, tzinfo=UTC)


TAKEN, UNDONE, DECIDED = audit_events.ACTION_TAKEN, audit_events.ACTION_UNDONE, audit_events.ENFORCEMENT_DECISION


def test_violations_in_the_period_with_durations_until_undone() -> None:
    events = [
        _event(1, dt.datetime(2026, 10, 31, 23, tzinfo=UTC), TAKEN, {"action": "throttle"}),  # before the period
        _event(2, _at(1), TAKEN, {"action": "throttle"}),  # at the start: in; undone by 5, the first undo after it
        _event(3, dt.datetime(2026, 10, 31, 22, tzinfo=UTC), UNDONE, {"action": "undo-throttle"}),  # before it
        _event(4, _at(2), DECIDED, {"decision": "breach", "action": "scale"}),  # "action" is read first
        _event(5, _at(3), UNDONE, {"action": "undo-throttle"}),
        _event(55, _at(4), UNDONE, {"action": "undo-throttle"}),
        _event(6, _at(5), TAKEN, {"state": "suspended"}, tenant="u"),  # undone at the same instant: 0 s
        _event(7, _at(5), UNDONE, {"state": "suspended"}, tenant="u"),
        _event(8, _at(6), TAKEN, {"cpu": "2", "nested": {"x": 1}, "a": 1}, tenant="u"),  # never undone
        _event(9, _at(7), audit_events.QUOTA_CHANGED, {"action": "x"}),  # not a violation kind
        _event(10, dt.datetime(2026, 12, 1, tzinfo=UTC), TAKEN, {"action": "late"}),  # at the end: out
    ]
    now = _at(10)
    (section,) = tallying.violations(events, period=NOVEMBER, now=now)
    assert section.name == "violations" and section.title == "Breaches, decisions and actions"
    base = {"pool": "p", "resource": CPU, "reason": "r"}
    assert section.rows == (
        base | {"seq": 2, "at": "2026-11-01T00:00:00.000000Z", "tenant": "t", "kind": TAKEN, "detail": "throttle",
                "durationSeconds": 2 * 86400, "ongoing": False, "actor": "actor2"},
        base | {"seq": 4, "at": "2026-11-02T00:00:00.000000Z", "tenant": "t", "kind": DECIDED, "detail": "scale",
                "durationSeconds": None, "ongoing": False, "actor": "actor4"},
        base | {"seq": 5, "at": "2026-11-03T00:00:00.000000Z", "tenant": "t", "kind": UNDONE,
                "detail": "undo-throttle", "durationSeconds": None, "ongoing": False, "actor": "actor5"},
        base | {"seq": 55, "at": "2026-11-04T00:00:00.000000Z", "tenant": "t", "kind": UNDONE,
                "detail": "undo-throttle", "durationSeconds": None, "ongoing": False, "actor": "actor55"},
        base | {"seq": 6, "at": "2026-11-05T00:00:00.000000Z", "tenant": "u", "kind": TAKEN, "detail": "suspended",
                "durationSeconds": 0, "ongoing": False, "actor": "actor6"},
        base | {"seq": 7, "at": "2026-11-05T00:00:00.000000Z", "tenant": "u", "kind": UNDONE,
                "detail": "suspended", "durationSeconds": None, "ongoing": False, "actor": "actor7"},
        # Still on at "now" (before the period's end): 4 days so far. The detail lists plain fields only.
        base | {"seq": 8, "at": "2026-11-06T00:00:00.000000Z", "tenant": "u", "kind": TAKEN, "detail": "a=1, cpu=2",
                "durationSeconds": 4 * 86400, "ongoing": True, "actor": "actor8"},
    )
    assert section.columns == (
        C(key="seq", title="Event", kind=reports.INTEGER), C(key="at", title="Time", kind=reports.TIME),
        C(key="tenant", title="Tenant", kind=reports.NAME), C(key="pool", title="Pool"),
        C(key="resource", title="Resource"), C(key="kind", title="Kind"), C(key="detail", title="Decision / action"),
        C(key="reason", title="Reason"), C(key="durationSeconds", title="Duration", kind=reports.DURATION),
        C(key="ongoing", title="Ongoing"), C(key="actor", title="Actor"))
    assert section.chart == reports.Chart(title="Actions taken per tenant", unit="count",
                                          bars=(reports.Bar(label="t", value=1.0), reports.Bar(label="u", value=2.0)))


def test_an_action_never_undone_lasts_until_the_period_ends_when_now_is_later() -> None:
    events = [_event(1, _at(30), TAKEN, "throttle"), _event(2, _at(30, 1), DECIDED, None),
              _event(3, _at(30, 2), DECIDED, 7)]
    (section,) = tallying.violations(events, period=NOVEMBER, now=dt.datetime(2027, 1, 1, tzinfo=UTC))
    assert [(r["detail"], r["durationSeconds"], r["ongoing"]) for r in section.rows] == [
        ("throttle", 86400, True), ("", None, False), ("7", None, False)]


def test_an_event_without_a_subject_field_reads_as_empty() -> None:
    event = audit_events.LedgerEvent(seq=1, at=_at(2), kind=DECIDED, actor="a", subject={}, before=None,
                                     after={"x": "1"}, reason="", prev_hash="0" * 64, hash="1" * 64)
    (section,) = tallying.violations([event], period=NOVEMBER, now=_at(3))
    row = section.rows[0]
    assert (row["tenant"], row["pool"], row["resource"], row["detail"]) == ("", "", "", "x=1")


# -- licences and the report -----------------------------------------------------------------------

def test_licences_on_a_day_with_the_actions_taken() -> None:
    model = _model(_tenant("b", "startup", expires=dt.date(2026, 11, 20)),
                   _tenant("a", "national", expires=dt.date(2026, 12, 30)),
                   _tenant("c", "startup", status=tenants.LicenceStatus.SUSPENDED))
    events = [
        _event(1, _at(1), audit_events.LICENCE_CHANGED, {"status": "x"}, tenant="b"),
        _event(2, _at(2), TAKEN, {"action": "suspend"}, tenant="b", resource="licence"),
        _event(3, _at(3), UNDONE, None, tenant="b", resource="licence"),  # no detail: its kind
        _event(4, _at(4), TAKEN, {"action": "throttle"}, tenant="a"),  # not a licence action
        _event(5, _at(5), DECIDED, {"action": "suspend"}, tenant="a", resource="licence"),  # a decision only
    ]
    (section,) = tallying.licences(model, at=dt.date(2026, 11, 30), events=events)
    assert section.name == "licences" and section.title == "Licences on 2026-11-30"
    # b expired 10 days ago (grace 14: grace until 2026-12-04); a expires in 30 days (warning 30: expiring).
    assert section.rows == (
        {"tenant": "a", "number": "L-a", "status": "active", "state": "expiring", "issued": "2025-01-02",
         "expires": "2026-12-30", "daysLeft": 30, "graceUntil": "2027-01-13", "actions": ""},
        {"tenant": "b", "number": "L-b", "status": "active", "state": "grace", "issued": "2025-01-02",
         "expires": "2026-11-20", "daysLeft": -10, "graceUntil": "2026-12-04",
         "actions": "licence-changed, suspend, action-undone"},
        {"tenant": "c", "number": "L-c", "status": "suspended", "state": "suspended", "issued": "2025-01-02",
         "expires": "2027-01-01", "daysLeft": 32, "graceUntil": "2027-01-15", "actions": ""},
    )
    assert section.columns == (
        C(key="tenant", title="Tenant", kind=reports.NAME), C(key="number", title="Licence"),
        C(key="status", title="Status"), C(key="state", title="State"),
        C(key="issued", title="Issued", kind=reports.DATE), C(key="expires", title="Expires", kind=reports.DATE),
        C(key="daysLeft", title="Days left", kind=reports.INTEGER),
        C(key="graceUntil", title="Grace until", kind=reports.DATE), C(key="actions", title="Actions taken"))


def test_the_report_carries_its_title_ledger_position_and_names() -> None:
    last = _event(42, _at(3), TAKEN, None)
    now = _at(30)
    sources = [reports.Source(name="ledger", detail="l.db")]
    titles = {"allocation": "Allocation report", "usage": "Usage report", "traffic": "Traffic report",
              "violations": "Violations report", "licences": "Licences report"}
    for kind, title in titles.items():
        report = tallying.report(kind=kind, period=NOVEMBER, now=now, sections=(), sources=sources, last=last,
                                 model=_model(_tenant("a", "startup")), warnings=["w"], partial=True,
                                 inputs={"quotas": "q"})
        assert report == reports.Report(
            kind=kind, title=title, period=NOVEMBER, generated_at=now, sources=tuple(sources),
            ledger_hash=f"{42:064x}", ledger_seq=42, sections=(), names={"a": {"en": "a-en", "fa": "a-fa"}},
            warnings=("w",), partial=True, inputs={"quotas": "q"})
    bare = tallying.report(kind="usage", period=NOVEMBER, now=now, sections=(), sources=(), last=None, model=None)
    assert bare == reports.Report(kind="usage", title="Usage report", period=NOVEMBER, generated_at=now, sources=(),
                                  ledger_hash=None, ledger_seq=None, sections=(), names={}, warnings=(),
                                  partial=False, inputs={})


def test_combine_reaches_keys_of_later_months_and_weighs_a_sliver_of_coverage() -> None:
    september, october = periods.parse("2026-09"), periods.parse("2026-10")
    combined = tallying.combine([
        # d: 1e-7 of September's 2,592,000 s is 0.2592 s covered: little, yet its average is all there is.
        (september, [_r("a", "avg", "1"), _r("d", "avg", "5"), _r("d", "coverage", "0.0000001")]),
        (october, [_r("c", "avg", "3"), _r("c", "coverage", "1")]),  # c: only in the second month
    ])
    # a: 30 of 61 days (0.491803); c: 31 of 61 (0.508197); d: 0.2592 / 5,270,400 s rounds to 0.
    assert combined == (_r("a", "avg", "1"), _r("a", "coverage", "0.491803"), _r("c", "avg", "3"),
                        _r("c", "coverage", "0.508197"), _r("d", "avg", "5"), _r("d", "coverage", "0"))


def test_an_undo_ends_only_the_same_action_of_the_same_tenant_pool_and_resource() -> None:
    def event(seq: int, at: dt.datetime, kind: str, action: str, subject: dict[str, str]) -> audit_events.LedgerEvent:
        return audit_events.LedgerEvent(seq=seq, at=at, kind=kind, actor="a", subject=subject, before=None,
                                        after={"action": action}, reason="", prev_hash="0" * 64, hash="1" * 64)

    here = {"tenant": "t", "pool": "p", "resource": CPU}
    events = [
        event(1, _at(1), TAKEN, "throttle", here),
        event(2, _at(2), UNDONE, "undo-throttle", here | {"tenant": "u"}),
        event(3, _at(2), UNDONE, "undo-throttle", here | {"pool": "q"}),
        event(4, _at(2), UNDONE, "undo-throttle", here | {"resource": MEM}),
        event(5, _at(2), UNDONE, "undo-scale-down", here),
        # A subject without a field reads as that field empty: this undo ends the action of seq 7.
        event(6, _at(3), UNDONE, "undo-throttle", {"tenant": "t", "pool": "", "resource": ""}),
        event(7, _at(2), TAKEN, "throttle", {"tenant": "t"}),
    ]
    (section,) = tallying.violations(events, period=NOVEMBER, now=_at(5))
    durations = {row["seq"]: (row["durationSeconds"], row["ongoing"]) for row in section.rows}
    assert durations[1] == (4 * 86400, True)  # none of the undos is its own: on until now
    assert durations[7] == (86400, False)


def test_usage_in_reading_order_with_small_envelopes() -> None:
    egress = "bandwidth/egress"
    envelopes = {dt.date(2026, 11, 1): {("a", "p", egress): D(10), ("a", "p", CPU): D("0.5"),
                                        ("b", "p", CPU): D("0.25")}}
    rollups = [_r("a", "avg", "4", resource=egress), _r("a", "coverage", "1", resource=egress),
               _r("a", "avg", "0.25"), _r("a", "coverage", "1")]
    usage, idle = tallying.usage(envelopes, rollups)
    # cpu before egress (reading order, not the alphabet); b has an envelope under a core and no data: a row.
    assert [(r["tenant"], r["resource"]) for r in usage.rows] == [("a", CPU), ("a", egress), ("b", CPU)]
    assert [(r["tenant"], r["resource"]) for r in idle.rows] == [("a", CPU), ("a", egress), ("b", CPU)]
    assert usage.rows[2]["status"] == "no data" and usage.rows[2]["envelope"] == "0.25"
    assert usage.rows[0]["utilisation"] == "0.5"  # 0.25 of 0.5: a share of a whole under one unit
    # a's cpu: 0.25 of an envelope of 0.5, a bar even though the envelope is under one core.
    assert usage.chart is not None and usage.chart.bars == (reports.Bar(label="a", value=0.5),)


def test_traffic_reads_past_other_resources() -> None:
    rollups = [_r("a", "avg", "1"), _r("a", "total", "8", resource=snapshots.TRAFFIC_EGRESS)]
    (section,) = tallying.traffic(rollups)
    assert [(r["tenant"], r["egressBytes"], r["egressShare"]) for r in section.rows] == [("a", "8", "1")]


def test_a_decision_alone_is_its_detail() -> None:
    events = [_event(1, _at(2), DECIDED, {"decision": "breach", "cpu": "2"}),
              _event(2, _at(2), DECIDED, {"state": "warning", "decision": "breach"})]
    (section,) = tallying.violations(events, period=NOVEMBER, now=_at(3))
    assert [r["detail"] for r in section.rows] == ["breach", "warning"]
