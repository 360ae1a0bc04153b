"""Every tenant namespace's usage, read from a PromQL endpoint in a fixed number of queries.

Enforcement must cost the same whether the data centre has ten tenants or ten thousand, so each
measure is one query aggregated ``by (namespace)`` (and by the cluster label when one endpoint
serves several clusters, as Thanos or Mimir do); namespaces are mapped to tenants in Python from
dctenant's own desired state. Nine queries a cycle, whatever the size.

Missing data must never read as zero usage. One query asks ``up`` of each exporter (cAdvisor,
kubelet, kube-state-metrics): when any target of a source is down or none exists, the measures it
feeds are unknown. A namespace for which kube-state-metrics reports no dctenant quota is unknown
as well; only for namespaces it does report does an absent series mean "nothing used".

This is the only module that imports ``prometheus_api_client`` (lazily). Credentials come from
the environment (``DCTENANT_PROMETHEUS_TOKEN`` for a bearer token, or ``DCTENANT_PROMETHEUS_USER``
and ``DCTENANT_PROMETHEUS_PASSWORD`` for basic auth) and never appear in a message.
"""

from __future__ import annotations

import datetime as dt
import os
import pathlib
import time
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any

from dctenant.domain import resources, usage
from dctenant.errors import BackendError, UserError

TOKEN_ENV = "DCTENANT_PROMETHEUS_TOKEN"
USER_ENV = "DCTENANT_PROMETHEUS_USER"
PASSWORD_ENV = "DCTENANT_PROMETHEUS_PASSWORD"

METRICS = {
    "cpu": "container_cpu_usage_seconds_total",
    "memory": "container_memory_working_set_bytes",
    "gpuRequests": "kube_pod_container_resource_requests",
    "podPhase": "kube_pod_status_phase",
    "podInfo": "kube_pod_info",
    "claimRequests": "kube_persistentvolumeclaim_resource_requests_storage_bytes",
    "claimInfo": "kube_persistentvolumeclaim_info",
    "volumeUsed": "kubelet_volume_stats_used_bytes",
    "transmit": "container_network_transmit_bytes_total",
    "receive": "container_network_receive_bytes_total",
    "quota": "kube_resourcequota",
    "up": "up",
}
SOURCES = {"cadvisor": ("cpu", "memory", "bandwidth/egress", "bandwidth/ingress"),
           "kubelet": ("storage",),
           "kube-state-metrics": ("nvidia.com/gpu", "storage", "bandwidth/egress", "bandwidth/ingress")}


@dataclass(frozen=True, kw_only=True)
class Settings:
    """Where and how to ask: the endpoint, timeouts, and the names a site's scrape setup uses.

    The defaults follow kube-prometheus: cAdvisor and the kubelet's volume stats are scraped by
    job ``kubelet`` (told apart by ``metrics_path``), kube-state-metrics by its own job.
    ``cluster_label`` is empty when the endpoint serves one cluster; otherwise series are grouped
    by it too and ``clusters`` maps a pool to its value (default: the pool's name).
    """

    url: str
    timeout: float = 10.0
    rate_window: str = "5m"
    cluster_label: str = ""
    clusters: Mapping[str, str] = field(default_factory=dict)
    cadvisor: str = 'job="kubelet",metrics_path="/metrics/cadvisor"'
    kubelet: str = 'job="kubelet",metrics_path="/metrics"'
    kube_state_metrics: str = 'job="kube-state-metrics"'
    quota_name: str = "dctenant-quota"
    metrics: Mapping[str, str] = field(default_factory=lambda: dict(METRICS))

    def cluster(self, pool: str) -> str:
        return self.clusters.get(pool, pool)


_FILE_FIELDS = {"timeout": "timeout", "rateWindow": "rate_window", "clusterLabel": "cluster_label",
                "clusters": "clusters", "cadvisor": "cadvisor", "kubelet": "kubelet",
                "kubeStateMetrics": "kube_state_metrics", "quotaName": "quota_name", "metrics": "metrics"}


def settings(url: str, *, config: str | None = None, **overrides: Any) -> Settings:
    """Settings for ``url``, from an optional YAML file (keys in docs/enforcement.md) and overrides."""
    found: dict[str, Any] = {}
    if config:
        import yaml

        try:
            data = yaml.safe_load(pathlib.Path(config).read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise UserError(f"cannot read the Prometheus settings: {exc}", location=config) from None
        if not isinstance(data, dict):
            raise UserError("expected a mapping", location=config)
        for key, value in data.items():
            if key not in _FILE_FIELDS:
                raise UserError(f"unknown field {key!r} (known: {', '.join(sorted(_FILE_FIELDS))})",
                                location=f"{config} {key}")
            found[_FILE_FIELDS[key]] = value
        if "metrics" in found:
            unknown = set(found["metrics"]) - set(METRICS)
            if unknown:
                raise UserError(f"unknown metric(s) {', '.join(sorted(unknown))} (known: {', '.join(METRICS)})",
                                location=f"{config} metrics")
            found["metrics"] = {**METRICS, **found["metrics"]}
    found.update({k: v for k, v in overrides.items() if v is not None})
    return Settings(url=url, **found)


def queries(s: Settings) -> dict[str, str]:
    """The PromQL of one cycle, by name: always the same nine, whatever the number of namespaces."""
    m, c = s.metrics, (f"{s.cluster_label}, " if s.cluster_label else "")
    by, w = f"{c}namespace", s.rate_window
    cad, kub, ksm = s.cadvisor, s.kubelet, s.kube_state_metrics
    pods = f'max by ({by}, pod) ({m["podInfo"]}{{{ksm},host_network="false"}})'

    def network(metric: str) -> str:
        return f"8 * sum by ({by}) (rate({metric}{{{cad}}}[{w}]) * on ({by}, pod) group_left() {pods})"

    def storage(metric: str, selector: str) -> str:
        info = f"max by ({by}, persistentvolumeclaim, storageclass) ({m['claimInfo']}{{{ksm}}})"
        return (f"sum by ({by}, storageclass) ({metric}{{{selector}}} "
                f"* on ({by}, persistentvolumeclaim) group_left(storageclass) {info})")

    def up(source: str, selector: str) -> str:
        group = f"min by ({s.cluster_label}) " if s.cluster_label else "min "
        return f'label_replace({group}({m["up"]}{{{selector}}}), "source", "{source}", "", "")'

    running = f'(max by ({by}, pod) ({m["podPhase"]}{{{ksm},phase=~"Pending|Running"}}) == 1)'
    return {
        "up": " or ".join(up(n, sel) for n, sel in (("cadvisor", cad), ("kubelet", kub), ("kube-state-metrics", ksm))),
        "quota": f'max by ({by}, resource, type) ({m["quota"]}{{{ksm},resourcequota="{s.quota_name}"}})',
        "cpu": f'sum by ({by}) (rate({m["cpu"]}{{{cad},container!="",image!=""}}[{w}]))',
        "memory": f'sum by ({by}) ({m["memory"]}{{{cad},container!="",image!=""}})',
        "nvidia.com/gpu": (f'sum by ({by}) ({m["gpuRequests"]}{{{ksm},resource="nvidia_com_gpu"}} '
                           f"* on ({by}, pod) group_left() {running})"),
        "storage-requested": storage(m["claimRequests"], ksm),
        "storage-used": storage(m["volumeUsed"], kub),
        "bandwidth/egress": network(m["transmit"]),
        "bandwidth/ingress": network(m["receive"]),
    }


Asker = Callable[[str], list[dict[str, Any]]]


@dataclass(frozen=True, kw_only=True)
class Timing:
    query: str
    seconds: float


class Prometheus:
    """One PromQL endpoint; ``measure`` asks it one cycle's queries and records how long each took."""

    def __init__(self, s: Settings, *, ask: Asker | None = None) -> None:
        self.settings = s
        self._ask = ask or _connect(s)
        self.timings: list[Timing] = []

    def query(self, promql: str) -> list[dict[str, Any]]:
        started = time.perf_counter()
        try:
            return self._ask(promql)
        finally:
            self.timings.append(Timing(query=promql, seconds=time.perf_counter() - started))

    def measure(self, namespaces: Mapping[str, str], *, at: dt.datetime) -> usage.Usage:
        """Usage of ``namespaces`` (name → pool). An unreachable endpoint gives a Usage with ``error`` set."""
        s = self.settings
        wanted = queries(s)
        answers: dict[str, list[dict[str, Any]]] = {}
        down: dict[str, str] = {}
        for name, promql in wanted.items():
            try:
                answers[name] = self.query(promql)
            except BackendError as exc:
                if name in ("up", "quota"):  # without these nothing can be trusted
                    return usage.Usage(at=at, error=str(exc), queries=len(answers) + 1)
                down[name.split("-")[0]] = f"query {name} failed: {exc}"
        expected = {s.cluster(p) for p in namespaces.values()} if s.cluster_label else {""}
        gaps: dict[tuple[str, str], str] = {}
        for source, measures in SOURCES.items():
            health = {_label(r, s.cluster_label): _value(r) for r in answers["up"]
                      if r.get("metric", {}).get("source") == source}
            for cluster in expected:
                state = health.get(cluster)
                if state == 1:
                    continue
                where = f" in cluster {cluster}" if cluster else ""
                why = (f"{source} has no scrape target{where}" if state is None
                       else f"a {source} scrape target{where} is down")
                for ns, pool in namespaces.items():
                    if not cluster or s.cluster(pool) == cluster:
                        for m in measures:
                            gaps.setdefault((ns, m), why)
        amounts: dict[str, dict[str, Decimal]] = {}

        def belongs(row: Mapping[str, Any]) -> str | None:
            ns = row.get("metric", {}).get("namespace")
            if ns not in namespaces:
                return None
            if s.cluster_label and _label(row, s.cluster_label) != s.cluster(namespaces[ns]):
                return None
            return str(ns)

        seen = {found for row in answers["quota"] if (found := belongs(row))}
        for name, rows in answers.items():
            if name in ("up", "quota"):
                continue
            for row in rows:
                owner = belongs(row)
                if owner is None:
                    continue
                ns = owner
                key = name
                if name.startswith("storage"):
                    storage_class = str(row["metric"].get("storageclass") or "")
                    if not storage_class:
                        continue  # a claim without a class draws from no envelope
                    key = resources.storage(storage_class)
                value = _value(row)
                if value is None or value < 0:
                    gaps[ns, usage.measure(key)] = (
                        f"query {name} gave a value that is not a usable number for namespace {ns}")
                    continue
                amount = _round(key, value)
                current = amounts.setdefault(ns, {})
                # Storage held is the larger of what is claimed and what is written.
                current[key] = max(current.get(key, Decimal(0)), amount)
        return usage.Usage(at=at, amounts=amounts, seen=frozenset(seen), down=down, gaps=gaps,
                           queries=len(wanted))


def _label(row: Mapping[str, Any], name: str) -> str:
    return str(row.get("metric", {}).get(name, "")) if name else ""


def _value(row: Mapping[str, Any]) -> Decimal | None:
    try:
        value = Decimal(str(row["value"][1]))
    except (KeyError, IndexError, TypeError, InvalidOperation):
        return None
    return value if value.is_finite() else None


def _round(key: str, value: Decimal) -> Decimal:
    try:
        step = resources.FINEST[resources.kind(key)]
    except KeyError:
        return value
    return (value / step).to_integral_value(ROUND_HALF_EVEN) * step


def redact(url: str) -> str:
    """The URL without user information or query string, for messages."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urllib.parse.urlunsplit((parts.scheme, host, parts.path, "", ""))


def _connect(s: Settings) -> Asker:
    """A function that runs one instant query through prometheus-api-client with auth from the environment."""
    import requests
    from prometheus_api_client import PrometheusConnect
    from prometheus_api_client.exceptions import PrometheusApiClientException
    from urllib3.util.retry import Retry

    headers: dict[str, str] = {}
    auth: tuple[str, str] | None = None
    if os.environ.get(TOKEN_ENV):
        headers["Authorization"] = f"Bearer {os.environ[TOKEN_ENV]}"
    elif os.environ.get(USER_ENV):
        auth = (os.environ[USER_ENV], os.environ.get(PASSWORD_ENV, ""))
    where = redact(s.url)
    try:
        client = PrometheusConnect(url=s.url.rstrip("/"), headers=headers or None, auth=auth,
                                   retry=Retry(total=0), timeout=s.timeout)
    except (ValueError, TypeError) as exc:
        raise BackendError(f"Prometheus at {where}: {exc}") from None

    def ask(promql: str) -> list[dict[str, Any]]:
        try:
            result: list[dict[str, Any]] = client.custom_query(
                promql, params={"timeout": f"{round(s.timeout * 1000)}ms"}, timeout=s.timeout)
        except requests.exceptions.Timeout:
            raise BackendError(f"Prometheus at {where} did not answer within {s.timeout:g} s") from None
        except requests.exceptions.RequestException as exc:
            raise BackendError(f"Prometheus at {where} is unreachable ({type(exc).__name__})") from None
        except PrometheusApiClientException as exc:
            raise BackendError(f"Prometheus at {where} refused a query: {str(exc)[:300]}") from None
        except ValueError:
            raise BackendError(f"Prometheus at {where} did not answer JSON") from None
        return result

    return ask



def post_alerts(url: str, alerts: list[dict[str, Any]], *, timeout: float) -> None:
    """POST alerts to an Alertmanager-compatible webhook (``/api/v2/alerts`` format); errors name no secret."""
    import json
    import urllib.error
    import urllib.request

    request = urllib.request.Request(url, data=json.dumps(alerts).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            answer.read()
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise BackendError(f"webhook at {redact(url)} failed: {type(exc).__name__}") from None


def sources(s: Settings) -> dict[str, str]:
    """The ``up`` selector of each exporter the measures come from."""
    return {"cadvisor": s.cadvisor, "kubelet": s.kubelet, "kube-state-metrics": s.kube_state_metrics}
