"""Usage history from Prometheus: a period's per-tenant rollups, asked at the period's end.

Prometheus keeps raw samples for weeks; auditors ask about months and years. So once a period
is over, ``dctenant snapshot`` asks Prometheus for its rollups — average, p95 and maximum of
each rate or level, the maximum of each day of the period, the fraction of the period with data,
and the bytes of traffic via ``increase`` — and the ledger database keeps them. The per-namespace
measures are enforcement's own queries (``clients.prometheus.queries``), so a report and an
enforcement decision read usage alike; each is wrapped in a subquery pinned with PromQL's ``@``
modifier, so a snapshot taken days later gives the same figures.

Days and periods are half-open, ``[00:00, 24:00)``, and every evaluation point belongs to exactly
one day (Prometheus 2.x closes subquery ranges at both ends, so a plain ``[1d:5m] @ midnight``
counts the midnight point in two days). A level (memory, GPUs, storage) read at ``t`` is the
level at ``t``: its points are ``[start, end)``, pinned 1 ms before the end. A rate read at ``t``
measures the window ending at ``t``: its points are ``(start, end]``, with a range 1 ms short, so
the 00:00 point, which measures the last minutes of the day before, counts for that day — a spike
at 23:55 is one day over, not two. Either way a day has the same number of points.

Missing data is never zero. ``count_over_time`` of the same subquery says at how many of the
period's evaluation steps a measure had a value; stored as the ``coverage`` fraction, it lets a
report say an average covers only part of the period, and a tenant without any series has no
rows at all (a report shows "no data").

Traffic counts every pod that existed at any time in the period, without host networking: the
counters' ``increase`` per pod is joined with ``max_over_time`` of kube-state-metrics' pod info
over the same range, so a rollout, a scale-down to zero or data that ends early lose no bytes.

A tenant's figure in a pool is the sum of its namespaces' figures there: exact for averages and
totals, an upper bound for p95 and maxima when a tenant has several namespaces in one pool; its
coverage is the smallest of its namespaces' that have data.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any

import dctenant
from dctenant.clients import prometheus
from dctenant.domain import periods, resources, snapshots
from dctenant.errors import UserError

# Measures read from enforcement's queries; storage is read as bytes written per storage class.
MEASURES = {"cpu": resources.CPU, "memory": resources.MEMORY, "nvidia.com/gpu": resources.GPU,
            "storage-used": "", "bandwidth/egress": resources.EGRESS, "bandwidth/ingress": resources.INGRESS}
# Traffic totals take the coverage of the matching rate.
TRAFFIC_COVERAGE = {resources.EGRESS: snapshots.TRAFFIC_EGRESS, resources.INGRESS: snapshots.TRAFFIC_INGRESS}
_DURATION = re.compile(r"^(\d+)(ms|s|m|h|d)$")
_UNITS = {"ms": Decimal("0.001"), "s": Decimal(1), "m": Decimal(60), "h": Decimal(3600), "d": Decimal(86400)}
# Measures that are rates over a trailing window (their points are (start, end], see the docstring).
RATES = frozenset({"cpu", "bandwidth/egress", "bandwidth/ingress"})
_EDGE = dt.timedelta(milliseconds=1)


def window(start: dt.datetime, end: dt.datetime, *, rate: bool) -> tuple[str, str]:
    """The ``[range`` and ``@ time`` that select exactly ``[start, end)`` (levels) or ``(start, end]`` (rates)."""
    millis = round((end - start).total_seconds() * 1000)
    if rate:
        return f"{millis - 1}ms", f"@ {end.timestamp():.3f}"
    return f"{millis}ms", f"@ {(end - _EDGE).timestamp():.3f}"


@dataclass(frozen=True, kw_only=True)
class History:
    rollups: tuple[snapshots.Rollup, ...]
    queries: int
    end: dt.datetime  # where the rollups were evaluated: the period's end, or now for a period still running
    partial: bool
    provenance: Mapping[str, Any] = field(default_factory=dict)


def seconds(text: str, *, where: str = "--step") -> int:
    """A Prometheus duration of whole seconds (``30s``, ``5m``, ``1h``) as seconds."""
    m = _DURATION.match(text.strip())
    value = Decimal(m[1]) * _UNITS[m[2]] if m else Decimal(0)
    if not m or value < 1 or value != value.to_integral_value():
        raise UserError(f"{text!r} is not a duration of whole seconds; write e.g. 30s, 5m or 1h", location=where)
    return int(value)


def steps(start: dt.datetime, end: dt.datetime, step: int, *, rate: bool = False) -> int:
    """How many multiples of ``step`` seconds (since the epoch, as Prometheus aligns subqueries) lie in
    ``[start, end)``, or in ``(start, end]`` for a rate."""
    a, b = start.timestamp() / step, end.timestamp() / step
    return max(0, math.floor(b) - math.floor(a)) if rate else max(0, math.ceil(b) - math.ceil(a))


def collect(client: prometheus.Prometheus, *, namespaces: Mapping[str, tuple[str, str]], period: periods.Period,
            now: dt.datetime, step: str = "5m") -> History:
    """The rollups of ``period`` for ``namespaces`` (name → (tenant, pool)), evaluated at min(end, now)."""
    end = min(period.end, now)
    if end <= period.start:
        raise UserError(f"period {period.label} has not started yet (it starts "
                        f"{period.start.isoformat()}); take its snapshot after it has ended", location="--period")
    step_s = seconds(step)
    s = client.settings
    base = prometheus.queries(s)
    by = f"{s.cluster_label}, namespace" if s.cluster_label else "namespace"
    totals: dict[tuple[str, str, str, str, str], Decimal] = {}
    asked = 0

    def add(rows: list[dict[str, Any]], *, resource: str, stat: str, day: str = "",
            expected: int = 0) -> None:
        for row in rows:
            metric = row.get("metric", {})
            owner = namespaces.get(str(metric.get("namespace", "")))
            if owner is None:
                continue
            key = resource or resources.storage(str(metric.get("storageclass") or ""))
            if key == resources.STORAGE_PREFIX:
                continue
            value = number(row)
            if value is None:
                continue
            slot = (owner[0], owner[1], key, stat, day)
            if stat == snapshots.COVERAGE:
                share = min(Decimal(1), (value / expected).quantize(Decimal("0.000001"))) if expected else Decimal(0)
                totals[slot] = min(totals.get(slot, share), share)
                if key in TRAFFIC_COVERAGE:
                    other = (owner[0], owner[1], TRAFFIC_COVERAGE[key], stat, day)
                    totals[other] = min(totals.get(other, share), share)
            else:
                totals[slot] = totals.get(slot, Decimal(0)) + _round(key, value)

    def ask(promql: str) -> list[dict[str, Any]]:
        nonlocal asked
        asked += 1
        return client.query(promql)

    for name, resource in MEASURES.items():
        rate = name in RATES
        span, at = window(period.start, end, rate=rate)
        whole = f"({base[name]})[{span}:{step}] {at}"
        add(ask(f"avg_over_time({whole})"), resource=resource, stat=snapshots.AVERAGE)
        add(ask(f"quantile_over_time(0.95, {whole})"), resource=resource, stat=snapshots.P95)
        add(ask(f"max_over_time({whole})"), resource=resource, stat=snapshots.MAXIMUM)
        add(ask(f"count_over_time({whole})"), resource=resource, stat=snapshots.COVERAGE,
            expected=steps(period.start, end, step_s, rate=rate))
        for day, day_start, next_day in period.day_bounds():
            if day_start >= end:
                break
            day_span, day_at = window(day_start, min(next_day, end), rate=rate)
            add(ask(f"max_over_time(({base[name]})[{day_span}:{step}] {day_at})"),
                resource=resource, stat=snapshots.DAY_MAXIMUM, day=day.isoformat())
    m, cad, ksm = s.metrics, s.cadvisor, s.kube_state_metrics
    # As in enforcement, host-network pods' traffic is the node's, not the tenant's. Every pod that
    # kube-state-metrics knew at any time in the range counts, not only those alive at its end.
    span, at = window(period.start, end, rate=True)
    pods = f'max by ({by}, pod) (max_over_time({m["podInfo"]}{{{ksm},host_network="false"}}[{span}] {at}))'
    traffic = {}
    for metric, key in ((m["transmit"], snapshots.TRAFFIC_EGRESS), (m["receive"], snapshots.TRAFFIC_INGRESS)):
        traffic[key] = (f"sum by ({by}) (increase({metric}{{{cad}}}[{span}] {at}) "
                        f"* on ({by}, pod) group_left() {pods})")
        add(ask(traffic[key]), resource=key, stat=snapshots.TOTAL)
    rollups = tuple(snapshots.Rollup(tenant=k[0], pool=k[1], resource=k[2], stat=k[3], day=k[4],
                                     value=resources.plain(v)) for k, v in sorted(totals.items()))
    mapping = json.dumps(sorted((ns, *owner) for ns, owner in namespaces.items()), separators=(",", ":"))
    provenance = {
        "dctenantVersion": dctenant.__version__, "step": step, "rateWindow": s.rate_window,
        "evaluatedUntil": end.isoformat(), "levelPoints": "[start, end)", "ratePoints": "(start, end]",
        "selectors": {"cadvisor": s.cadvisor, "kubelet": s.kubelet, "kubeStateMetrics": s.kube_state_metrics,
                      "clusterLabel": s.cluster_label},
        "queries": {**{name: base[name] for name in MEASURES}, **traffic},
        "namespaces": len(namespaces), "namespacesSha256": hashlib.sha256(mapping.encode()).hexdigest()}
    return History(rollups=rollups, queries=asked, end=end, partial=end < period.end, provenance=provenance)


def number(row: Mapping[str, Any]) -> Decimal | None:
    """An instant-vector sample's value, or None when it is not a finite, non-negative number."""
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
