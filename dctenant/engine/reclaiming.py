"""Envelopes, demands and observations → reclaim rows and proposed demands.

Pure: no clock, file or network. The rules (docs/planning.md): need is the observed statistic
(p95 for cpu, GPUs and bandwidth; the peak for memory and storage, plus the margin), rounded up
to the resource's unit. A lower demand is proposed when the idle part of the envelope
(envelope − need) is at least ``min_idle`` of it and Prometheus covered at least ``min_coverage``
of the window. A tenant served at fraction f of its demand gets f × demand of every resource
(docs/plan.md), and lowering the demand of a resource that is not its dominant one leaves f as it
is; so the proposed demand is need ÷ f (rounded up to the unit), which keeps the envelope at the
need. It never goes below the staff-declared namespaces' quota total (the loader refuses a demand
below it); when that total, or need ÷ f itself, is not below the current demand, nothing would be
reclaimed and the row says what holds it ("namespace quotas", "served fraction").
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import ROUND_CEILING, Decimal

from dctenant.domain import allocations, reclaim, resources

LEVELS = (resources.Kind.MEMORY, resources.Kind.STORAGE)


def statistic(key: str) -> str:
    """Which statistic estimates the need of ``key``: the peak for levels, the quantile for rates."""
    return reclaim.PEAK if resources.kind(key) in LEVELS else reclaim.P95


def rows(allocation: allocations.Allocation, observations: Mapping[tuple[str, str, str], reclaim.Observation],
         *, method: reclaim.Method, unit: Callable[[str], Decimal],
         floors: Mapping[tuple[str, str, str], Decimal]) -> tuple[reclaim.Row, ...]:
    """One row per (tenant, pool, resource) with an envelope; ``unit`` gives each resource's step,
    ``floors`` the staff-declared namespaces' quota totals that a proposal may not go below."""
    out: list[reclaim.Row] = []
    for tid in sorted(allocation.tenants):
        tenant = allocation.tenants[tid]
        for pool in sorted(tenant.shares):
            share = tenant.shares[pool]
            for key in resources.ordered(share.envelope):
                envelope = share.envelope[key]
                found = observations.get((tid, pool, key))
                observed = found.value if found else None
                coverage = found.coverage if found else Decimal(0)
                need = None if observed is None else _need(key, observed, method=method, unit=unit(key))
                proposed, held = None, ""
                if need is not None and envelope and (envelope - need) >= method.min_idle * envelope:
                    demand = share.demand.get(key, Decimal(0))
                    wanted = _ceil(need / share.fraction, unit(key)) if share.fraction > 0 else demand
                    floor = floors.get((tid, pool, key), Decimal(0))
                    if coverage < method.min_coverage:
                        held = "partial data"
                    elif floor >= demand:
                        held = "namespace quotas"
                    elif wanted >= demand:
                        held = "served fraction"
                    else:
                        proposed = max(wanted, floor)
                out.append(reclaim.Row(tenant=tid, pool=pool, resource=key, envelope=envelope,
                                       demand=share.demand.get(key, Decimal(0)), statistic=statistic(key),
                                       observed=observed, need=need, coverage=coverage, proposed=proposed,
                                       held=held))
    return tuple(out)


def _need(key: str, observed: Decimal, *, method: reclaim.Method, unit: Decimal) -> Decimal:
    value = observed * (1 + method.margin) if resources.kind(key) in LEVELS else observed
    return _ceil(value, unit)


def _ceil(value: Decimal, unit: Decimal) -> Decimal:
    return (value / unit).to_integral_value(ROUND_CEILING) * unit
