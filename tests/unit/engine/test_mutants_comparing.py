"""engine.comparing on hand-built allocations: what moved, who fell below its guarantee, who lost most.

Each allocation is written out here as a value (no allocator involved), so every expected change,
miss and loser order below is read off the two fixtures by hand.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal

from dctenant.domain import allocations, tenants, whatif
from dctenant.engine import comparing

CPU, EGRESS = "cpu", "bandwidth/egress"
Licence = tenants.LicenceState
D = Decimal
ZERO = D(0)


def _share(pool: str, envelope: Mapping[str, D], demand: Mapping[str, D] | None = None) -> allocations.Share:
    return allocations.Share(pool=pool, demand=demand if demand is not None else envelope, envelope=envelope,
                             fraction=D(1), weighted_share=D(0), dominant=CPU, limited_by=allocations.DEMAND, round=0)


def _tenant(name: str, *shares: allocations.Share, licence: Licence = Licence.ACTIVE,
            guaranteed: D = ZERO) -> allocations.TenantAllocation:
    return allocations.TenantAllocation(tenant=name, licence=licence, weight=D(1), guaranteed=guaranteed,
                                        shares={s.pool: s for s in shares})


def _allocation(*tenant_list: allocations.TenantAllocation,
                scales: Mapping[str, D] | None = None) -> allocations.Allocation:
    scale = dict(scales or {})
    names = {s for t in tenant_list for s in t.shares} | set(scale)
    pools = {p: allocations.PoolAllocation(name=p, resources=(), guarantee_scale=scale.get(p, D(1)), rounds=1)
             for p in names}
    return allocations.Allocation(at=dt.date(2026, 11, 30), pools=pools, tenants={t.tenant: t for t in tenant_list},
                                  namespaces=(), warnings=())


def _change(tenant: str, pool: str, resource: str, before: D | None, after: D | None) -> whatif.EnvelopeChange:
    return whatif.EnvelopeChange(tenant=tenant, pool=pool, resource=resource, before=before, after=after)


def test_every_envelope_that_moved_in_tenant_pool_resource_order() -> None:
    before = _allocation(
        _tenant("c", _share("p1", {CPU: D(3)})),
        _tenant("a", _share("p1", {CPU: D(4), EGRESS: D(10)}), _share("p2", {CPU: D(4)}),
                _share("p3", {CPU: D(1)})),
        _tenant("b", _share("p1", {CPU: D(1)})),
    )
    after = _allocation(
        # p1 of "a" is unchanged and comes first: the pools after it must still be compared.
        _tenant("a", _share("p1", {CPU: D(4), EGRESS: D(10)}), _share("p2", {CPU: D(2), EGRESS: D(5)}),
                _share("p4", {CPU: D(0)})),
        _tenant("c", _share("p1", {CPU: D(3)})),
        _tenant("d", _share("p1", {CPU: D(2)})),
    )
    result = comparing.compare(before, after)
    assert result.envelopes == (
        _change("a", "p2", CPU, D(4), D(2)),
        _change("a", "p2", EGRESS, None, D(5)),
        _change("a", "p3", CPU, D(1), None),
        _change("a", "p4", CPU, None, D(0)),
        _change("b", "p1", CPU, D(1), None),
        _change("d", "p1", CPU, None, D(2)),
    )
    assert result.states == (whatif.StateChange(tenant="b", before="allocated", after=None),
                             whatif.StateChange(tenant="d", before=None, after="allocated"))
    # a lost 1/2 of p2's cpu and all of p3's (ratio -1); b all of its cpu: both 1, then by name.
    # None -> 0 moved nothing and is no loss.
    assert result.losers == ("a", "b")
    assert result.below_guarantee == ()


def test_a_changed_licence_state_is_listed_and_an_unchanged_one_is_not() -> None:
    before = _allocation(_tenant("a", _share("p", {CPU: D(1)})), _tenant("b", _share("p", {CPU: D(1)})),
                         _tenant("c", _share("p", {CPU: D(1)}), licence=Licence.GRACE))
    after = _allocation(_tenant("a", _share("p", {CPU: D(1)}), licence=Licence.GRACE),
                        _tenant("b", _share("p", {CPU: D(1)}), licence=Licence.EXPIRING),
                        _tenant("c", _share("p", {CPU: D(1)}), licence=Licence.REVOKED))
    result = comparing.compare(before, after)
    assert result.envelopes == ()
    assert result.states == (whatif.StateChange(tenant="a", before="allocated", after="grace"),
                             whatif.StateChange(tenant="c", before="grace", after="suspended"))
    assert result.losers == ()


def test_losers_by_largest_relative_loss_then_name() -> None:
    before = _allocation(
        _tenant("a", _share("p1", {CPU: D(4)}), _share("p2", {CPU: D(4)})),
        _tenant("b", _share("p1", {CPU: D(2)})),
        _tenant("d", _share("p1", {CPU: D(10)})),
        _tenant("f", _share("p1", {CPU: D(4)})),
        _tenant("e", _share("p1", {CPU: D(8)})),
        _tenant("g", _share("p1", {CPU: D(4)})),
    )
    after = _allocation(
        _tenant("a", _share("p1", {CPU: D(2)}), _share("p2", {CPU: D(3)})),  # losses 1/2 then 1/4: worst 1/2
        _tenant("b", _share("p1", {CPU: D(1)})),  # 1/2, the same as a: after a by name
        _tenant("d", _share("p1", {CPU: D(6)})),  # 2/5
        _tenant("f", _share("p1", {CPU: D(3)})),  # 1/4
        _tenant("e", _share("p1", {CPU: D(6)})),  # 1/4, the same as f: before f by name
        _tenant("g", _share("p1", {CPU: D(5)})),  # a gain: not a loser
    )
    assert comparing.compare(before, after).losers == ("a", "b", "d", "e", "f")


def test_a_small_relative_loss_of_a_large_envelope_comes_after_a_large_one_of_a_small_envelope() -> None:
    before = _allocation(_tenant("a", _share("p", {CPU: D(1000)})), _tenant("b", _share("p", {CPU: D(2)})))
    after = _allocation(_tenant("a", _share("p", {CPU: D(900)})), _tenant("b", _share("p", {CPU: D(1)})))
    assert comparing.compare(before, after).losers == ("b", "a")


def test_below_guarantee_only_in_scaled_pools_and_exactly_at_the_guarantee() -> None:
    half = D("0.5")
    allocation = _allocation(
        # Listed in reverse to show the result is sorted by tenant then pool.
        _tenant("z", _share("scaled", {CPU: D(1)}, {CPU: D(4)}), guaranteed=half),  # 1 < 2: short
        _tenant("y", _share("scaled", {CPU: D(2), EGRESS: D(3)}, {CPU: D(4), EGRESS: D(6)}),
                guaranteed=half),  # exactly the guarantee on both: not short
        _tenant("x", _share("whole", {CPU: D(1)}, {CPU: D(4)}), guaranteed=half),  # scale exactly 1: not looked at
        _tenant("w", _share("scaled", {CPU: D(1)}, {CPU: D(4)}), guaranteed=half,
                licence=Licence.SUSPENDED),  # not served
        _tenant("v", _share("scaled", {}, {CPU: D(1)}), guaranteed=half),  # no envelope: 0 < 1/2
        _tenant("u", _share("scaled", {CPU: D(2)}, {CPU: D(4), EGRESS: D(6)}),
                _share("other", {EGRESS: D(2)}, {CPU: D(2), EGRESS: D(6)}), guaranteed=half),
        scales={"scaled": D("0.9"), "whole": D(1), "other": D("0.99")},
    )
    misses = comparing.below_guarantee(allocation, previous={("v", "scaled")})
    assert misses == (
        whatif.GuaranteeMiss(tenant="u", pool="other", resources=(CPU, EGRESS), new=True),
        whatif.GuaranteeMiss(tenant="u", pool="scaled", resources=(EGRESS,), new=True),
        whatif.GuaranteeMiss(tenant="v", pool="scaled", resources=(CPU,), new=False),
        whatif.GuaranteeMiss(tenant="z", pool="scaled", resources=(CPU,), new=True),
    )
    assert [m.new for m in comparing.below_guarantee(allocation, previous=None)] == [False] * 4


def test_compare_flags_only_the_misses_the_change_made() -> None:
    half = D("0.5")
    before = _allocation(_tenant("a", _share("p", {CPU: D(1)}, {CPU: D(4)}), guaranteed=half),
                         _tenant("b", _share("p", {CPU: D(2)}, {CPU: D(4)}), guaranteed=half),
                         scales={"p": D("0.5")})
    after = _allocation(_tenant("a", _share("p", {CPU: D(1)}, {CPU: D(4)}), guaranteed=half),
                        _tenant("b", _share("p", {CPU: D(1)}, {CPU: D(4)}), guaranteed=half),
                        scales={"p": D("0.5")})
    assert comparing.compare(before, after).below_guarantee == (
        whatif.GuaranteeMiss(tenant="a", pool="p", resources=(CPU,), new=False),
        whatif.GuaranteeMiss(tenant="b", pool="p", resources=(CPU,), new=True),
    )


def test_an_envelope_that_appeared_empty_or_grew_a_little_is_no_loss() -> None:
    # None → 0 moves nothing (delta exactly 0); 2 → 2.5 gains half a core (delta between 0 and 1).
    before = _allocation(_tenant("a", _share("p", {CPU: D(1)})), _tenant("b", _share("p", {CPU: D(2)})))
    after = _allocation(_tenant("a", _share("p", {CPU: D(1)}), _share("q", {CPU: D(0)})),
                        _tenant("b", _share("p", {CPU: D("2.5")})))
    result = comparing.compare(before, after)
    assert [(c.tenant, c.pool, c.before, c.after) for c in result.envelopes] == [
        ("a", "q", None, D(0)), ("b", "p", D(2), D("2.5"))]
    assert result.losers == ()


def test_an_unscaled_pool_does_not_stop_the_search_in_the_tenants_other_pools() -> None:
    half = D("0.5")
    allocation = _allocation(
        _tenant("a", _share("whole", {CPU: D(1)}, {CPU: D(4)}), _share("scaled", {CPU: D(1)}, {CPU: D(4)}),
                guaranteed=half),
        scales={"whole": D(1), "scaled": D("0.5")})
    assert comparing.below_guarantee(allocation, previous=None) == (
        whatif.GuaranteeMiss(tenant="a", pool="scaled", resources=(CPU,), new=False),)
