"""One enforcement cycle's PromQL answers, folded into the usage at each point of its window.

``clients.prometheus`` asks the queries and hands each answer here as soon as it is in, filtered
to the cycle's namespaces: a ``Draft`` per point takes them in ``CYCLE`` order (exporter health
first, so the first reason found for a gap is the one kept) and becomes a ``usage.Usage``. Kept
apart from the asking so that the rules of "unknown, never zero" read in one place.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any

from dctenant.domain import resources, usage

# The measures each exporter feeds: one down (or absent) in a cluster makes them unknown there.
SOURCES = {"cadvisor": ("cpu", "memory", "bandwidth/egress", "bandwidth/ingress"),
           "kubelet": ("storage",),
           "kube-state-metrics": ("nvidia.com/gpu", "storage", "bandwidth/egress", "bandwidth/ingress")}
# What a gap found by the ``gaps`` query makes unknown in its namespace.
GAP_MEASURES = {"cadvisor": ("cpu", "memory", "bandwidth/egress", "bandwidth/ingress"),
                "podinfo": ("bandwidth/egress", "bandwidth/ingress")}

Sample = tuple[str, Mapping[str, Any], Any]
"""One sample of an answer at one point: its namespace ("" for ``up``), its series' labels, its value as sent."""


class Draft:
    """The usage at one point, filled in one query's answer at a time (``CYCLE`` order)."""

    def __init__(self, *, label: str, expected: Mapping[str, str], egress: bool) -> None:
        # expected: namespace → its cluster; egress: the data centre has an external egress source.
        self.label, self.expected, self.egress = label, expected, egress
        self.gaps: dict[tuple[str, str], str] = {}
        self.seen: set[str] = set()
        self.amounts: dict[str, dict[str, Decimal]] = {}

    def absorb(self, name: str, samples: list[Sample]) -> None:
        if name == "up":
            self._health(samples)
        elif name == "gaps":
            self._gaps(samples)
        elif name == "quota":
            self.seen.update(owner for owner, _, _ in samples)
        else:
            self._measure(name, samples)

    def _health(self, samples: list[Sample]) -> None:
        """Every measure of a namespace whose cluster has an exporter down, or none, is unknown."""
        label = self.label
        clusters = set(self.expected.values()) if label else {""}
        for source, measures in SOURCES.items():
            health = {str(metric.get(label, "")) if label else "": number(v) for _, metric, v in samples
                      if metric.get("source") == source}
            for cluster in clusters:
                state = health.get(cluster)
                if state == 1:
                    continue
                place = f" in cluster {cluster}" if cluster else ""
                why = (f"{source} has no scrape target{place}" if state is None
                       else f"a {source} scrape target{place} is down")
                for ns, its in self.expected.items():
                    if not cluster or its == cluster:
                        for measure in measures:
                            self.gaps.setdefault((ns, measure), why)

    def _gaps(self, samples: list[Sample]) -> None:
        for owner, metric, v in samples:
            kind = str(metric.get("gap", ""))
            if kind not in GAP_MEASURES:
                continue
            count = number(v)
            pods = f"{count:f}" if count is not None else "some"
            why = (f"kube-state-metrics shows {pods} running pod(s) in {owner} but cAdvisor has no container "
                   "series for it" if kind == "cadvisor" else
                   f"{pods} pod(s) in {owner} have network series but no kube_pod_info (hostNetwork unknown)")
            for measure in GAP_MEASURES[kind]:
                if measure == "bandwidth/egress" and kind == "podinfo" and self.egress:
                    continue  # an external egress source is not joined to kube_pod_info
                self.gaps.setdefault((owner, measure), why)

    def _measure(self, name: str, samples: list[Sample]) -> None:
        for owner, metric, v in samples:
            key = name
            if name == "storage":
                storage_class = str(metric.get("storageclass") or "")
                if not storage_class:
                    # A claim without a class draws from no envelope: its bytes cannot be charged,
                    # so the namespace's storage is unknown rather than silently lighter.
                    self.gaps.setdefault((owner, "storage"), f"a claim in {owner} has no storage class")
                    continue
                key = resources.storage(storage_class)
            value = number(v)
            if value is None or value < 0:
                self.gaps[owner, usage.measure(key)] = (
                    f"query {name} gave a value that is not a usable number for namespace {owner}")
                continue
            current = self.amounts.setdefault(owner, {})
            current[key] = current.get(key, Decimal(0)) + rounded(key, value)


def number(text: Any) -> Decimal | None:
    """A sample's value as Prometheus sends it (a string), or None when it is not a finite number."""
    try:
        value = Decimal(text if isinstance(text, str) else str(text))
    except (TypeError, InvalidOperation):
        return None
    return value if value.is_finite() else None


@functools.cache
def finest(key: str) -> Decimal | None:
    """The granularity a resource's amounts are rounded to (the allocator's finest), None for none."""
    try:
        return resources.FINEST[resources.kind(key)]
    except KeyError:
        return None


def rounded(key: str, value: Decimal) -> Decimal:
    step = finest(key)
    return value if step is None else (value / step).to_integral_value(ROUND_HALF_EVEN) * step
