"""Usage history from Prometheus: a period's per-tenant rollups, asked at the period's end.

Prometheus keeps raw samples for weeks; auditors ask about months and years. So once a period
is over, ``dctenant snapshot`` asks Prometheus for its rollups — average, p95 and maximum of
each rate or level, each UTC day's maximum, and the bytes of traffic via ``increase`` — and the
ledger database keeps them. The per-namespace measures are enforcement's own queries
(``clients.prometheus.queries``), so a report and an enforcement decision read usage alike;
each is wrapped in a subquery pinned with PromQL's ``@`` modifier to the period's end, so a
snapshot taken days later gives the same figures.

A tenant's figure in a pool is the sum of its namespaces' figures there: exact for averages and
totals, an upper bound for p95 and maxima when a tenant has several namespaces in one pool.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any

from dctenant.clients import prometheus
from dctenant.domain import periods, resources, snapshots
from dctenant.errors import UserError

# Measures read from enforcement's queries; storage is read as bytes written per storage class.
MEASURES = {"cpu": resources.CPU, "memory": resources.MEMORY, "nvidia.com/gpu": resources.GPU,
            "storage-used": "", "bandwidth/egress": resources.EGRESS, "bandwidth/ingress": resources.INGRESS}


@dataclass(frozen=True, kw_only=True)
class History:
    rollups: tuple[snapshots.Rollup, ...]
    queries: int
    end: dt.datetime  # where the rollups were evaluated: the period's end, or now for a period still running
    partial: bool


def collect(client: prometheus.Prometheus, *, namespaces: Mapping[str, tuple[str, str]], period: periods.Period,
            now: dt.datetime, step: str = "5m") -> History:
    """The rollups of ``period`` for ``namespaces`` (name → (tenant, pool)), evaluated at min(end, now)."""
    end = min(period.end, now)
    if end <= period.start:
        raise UserError(f"period {period.label} has not started yet", location="--period")
    s = client.settings
    base = prometheus.queries(s)
    by = f"{s.cluster_label}, namespace" if s.cluster_label else "namespace"
    totals: dict[tuple[str, str, str, str, str], Decimal] = {}
    asked = 0

    def add(rows: list[dict[str, Any]], *, resource: str, stat: str, day: str = "") -> None:
        for row in rows:
            metric = row.get("metric", {})
            owner = namespaces.get(str(metric.get("namespace", "")))
            if owner is None:
                continue
            key = resource or resources.storage(str(metric.get("storageclass") or ""))
            if key == resources.STORAGE_PREFIX:
                continue
            value = _number(row)
            if value is None:
                continue
            slot = (owner[0], owner[1], key, stat, day)
            totals[slot] = totals.get(slot, Decimal(0)) + _round(key, value)

    def ask(promql: str) -> list[dict[str, Any]]:
        nonlocal asked
        asked += 1
        return client.query(promql)

    seconds = int((end - period.start).total_seconds())
    at = f"@ {end.timestamp():.3f}"
    for name, resource in MEASURES.items():
        window = f"({base[name]})[{seconds}s:{step}] {at}"
        add(ask(f"avg_over_time({window})"), resource=resource, stat=snapshots.AVERAGE)
        add(ask(f"quantile_over_time(0.95, {window})"), resource=resource, stat=snapshots.P95)
        add(ask(f"max_over_time({window})"), resource=resource, stat=snapshots.MAXIMUM)
        for day_start in period.day_starts():
            if day_start >= end:
                break
            day_end = min(day_start + dt.timedelta(days=1), end)
            span = int((day_end - day_start).total_seconds())
            add(ask(f"max_over_time(({base[name]})[{span}s:{step}] @ {day_end.timestamp():.3f})"),
                resource=resource, stat=snapshots.DAY_MAXIMUM, day=day_start.date().isoformat())
    m, cad, ksm = s.metrics, s.cadvisor, s.kube_state_metrics
    # As in enforcement, host-network pods' traffic is the node's, not the tenant's: only pods known to
    # kube-state-metrics without host networking at the period's end count.
    pods = f'max by ({by}, pod) ({m["podInfo"]}{{{ksm},host_network="false"}} {at})'
    for metric, key in ((m["transmit"], snapshots.TRAFFIC_EGRESS), (m["receive"], snapshots.TRAFFIC_INGRESS)):
        add(ask(f"sum by ({by}) (increase({metric}{{{cad}}}[{seconds}s] {at}) * on ({by}, pod) group_left() {pods})"),
            resource=key, stat=snapshots.TOTAL)
    rollups = tuple(snapshots.Rollup(tenant=k[0], pool=k[1], resource=k[2], stat=k[3], day=k[4],
                                     value=resources.plain(v)) for k, v in sorted(totals.items()))
    return History(rollups=rollups, queries=asked, end=end, partial=end < period.end)


def _number(row: Mapping[str, Any]) -> Decimal | None:
    try:
        value = Decimal(str(row["value"][1]))
    except (KeyError, IndexError, TypeError, InvalidOperation):
        return None
    return value if value.is_finite() and value >= 0 else None


def _round(key: str, value: Decimal) -> Decimal:
    """Rates and levels to the finest amount of their resource; traffic to whole bytes."""
    try:
        step = resources.FINEST[resources.kind(key)]
    except KeyError:
        step = Decimal(1)
    return (value / step).to_integral_value(ROUND_HALF_EVEN) * step
