"""Each tenant's observed need over a window, asked of Prometheus for ``dctenant reclaim``.

One query per measure and statistic, whatever the number of tenants: the per-namespace usage
expressions are enforcement's own (``prometheus.queries``), relabelled in PromQL with their owner
(``label_replace`` per tenant and pool, matching the tenant's namespaces by full name) and summed
by owner *before* the quantile or peak is taken, so a tenant's p95 is the p95 of its total, not a
sum of its namespaces' p95s. A second query per measure counts the steps that had data: the
coverage, so that a window Prometheus saw only in part is said, and a missing series is unknown.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from dctenant.clients import history, prometheus
from dctenant.domain import forecasts, reclaim, resources

OWNER = "dctenant_owner"
# Measure name in prometheus.queries → resource key ("" for storage: the key comes from the class).
MEASURES = {"cpu": resources.CPU, "memory": resources.MEMORY, "nvidia.com/gpu": resources.GPU,
            "storage-used": "", "bandwidth/egress": resources.EGRESS, "bandwidth/ingress": resources.INGRESS}


def owned(expr: str, owners: Mapping[str, str]) -> str:
    """``expr`` (by namespace) with the label ``dctenant_owner`` set to each namespace's owner."""
    groups: dict[str, list[str]] = {}
    for ns, owner in sorted(owners.items()):
        groups.setdefault(owner, []).append(ns)
    out = f"({expr})"
    for owner, names in sorted(groups.items()):
        # label_replace's regular expression is anchored at both ends: a name matches only itself.
        out = f'label_replace({out}, "{OWNER}", "{owner}", "namespace", "{"|".join(names)}")'
    return out


def owned_by_tenant(expr: str, owners: Mapping[str, tuple[str, str]]) -> str:
    """``expr`` (by namespace) with ``dctenant_owner`` set to ``tenant/pool``: one ``label_replace`` per pool.

    One per tenant and pool (``owned``) nests hundreds of them for a large data centre, and Prometheus
    evaluates each over every step of the window: 200 tenants timed out. Every namespace of a tenant is
    named ``<tenant>-…`` (the loader enforces it), so a pool's regular expression is the alternation of
    ``(<tenant>)-(?:<its names' rests>)``, each tenant in a group of its own; the replacement joins all the
    groups, of which only the matching one is non-empty. The match is still by full name.
    """
    by_pool: dict[str, dict[str, list[str]]] = {}
    for ns, (tenant, pool) in sorted(owners.items()):
        by_pool.setdefault(pool, {}).setdefault(tenant, []).append(ns.removeprefix(tenant + "-"))
    out = f"({expr})"
    for pool, tenants in sorted(by_pool.items()):
        pattern = "|".join(f"({t})-(?:{'|'.join(rests)})" for t, rests in sorted(tenants.items()))
        groups = "".join(f"${{{i}}}" for i in range(1, len(tenants) + 1))
        out = f'label_replace({out}, "{OWNER}", "{groups}/{pool}", "namespace", "{pattern}")'
    return out


def observe(client: prometheus.Prometheus, *, owners: Mapping[str, tuple[str, str]], method: reclaim.Method,
            at: dt.datetime) -> dict[tuple[str, str, str], reclaim.Observation]:
    """Observations by (tenant, pool, resource) over the window ending at ``at`` (owners: namespace →
    (tenant, pool)). Levels (memory, storage) are read as their peak, rates as their quantile."""
    base = prometheus.queries(client.settings)
    window = f"[{method.window_seconds}s:{method.step_seconds}s] @ {at.timestamp():.3f}"
    steps = Decimal(method.window_seconds // method.step_seconds)
    out: dict[tuple[str, str, str], reclaim.Observation] = {}
    for name, key in MEASURES.items():
        by = f"{OWNER}, storageclass" if not key else OWNER
        summed = f"sum by ({by}) ({owned_by_tenant(base[name], owners)})"
        stat = reclaim.PEAK if name in ("memory", "storage-used") else reclaim.P95
        if stat == reclaim.P95:
            asked = f"quantile_over_time({method.quantile}, ({summed}){window})"
        else:
            asked = f"max_over_time(({summed}){window})"
        values = {_owner(r, key): history.number(r) for r in client.query(asked)}
        counts = {_owner(r, key): history.number(r) for r in client.query(f"count_over_time(({summed}){window})")}
        for (owner, resource), value in values.items():
            if owner is None or resource is None:
                continue
            tenant, pool = owner.split("/", 1)
            count = counts.get((owner, resource)) or Decimal(0)
            out[tenant, pool, resource] = reclaim.Observation(
                tenant=tenant, pool=pool, resource=resource, statistic=stat, value=value,
                coverage=min(count / steps, Decimal(1)) if steps else Decimal(0))
    return out


def _owner(row: Mapping[str, Any], key: str) -> tuple[str | None, str | None]:
    metric = row.get("metric", {})
    owner = metric.get(OWNER)
    if not key:
        storage_class = metric.get("storageclass")
        return owner, resources.storage(storage_class) if storage_class else None
    return owner, key


def daily_peaks(client: prometheus.Prometheus, *, pools: Mapping[str, str], days: int, at: dt.datetime,
                step_seconds: int = 300) -> dict[tuple[str, str], list[forecasts.Point]]:
    """Each pool's daily peak of total usage per resource over the ``days`` days before ``at``
    (``pools``: namespace → pool); one query per measure, answered as a matrix of daily points."""
    base = prometheus.queries(client.settings)
    out: dict[tuple[str, str], list[forecasts.Point]] = {}
    for name, key in MEASURES.items():
        by = f"{OWNER}, storageclass" if not key else OWNER
        summed = f"sum by ({by}) ({owned(base[name], pools)})"
        asked = f"(max_over_time(({summed})[1d:{step_seconds}s]))[{days}d:1d] @ {at.timestamp():.3f}"
        for row in client.query(asked):
            pool, resource = _owner(row, key)
            if pool is None or resource is None:
                continue
            for stamp, text in row.get("values", []):
                value = history.number({"value": [stamp, text]})
                if value is not None:
                    # The point at a day's end is the peak of the day before it.
                    day = (dt.datetime.fromtimestamp(float(stamp), dt.UTC) - dt.timedelta(seconds=1)).date()
                    out.setdefault((pool, resource), []).append(forecasts.Point(day=day, value=value))
    return out
