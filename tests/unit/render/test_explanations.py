"""``plan --explain``: the sentences name who and what stopped a tenant, with the plan's own numbers."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

from dctenant.domain import quotas, resources
from dctenant.engine import allocating
from dctenant.render import explanations
from tests.unit.engine import test_allocating as cases

CPU = resources.CPU


def explain(dc: object, *ts: object, tenant: str) -> str:
    model = quotas.Quotas(datacentre=dc, policy=cases.POLICY, tenants=tuple(ts))  # type: ignore[arg-type]
    plan = allocating.allocate(model.datacentre, tenants=model.tenants, policy=model.policy, at=cases.AT)
    return " ".join(explanations.explain(model, plan, tenant))


def starved_by_guarantees() -> tuple[object, ...]:
    # national keeps 50% of 12 = 6 and standard 20% of 10 = 2: the guarantees take all 8 cpu, so the
    # startup (no guarantee) gets nothing although nobody else is "limited by cpu".
    dc = cases.datacentre(cases.pool(cpu=Decimal(8)))
    return (dc, cases.tenant("n", "national", {"p1": {CPU: Decimal(12)}}),
            cases.tenant("s", "standard", {"p1": {CPU: Decimal(10)}}),
            cases.tenant("u", "startup", {"p1": {CPU: Decimal(5)}}))


def test_a_tenant_starved_by_others_guarantees_is_told_who_took_the_resource() -> None:
    text = explain(*starved_by_guarantees(), tenant="u")
    assert "it froze in round 1 at weighted share 0.000000, when cpu saturated (8 of 8 allocatable" in text
    # n: f = 0.5 of a dominant share 12/8, weight 4 → 0.1875; s: 0.2 × 10/8 / 2 = 0.125.
    assert ("tenants sharing that bottleneck: n (weighted share 0.187500, holding its guarantee, 6 of it), "
            "s (weighted share 0.125000, holding its guarantee, 2 of it).") in text
    assert "sharing that bottleneck: none" not in text


def test_a_tenant_held_at_its_guarantee_is_told_which_resource_filled_up() -> None:
    text = explain(*starved_by_guarantees(), tenant="n")
    assert "it holds its guaranteed floor (0.500000 of its demand, after any scaling of guarantees): cpu filled " \
           "up in round 1" in text


def test_one_day_is_singular() -> None:
    dc = cases.datacentre(cases.pool(cpu=Decimal(8)))
    yesterday = cases.tenant("y", "startup", {"p1": {CPU: Decimal(1)}}, expires=cases.AT - dt.timedelta(days=1))
    tomorrow = cases.tenant("t", "startup", {"p1": {CPU: Decimal(1)}}, expires=cases.AT + dt.timedelta(days=1))
    assert "(expired 2026-11-26, 1 day ago)" in explain(dc, yesterday, tomorrow, tenant="y")
    assert "(expires 2026-11-28, in 1 day)" in explain(dc, yesterday, tomorrow, tenant="t")
    later = cases.tenant("l", "startup", {"p1": {CPU: Decimal(1)}}, expires=cases.AT + dt.timedelta(days=2))
    assert "in 2 days" in explain(dc, later, tenant="l")


def test_the_shares_it_prints_agree_with_each_other() -> None:
    # Issue 13, repro 1: a's dominant share is 1000/1500.5 of egress = 66.6445%; f = 0.857306, weight 1.
    dc, ts = cases.repro_fractional_allocatable()
    text = explain(dc, *ts, tenant="a")
    assert "it asked for 1Gbps, 66.6445% of the pool's allocatable" in text
    found = re.search(r"weighted dominant share (\S+) = (\S+) × dominant share / weight (\S+)\)", text)
    assert found is not None
    weighted, fraction, weight = (Decimal(g) for g in found.groups())
    assert (weighted, fraction, weight) == (Decimal("0.571347"), Decimal("0.857306"), Decimal(1))
    # The printed values reproduce each other to their printed precision.
    assert abs(fraction * Decimal("0.666445") / weight - weighted) < Decimal("0.000001")
