"""engine.judging on a hand-built allocation: decision order, pool filter, licence wording, grace at 1 s.

The allocation is written out as a value (no allocator), so which decisions appear, in which
order, and with which words is read off the fixture by hand.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from dctenant.domain import allocations, policies, pools, quotas, tenants, usage
from dctenant.domain.usage import State
from dctenant.engine import judging

D = Decimal
CPU = "cpu"
NOW = dt.datetime(2026, 11, 27, 10, 0, tzinfo=dt.UTC)
DAY = NOW.date()
Licence = tenants.LicenceState


def _tenant(tid: str, *namespaces: tuple[str, str], status: str = "active",
            expires: dt.date = dt.date(2028, 1, 1)) -> tenants.Tenant:
    return tenants.Tenant(
        id=tid, display_name=pools.DisplayName(en=tid, fa=tid), tier="std",
        licence=tenants.Licence(number=f"L-{tid}", issued=dt.date(2020, 1, 1), expires=expires,
                                status=tenants.LicenceStatus(status)),
        owners=tenants.Owners(users=("a@b",)), demand={},
        namespaces=tuple(tenants.Namespace(name=name, pool=pool, quota={}) for name, pool in namespaces))


def _model(*members: tenants.Tenant, rules: policies.Enforcement | None = None) -> quotas.Quotas:
    pool_list = tuple(pools.Pool(name=p, site=p, context=p, capacity={CPU: D(100)}) for p in ("p1", "p2"))
    policy = policies.Policy(name="p", tiers={}, enforcement=rules or policies.Enforcement(),
                             licences=policies.LicenceRules(warning_days=30, grace_days=14))
    dc = pools.DataCentre(name="dc", display_name=pools.DisplayName(en="dc", fa="dc"), storage_classes=(),
                          pools=pool_list)
    return quotas.Quotas(datacentre=dc, policy=policy, tenants=members)


def _allocation(granted: dict[str, tuple[Licence, tuple[str, ...]]]) -> allocations.Allocation:
    def share(pool: str) -> allocations.Share:
        return allocations.Share(pool=pool, demand={CPU: D(4)}, envelope={CPU: D(4)}, fraction=D(1),
                                 weighted_share=D(0), dominant=CPU, limited_by=allocations.DEMAND, round=0)

    return allocations.Allocation(
        at=DAY, pools={}, namespaces=(), warnings=(),
        tenants={tid: allocations.TenantAllocation(tenant=tid, licence=state, weight=D(1), guaranteed=D(0),
                                                   shares={p: share(p) for p in in_pools})
                 for tid, (state, in_pools) in granted.items()})


def _usage(cpu: dict[str, Decimal], *, at: dt.datetime = NOW) -> usage.Usage:
    return usage.Usage(at=at, amounts={ns: {CPU: v} for ns, v in cpu.items()}, seen=frozenset(cpu))


def _decide(model: quotas.Quotas, allocation: allocations.Allocation, series: usage.Series, *,
            memory: usage.Memory | None = None, now: dt.datetime = NOW, pools: tuple[str, ...] = ()) -> usage.Verdict:
    return judging.decide(model, allocation=allocation, measured=series, memory=memory or usage.Memory(), now=now,
                          pools=pools)


def test_tenants_by_id_pools_in_data_centre_order_and_none_skipped() -> None:
    # Listed z, b, a; b has no allocation; a has no namespace in p1 (a licence decision only there).
    model = _model(_tenant("z", ("z-1", "p1")), _tenant("b", ("b-1", "p1")), _tenant("a", ("a-2", "p2")))
    allocation = _allocation({"z": (Licence.ACTIVE, ("p1",)), "a": (Licence.ACTIVE, ("p2", "p1"))})
    series = usage.Series.of(_usage({"z-1": D(1), "a-2": D(1), "b-1": D(1)}))
    verdict = _decide(model, allocation, series)
    assert [(d.tenant, d.pool, d.resource) for d in verdict.decisions] == [
        ("a", "p1", "licence"), ("a", "p2", "licence"), ("a", "p2", CPU), ("z", "p1", "licence"), ("z", "p1", CPU)]
    assert [d.state for d in verdict.decisions] == [State.OK] * 5
    only_p2 = _decide(model, allocation, series, pools=("p2",))
    assert [(d.tenant, d.pool, d.resource) for d in only_p2.decisions] == [("a", "p2", "licence"), ("a", "p2", CPU)]


def test_an_unserved_tenant_is_judged_on_its_licence_only_and_the_next_is_still_judged() -> None:
    model = _model(_tenant("a", ("a-1", "p1"), status="suspended"), _tenant("b", ("b-1", "p1")))
    allocation = _allocation({"a": (Licence.SUSPENDED, ("p1",)), "b": (Licence.ACTIVE, ("p1",))})
    verdict = _decide(model, allocation, usage.Series.of(_usage({"a-1": D(1), "b-1": D(1)})))
    assert [(d.tenant, d.resource, d.state, d.action) for d in verdict.decisions] == [
        ("a", "licence", State.SUSPENDED, "suspend"), ("b", "licence", State.OK, ""), ("b", CPU, State.OK, "")]


def _licence_decision(state: Licence, *, status: str = "active", expires: dt.date = dt.date(2028, 1, 1),
                      memory: usage.Memory | None = None) -> tuple[usage.Decision, usage.Memory]:
    model = _model(_tenant("t", ("t-1", "p1"), status=status, expires=expires))
    verdict = _decide(model, _allocation({"t": (state, ("p1",))}), usage.Series.of(_usage({"t-1": D(1)})),
                      memory=memory)
    return verdict.decisions[0], verdict.memory


def test_the_regulators_suspension_and_revocation_in_full_words() -> None:
    decision, memory = _licence_decision(Licence.SUSPENDED, status="suspended")
    assert (decision.state, decision.action, decision.level) == (State.SUSPENDED, "suspend", 1)
    assert decision.reason == "t licence L-t is suspended by the regulator; suspending the tenant"
    again, _ = _licence_decision(Licence.SUSPENDED, status="suspended", memory=memory)
    assert (again.action, again.level) == ("", 1)
    assert again.reason == "t licence L-t is suspended by the regulator; the tenant stays suspended"
    revoked, _ = _licence_decision(Licence.REVOKED, status="revoked")
    assert revoked.reason == "t licence L-t is revoked by the regulator; suspending the tenant"
    expired, _ = _licence_decision(Licence.EXPIRED, expires=dt.date(2026, 11, 1))
    # Expired 2026-11-01, 14 days of grace: ended 2026-11-15.
    assert expired.reason == ("t licence L-t expired on 2026-11-01 and its 14-day grace ended on 2026-11-15; "
                              "suspending the tenant")


def _breaching(rules: policies.Enforcement) -> tuple[quotas.Quotas, allocations.Allocation]:
    return _model(_tenant("t", ("t-1", "p1")), rules=rules), _allocation({"t": (Licence.ACTIVE, ("p1",))})


def test_a_grace_period_of_one_second_spaces_escalations_by_exactly_one_second() -> None:
    rules = policies.Enforcement(warning_at=D("0.8"), breach_at=D(1), sustained_for=0, grace_period=1,
                                 recovery_window=0, actions=("notify", "throttle", "suspend"))
    model, allocation = _breaching(rules)

    def cycle(now: dt.datetime, memory: usage.Memory) -> tuple[usage.Decision, usage.Memory]:
        verdict = _decide(model, allocation, usage.Series.of(_usage({"t-1": D(5)}, at=now)), memory=memory,
                          now=now)
        return next(d for d in verdict.decisions if d.resource == CPU), verdict.memory

    first, memory = cycle(NOW, usage.Memory())
    assert (first.state, first.action) == (State.BREACH, "notify")
    same, memory = cycle(NOW, memory)  # 0 s later: not due
    assert (same.state, same.action, same.level) == (State.BREACH, "", 1)
    almost, memory = cycle(NOW + dt.timedelta(microseconds=999_999), memory)
    assert almost.action == ""
    due, memory = cycle(NOW + dt.timedelta(seconds=1), memory)  # exactly the grace period: due
    assert (due.action, due.level) == ("throttle", 2)


def test_a_grace_period_of_zero_escalates_every_cycle() -> None:
    rules = policies.Enforcement(warning_at=D("0.8"), breach_at=D(1), sustained_for=0, grace_period=0,
                                 recovery_window=0, actions=("notify", "throttle"))
    model, allocation = _breaching(rules)
    memory = usage.Memory()
    actions = []
    for _ in range(3):
        verdict = _decide(model, allocation, usage.Series.of(_usage({"t-1": D(5)})), memory=memory)
        memory = verdict.memory
        actions.append(next(d.action for d in verdict.decisions if d.resource == CPU))
    assert actions == ["notify", "throttle", ""]  # every action taken, then none left
