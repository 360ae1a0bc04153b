"""Prometheus recording and alert rules per pool, so that breaches page people even without dctenant running.

The enforcer decides from the same measurements, but alerts belong in Prometheus and Alertmanager,
where the on-call staff already look. Each pool's Prometheus gets:

* recording rules: the enforcer's per-namespace usage expressions (``dctenant:namespace_*``), the
  namespace → tenant mapping (``dctenant:namespace:info``), each tenant's envelope per resource
  (``dctenant:tenant_envelope``), its usage (``dctenant:tenant_usage``) and their ratio, and the
  licence dates and status as series;
* alerts: a tenant near (``warningAt``) or over (``breachAt`` for ``sustainedFor``) its envelope,
  bandwidth over its envelope, a licence expiring, in grace, expired or suspended, and the
  enforcer's data missing (an exporter down, a tenant namespace not seen by kube-state-metrics).

Rendered both as a plain rules file (``promtool check rules``, or a Prometheus without the
operator) and as a ``monitoring.coreos.com/v1`` ``PrometheusRule``. Pure and deterministic: the
expressions and selectors come from the caller (the same text the enforcer queries with).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from dctenant.domain import allocations, quotas, resources, usage
from dctenant.render import capacity_rules

Rules = dict[str, Any]
INFO = "dctenant:namespace:info"
ENVELOPE = "dctenant:tenant_envelope"
USAGE = "dctenant:tenant_usage"
RATIO = "dctenant:tenant_usage:ratio"
EXPIRY = "dctenant:tenant_licence_expiry:timestamp"
GRACE_END = "dctenant:tenant_licence_grace_end:timestamp"
STATUS = "dctenant:tenant_licence:status"
NAMESPACE_RECORDS = {"cpu": "dctenant:namespace_cpu:cores", "memory": "dctenant:namespace_memory:bytes",
                     "nvidia.com/gpu": "dctenant:namespace_gpu:requests",
                     "storage": "dctenant:namespace_storage_held:bytes",
                     "storage-requested": "dctenant:namespace_storage_requested:bytes",
                     "storage-used": "dctenant:namespace_storage_used:bytes",
                     "bandwidth/egress": "dctenant:namespace_egress:bps",
                     "bandwidth/ingress": "dctenant:namespace_ingress:bps"}
RULES_FILE = "_prometheus-rules.yaml"
RULE_OBJECT_FILE = "_prometheusrule.yaml"


def rules(model: quotas.Quotas, allocation: allocations.Allocation, *, pool: str, queries: Mapping[str, str],
          sources: Mapping[str, str]) -> Rules:
    """The rules file of one pool: ``{"groups": [...]}``.

    ``queries`` are the enforcer's per-namespace expressions by measure (``clients.prometheus.queries``,
    scoped to the pool's cluster label and the data centre's egress source) and ``sources`` the
    ``up`` selector of each exporter; both are passed in so that the rules and the enforcer cannot
    disagree on what usage means, or on which cluster's series they read.
    """
    spaces = sorted((g for g in allocation.namespaces if g.pool == pool), key=lambda g: g.namespace)
    tenant_ids = sorted({g.tenant for g in spaces})
    records = [*_measure_records(queries), *_info_records(model, spaces, pool),
               *_envelope_records(allocation, tenant_ids, pool), *_usage_records(),
               *_licence_records(model, tenant_ids)]
    return {"groups": [{"name": f"dctenant-{pool}-usage", "rules": records},
                       capacity_rules.group(model.datacentre.pool(pool)),
                       {"name": f"dctenant-{pool}-alerts", "rules": _alerts(model, pool, queries, sources)}]}


def _measure_records(queries: Mapping[str, str]) -> list[dict[str, Any]]:
    """The enforcer's own per-namespace expressions, recorded as they are."""
    return [{"record": record, "expr": queries[name]} for name, record in NAMESPACE_RECORDS.items()]


def _info_records(model: quotas.Quotas, spaces: list[allocations.NamespaceQuota], pool: str) -> list[dict[str, Any]]:
    """``dctenant:namespace:info``: which tenant each namespace of the pool belongs to, and in which cluster.

    The cluster label (when pools share an endpoint) lets dashboards join raw series on cluster and
    namespace: a namespace of the same name in another cluster is not this tenant's.
    """
    label = model.datacentre.metrics.cluster_label
    where = {label: model.datacentre.pool(pool).cluster_value} if label else {}
    return [{"record": INFO, "expr": "vector(1)", "labels": {"namespace": g.namespace, "tenant": g.tenant,
                                                            "pool": pool, **where}} for g in spaces]


def _envelope_records(allocation: allocations.Allocation, tenant_ids: list[str], pool: str) -> list[dict[str, Any]]:
    """Each tenant's envelope per resource, as a constant (re-render after a change to quotas/)."""
    out: list[dict[str, Any]] = []
    for tid in tenant_ids:
        share = allocation.tenants[tid].shares.get(pool)
        if share is None:
            continue
        for key in resources.ordered(share.envelope):
            out.append({"record": ENVELOPE, "expr": f"vector({resources.plain(share.envelope[key])})",
                        "labels": {"tenant": tid, "pool": pool, "resource": key}})
    return out


def _usage_records() -> list[dict[str, Any]]:
    """Tenant usage per resource (the sum over its namespaces) and its ratio to the envelope."""
    join = f"* on (namespace) group_left (tenant, pool) {INFO}"
    out: list[dict[str, Any]] = [
        {"record": USAGE, "expr": f'label_replace(sum by (tenant, pool) ({NAMESPACE_RECORDS[name]} {join}), '
                                  f'"resource", "{name}", "", "")'}
        for name in ("cpu", "memory", "nvidia.com/gpu", "bandwidth/egress", "bandwidth/ingress")]
    # Storage held per class: the larger of claimed and written per claim, as the enforcer reads it.
    storage = f"sum by (tenant, pool, storageclass) ({NAMESPACE_RECORDS['storage']} {join})"
    out.append({"record": USAGE, "expr": f'label_replace({storage}, "resource", "storage/$1", "storageclass", '
                                         '"(.+)")'})
    out.append({"record": RATIO, "expr": f"max without (storageclass) ({USAGE}) / on (tenant, pool, resource) "
                                         f"{ENVELOPE}"})
    return out


def _licence_records(model: quotas.Quotas, tenant_ids: list[str]) -> list[dict[str, Any]]:
    """Licence expiry, end of grace and status as series, for the licence alerts and dashboards."""
    by_id = {t.id: t for t in model.tenants}
    out: list[dict[str, Any]] = []
    for tid in tenant_ids:
        lic = by_id[tid].licence
        grace_end = lic.expires + dt.timedelta(days=model.policy.licences.grace_days + 1)
        labels = {"tenant": tid, "licence": lic.number}
        out += [{"record": EXPIRY, "expr": f"vector({_epoch(lic.expires + dt.timedelta(days=1))})", "labels": labels},
                {"record": GRACE_END, "expr": f"vector({_epoch(grace_end)})", "labels": labels},
                {"record": STATUS, "expr": "vector(1)", "labels": {**labels, "status": lic.status.value}}]
    return out


def _alert(pool: str, name: str, expr: str, *, severity: str, summary: str, for_: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"alert": name, "expr": expr, "labels": {"severity": severity, "pool": pool},
                           "annotations": {"summary": summary}}
    if for_:
        out["for"] = for_
    return out


def _alerts(model: quotas.Quotas, pool: str, queries: Mapping[str, str],
            sources: Mapping[str, str]) -> list[dict[str, Any]]:
    """Envelope, licence and missing-data alerts of one pool."""
    e = model.policy.enforcement
    warning, breach, sustained = _ratio(e.warning_at), _ratio(e.breach_at), _duration(e.sustained_for)
    days = model.policy.licences.warning_days
    out = [
        _alert(pool, "DctenantTenantNearEnvelope", f"{RATIO} >= {warning} and {RATIO} <= {breach}",
               severity="warning", for_="5m",
               summary="{{ $labels.tenant }} uses {{ $value | humanizePercentage }} of its "
                       "{{ $labels.resource }} envelope in pool {{ $labels.pool }}"),
        _alert(pool, "DctenantTenantOverEnvelope", f'{RATIO}{{resource!~"bandwidth/.*"}} > {breach}',
               severity="critical", for_=sustained,
               summary="{{ $labels.tenant }} is over its {{ $labels.resource }} envelope "
                       "({{ $value | humanizePercentage }}) in pool {{ $labels.pool }}"),
        _alert(pool, "DctenantBandwidthOverEnvelope", f'{RATIO}{{resource=~"bandwidth/.*"}} > {breach}',
               severity="critical", for_=sustained,
               summary="{{ $labels.tenant }} {{ $labels.resource }} is at "
                       "{{ $value | humanizePercentage }} of its envelope in pool {{ $labels.pool }}"),
        _alert(pool, "DctenantLicenceExpiring", f"({EXPIRY} - time()) < {days * 86400} and ({EXPIRY} - time()) > 0",
               severity="warning", summary="{{ $labels.tenant }} licence {{ $labels.licence }} expires in "
                                           "{{ $value | humanizeDuration }}"),
        _alert(pool, "DctenantLicenceInGrace", f"time() >= {EXPIRY} and time() < {GRACE_END}", severity="warning",
               summary="{{ $labels.tenant }} licence {{ $labels.licence }} has expired; served in grace"),
        _alert(pool, "DctenantLicenceExpired", f"time() >= {GRACE_END}", severity="critical",
               summary="{{ $labels.tenant }} licence {{ $labels.licence }} expired beyond grace: suspend the tenant"),
        _alert(pool, "DctenantLicenceSuspended", f'{STATUS}{{status!="active"}}', severity="critical",
               summary="{{ $labels.tenant }} licence {{ $labels.licence }} is {{ $labels.status }}"),
        _alert(pool, "DctenantNamespaceNotMeasured", f"{INFO} unless on (namespace) ({queries['quota']})",
               severity="warning", for_="10m",
               summary="kube-state-metrics reports no dctenant quota for {{ $labels.namespace }}: "
                       "its usage is unknown to the enforcer"),
    ]
    for source, selector in sorted(sources.items()):
        missing = f"absent(up{{{selector}}}) or min(up{{{selector}}}) < 1"
        out.append(_alert(pool, "DctenantEnforcementDataMissing", missing, severity="critical", for_="5m",
                          summary=f"{source} ({selector}) is down or not scraped: enforcement cannot measure "
                                  f"{', '.join(m for m in usage.MEASURES if _feeds(source, m))}"))
        out[-1]["labels"]["source"] = source
    return out


def rule_object(model: quotas.Quotas, pool: str, groups: Rules) -> dict[str, Any]:
    """The same groups as a prometheus-operator ``PrometheusRule`` in the monitoring namespace."""
    return {"apiVersion": "monitoring.coreos.com/v1", "kind": "PrometheusRule",
            "metadata": {"name": "dctenant-enforcement", "namespace": model.policy.kubernetes.monitoring_namespace,
                         "labels": {"app.kubernetes.io/managed-by": "dctenant", "dctenant.io/pool": pool}},
            "spec": groups}


_FEEDS = {"cadvisor": ("cpu", "memory", "bandwidth/egress", "bandwidth/ingress"), "kubelet": ("storage",),
          "kube-state-metrics": usage.MEASURES}


def _feeds(source: str, measure: str) -> bool:
    return measure in _FEEDS.get(source, ())


def _ratio(value: Decimal) -> str:
    return resources.plain(value)


def _duration(seconds: int) -> str:
    return f"{seconds}s" if seconds % 60 else f"{seconds // 60}m"


def _epoch(day: dt.date) -> int:
    """Midnight UTC at the start of ``day``, in seconds (the licence is valid through the day before)."""
    return int(dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp())
