"""Every tenant namespace's usage, read from a PromQL endpoint in a fixed number of queries.

Enforcement must cost the same whether the data centre has ten tenants or ten thousand, so each
measure is one query aggregated ``by (namespace)`` (and by the cluster label when one endpoint
serves several clusters, as Thanos or Mimir do); namespaces are mapped to tenants in Python from
dctenant's own desired state. Nine queries a cycle, whatever the size.

Missing data must never read as zero usage. One query asks ``up`` of each exporter (cAdvisor,
kubelet, kube-state-metrics): when any target of a source is down or none exists, the measures it
feeds are unknown. A namespace for which kube-state-metrics reports no dctenant quota is unknown
as well; only for namespaces it does report does an absent series mean "nothing used".

A cycle's queries are sent before the caller has the namespaces (``Prometheus.ask``) and read
back with them (``Prometheus.collect``, folding each answer with ``clients.cycle_answers`` as it
arrives), so that the caller's own work overlaps Prometheus'; ``Settings.concurrency`` of them are
in flight at once (default 1).

This is the only module that imports ``prometheus_api_client`` (lazily). Credentials come from
the environment (``DCTENANT_PROMETHEUS_TOKEN`` for a bearer token, or ``DCTENANT_PROMETHEUS_USER``
and ``DCTENANT_PROMETHEUS_PASSWORD`` for basic auth) and never appear in a message.
"""

from __future__ import annotations

import concurrent.futures
import datetime as dt
import os
import pathlib
import re
import threading
import time
import urllib.parse
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from dctenant.clients import cycle_answers
from dctenant.domain import pools, usage
from dctenant.errors import BackendError, UserError

TOKEN_ENV = "DCTENANT_PROMETHEUS_TOKEN"
USER_ENV = "DCTENANT_PROMETHEUS_USER"
PASSWORD_ENV = "DCTENANT_PROMETHEUS_PASSWORD"

METRICS = {
    "cpu": "container_cpu_usage_seconds_total",
    "memory": "container_memory_working_set_bytes",
    "gpuRequests": "kube_pod_container_resource_requests",
    "gpuInitRequests": "kube_pod_init_container_resource_requests",
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
CYCLE = ("up", "quota", "gaps", "cpu", "memory", "nvidia.com/gpu", "storage", "bandwidth/egress",
         "bandwidth/ingress")
"""The queries of one enforcement cycle, in the order they are asked: nine, whatever the size."""


@dataclass(frozen=True, kw_only=True)
class Settings:
    """Where and how to ask: the endpoint, timeouts, and the names a site's scrape setup uses.

    The defaults follow kube-prometheus: cAdvisor and the kubelet's volume stats are scraped by
    job ``kubelet`` (told apart by ``metrics_path``), kube-state-metrics by its own job.
    ``cluster_label`` and ``clusters`` override ``spec.prometheus.clusterLabel`` and the pools'
    ``cluster`` of ``quotas/datacentre.yaml`` (empty: take those). ``step`` is the resolution of
    the history that sustained breaches and recoveries are judged on. ``concurrency`` is how many
    of a cycle's queries are in flight at once (1: one after the other).
    """

    url: str
    timeout: float = 10.0
    concurrency: int = 1
    rate_window: str = "5m"
    step: str = "1m"
    cluster_label: str = ""
    clusters: Mapping[str, str] = field(default_factory=dict)
    cadvisor: str = 'job="kubelet",metrics_path="/metrics/cadvisor"'
    kubelet: str = 'job="kubelet",metrics_path="/metrics"'
    kube_state_metrics: str = 'job="kube-state-metrics"'
    quota_name: str = "dctenant-quota"
    metrics: Mapping[str, str] = field(default_factory=lambda: dict(METRICS))

    def cluster(self, pool: str) -> str:
        return self.clusters.get(pool, pool)

    @property
    def step_seconds(self) -> int:
        return _seconds(self.step, field_name="step")


MAX_CONCURRENCY = len(CYCLE)
_FILE_FIELDS = {"timeout": "timeout", "concurrency": "concurrency", "rateWindow": "rate_window", "step": "step",
                "clusterLabel": "cluster_label",
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
    made = Settings(url=url, **found)
    made.step_seconds  # noqa: B018 - a bad step is reported now, not in the middle of a cycle
    if type(made.concurrency) is not int or not 1 <= made.concurrency <= MAX_CONCURRENCY:
        raise UserError(f"concurrency {made.concurrency!r} is not a whole number from 1 to {MAX_CONCURRENCY} "
                        "(the queries of one cycle); write e.g. concurrency: 4",
                        location=f"{config} concurrency" if config and "concurrency" in found else "concurrency")
    return made


@dataclass(frozen=True, kw_only=True)
class Scope:
    """Which series a cycle may touch: the cluster label's values of its pools, and the egress source.

    On a shared endpoint every selector carries ``label="value"`` (or ``=~"a|b"`` for several
    pools), so a pool's queries never read another pool's series. ``label`` empty: no filter.
    ``egress`` is a PromQL selector of an external-only byte counter, or empty for cAdvisor.
    """

    label: str = ""
    clusters: Mapping[str, str] = field(default_factory=dict)  # pool → value of the label
    egress: str = ""

    @property
    def matcher(self) -> str:
        """``,cluster="thr-ab"`` to append to a selector; empty without a label."""
        if not self.label or not self.clusters:
            return ""
        values = sorted(set(self.clusters.values()))
        if len(values) == 1:
            return f',{self.label}="{_escape(values[0])}"'
        return f',{self.label}=~"{"|".join(_escape(re.escape(v)) for v in values)}"'

    def cluster(self, pool: str) -> str:
        return self.clusters.get(pool, "")


def scope(s: Settings, datacentre: pools.DataCentre, pool_names: Collection[str] = ()) -> Scope:
    """The scope of a cycle over ``pool_names`` (all pools when empty), from quotas/ unless overridden."""
    chosen = [p for p in datacentre.pools if not pool_names or p.name in pool_names]
    label = s.cluster_label or datacentre.metrics.cluster_label
    clusters = {p.name: s.clusters.get(p.name) or (p.cluster_value if not s.cluster_label else p.name)
                for p in chosen}
    return Scope(label=label, clusters=clusters, egress=datacentre.metrics.egress)


def _legacy_scope(s: Settings, pool_names: Collection[str] = ()) -> Scope:
    """The scope from the settings alone, for callers without a data centre (self-service, reports)."""
    return Scope(label=s.cluster_label, clusters={p: s.cluster(p) for p in pool_names})


def queries(s: Settings, where: Scope | None = None) -> dict[str, str]:
    """The PromQL of the per-namespace measures by name (``CYCLE`` lists those one cycle asks).

    ``storage`` is the storage held per class: the larger of claimed and written *per claim*, each
    claim counted once however many nodes mount it. ``storage-requested`` and ``storage-used`` are
    its two halves, kept for dashboards and reports.
    """
    w = where or _legacy_scope(s)
    m, f = s.metrics, w.matcher
    label = w.label if w.clusters else s.cluster_label
    by = f"{label}, namespace" if label else "namespace"
    rate = s.rate_window
    cad, kub, ksm = s.cadvisor + f, s.kubelet + f, s.kube_state_metrics + f
    # Containers only: the pod's own cgroup (container="") and the sandbox of dockershim/cri-dockerd
    # (container="POD") repeat the containers' usage or the pause process's.
    containers = f'{cad},container!="",container!="POD",image!=""'
    pods = f'max by ({by}, pod) ({m["podInfo"]}{{{ksm},host_network="false"}})'
    running = f'(max by ({by}, pod) ({m["podPhase"]}{{{ksm},phase=~"Pending|Running"}}) == 1)'

    def network(metric: str) -> str:
        # One series per pod and interface however many containers report the pod's network namespace.
        per_pod = f"max by ({by}, pod, interface) (rate({metric}{{{cad}}}[{rate}]))"
        return f"8 * sum by ({by}) ({per_pod} * on ({by}, pod) group_left() {pods})"

    def larger(a: str, b: str) -> str:
        """max(a, b) per series, either side may be missing."""
        return f"(({a}) >= ({b}) or ({b}) or ({a}))"

    def per_claim(metric: str, selector: str) -> str:
        return f"max by ({by}, persistentvolumeclaim) ({metric}{{{selector}}})"

    def by_class(per: str) -> str:
        info = f"max by ({by}, persistentvolumeclaim, storageclass) ({m['claimInfo']}{{{ksm}}})"
        return f"sum by ({by}, storageclass) ({per} * on ({by}, persistentvolumeclaim) group_left(storageclass) {info})"

    def up(source: str, selector: str) -> str:
        group = f"min by ({label}) " if label else "min "
        return f'label_replace({group}({m["up"]}{{{selector}}}), "source", "{source}", "", "")'

    def gpu(metric: str) -> str:
        return f'max by ({by}, pod) ({m[metric]}{{{ksm},resource="nvidia_com_gpu"}})'

    egress = f"8 * sum by ({by}) (rate({_with(w.egress, f)}[{rate}]))" if w.egress else network(m["transmit"])
    claimed, written = per_claim(m["claimRequests"], ksm), per_claim(m["volumeUsed"], kub)
    # Kubernetes' effective request of a pod: the larger of its largest init container and the sum
    # of its app containers (init containers run one at a time, before the others).
    app_gpus = f'sum by ({by}, pod) ({m["gpuRequests"]}{{{ksm},resource="nvidia_com_gpu"}})'
    running_pods = f'count by ({by}) ({running} * on ({by}, pod) group_left() {pods})'
    measured = f"count by ({by}) ({m['memory']}{{{containers}}})"
    listed = f'count by ({by}, pod) ({m["transmit"]}{{{cad}}})'
    return {
        "up": " or ".join(up(n, sel) for n, sel in (("cadvisor", cad), ("kubelet", kub), ("kube-state-metrics", ksm))),
        "quota": f'count by ({by}) ({m["quota"]}{{{ksm},resourcequota="{s.quota_name}"}})',
        "gaps": (f'label_replace({running_pods} unless on ({by}) {measured}, "gap", "cadvisor", "", "") or '
                 f'label_replace(count by ({by}) ({listed} unless on ({by}, pod) {m["podInfo"]}{{{ksm}}}), '
                 f'"gap", "podinfo", "", "")'),
        "cpu": f'sum by ({by}) (rate({m["cpu"]}{{{containers}}}[{rate}]))',
        "memory": f'sum by ({by}) ({m["memory"]}{{{containers}}})',
        "nvidia.com/gpu": (f"sum by ({by}) ({larger(gpu('gpuInitRequests'), app_gpus)} "
                           f"* on ({by}, pod) group_left() {running})"),
        "storage": by_class(larger(claimed, written)),
        "storage-requested": by_class(claimed),
        "storage-used": by_class(written),
        "bandwidth/egress": egress,
        "bandwidth/ingress": network(m["receive"]),
    }


Asker = Callable[[str], list[dict[str, Any]]]
RangeAsker = Callable[[str, float, float, float], list[dict[str, Any]]]
"""``(promql, start, end, step)`` → the matrix' rows (``{"metric": …, "values": [[t, "v"], …]}``)."""


@dataclass(frozen=True, kw_only=True)
class Timing:
    query: str
    seconds: float


@dataclass(frozen=True, kw_only=True)
class Asked:
    """A cycle's range queries in flight (``Prometheus.ask``), to be read by ``Prometheus.collect``.

    ``start`` and ``count`` place the answers on the grid of points judged: ``count + 1`` points
    ``pace`` seconds apart, the last at ``now``.
    """

    where: Scope
    now: dt.datetime
    window: int
    start: float
    count: int
    pace: int
    answers: Mapping[str, concurrent.futures.Future[list[dict[str, Any]]]]


class Prometheus:
    """One PromQL endpoint; ``history`` asks it one cycle's queries and records how long each took."""

    def __init__(self, s: Settings, *, ask: Asker | None = None, ask_range: RangeAsker | None = None) -> None:
        self.settings = s
        if ask is None and ask_range is None:
            ask, ask_range = _connect(s)
        self._ask = ask
        self._ask_range = ask_range
        self.timings: list[Timing] = []  # appended by the worker threads too (list.append is atomic)
        self._workers: concurrent.futures.ThreadPoolExecutor | None = None

    def close(self) -> None:
        """End the worker threads (queries already sent are finished first)."""
        if self._workers is not None:
            self._workers.shutdown(wait=True, cancel_futures=True)
            self._workers = None

    def query(self, promql: str) -> list[dict[str, Any]]:
        started = time.perf_counter()
        try:
            if self._ask is None:
                raise BackendError("no instant query function")
            return self._ask(promql)
        finally:
            self.timings.append(Timing(query=promql, seconds=time.perf_counter() - started))

    def query_range(self, promql: str, *, start: float, end: float, step: float) -> list[dict[str, Any]]:
        """A range query; an endpoint given only an instant asker answers a zero-length range with it."""
        if self._ask_range is None:
            if start != end:
                raise BackendError("this client can only ask instant queries")
            return [{"metric": r.get("metric", {}), "values": [r["value"]]} for r in self.query(promql)
                    if "value" in r]
        started = time.perf_counter()
        try:
            return self._ask_range(promql, start, end, step)
        finally:
            self.timings.append(Timing(query=promql, seconds=time.perf_counter() - started))

    def measure(self, namespaces: Mapping[str, str], *, at: dt.datetime) -> usage.Usage:
        """Usage of ``namespaces`` (name → pool) now; an unreachable endpoint gives a Usage with ``error``."""
        where = _legacy_scope(self.settings, set(namespaces.values()))
        return self.history(namespaces, where=where, now=at, window=0).latest

    def history(self, namespaces: Mapping[str, str], *, where: Scope, now: dt.datetime, window: int,
                step: int | None = None) -> usage.Series:
        """Usage of ``namespaces`` (name → pool) at every ``step`` of the last ``window`` seconds, up to ``now``.

        Every query of the cycle is one range query, so each point is judged with the same rules as
        the current one (an exporter down or a namespace's series missing at that time: unknown).
        """
        try:
            return self.collect(self.ask(where=where, now=now, window=window, step=step), namespaces)
        finally:
            self.close()  # a one-off reading: no threads left behind

    def ask(self, *, where: Scope, now: dt.datetime, window: int, step: int | None = None) -> Asked:
        """Send the cycle's queries (``settings.concurrency`` at a time) and return at once.

        The queries need only the scope, not the namespaces: a caller can load and allocate the
        data centre while Prometheus evaluates them, and the answers are parsed in the worker
        threads while Prometheus still works on the next queries.
        """
        pace = step or self.settings.step_seconds
        count = window // pace
        now = now.replace(microsecond=0)  # the range's ends are whole seconds
        end = now.timestamp()
        start = end - count * pace
        wanted = queries(self.settings, where)
        if self._workers is None:
            self._workers = concurrent.futures.ThreadPoolExecutor(max_workers=self.settings.concurrency,
                                                                  thread_name_prefix="dctenant-promql")
        answers = {name: self._workers.submit(self.query_range, wanted[name], start=start, end=end, step=pace)
                   for name in CYCLE}
        return Asked(where=where, now=now, window=window, start=start, count=count, pace=pace, answers=answers)

    def collect(self, asked: Asked, namespaces: Mapping[str, str]) -> usage.Series:
        """The usage of ``namespaces`` (name → pool) at each point of ``asked``, once its answers are in.

        Each answer is folded into the points as soon as it is in, in ``CYCLE`` order (so that the
        first reason found for a gap is the one kept, whatever the timing), while Prometheus works on
        the next queries: only the last answer's share is left when the last query returns.
        """
        where, start, count, pace, now = asked.where, asked.start, asked.count, asked.pace, asked.now
        label = where.label if where.clusters else self.settings.cluster_label
        expected = {ns: where.cluster(pool) or self.settings.cluster(pool) for ns, pool in namespaces.items()}
        drafts = [cycle_answers.Draft(label=label, expected=expected, egress=bool(where.egress))
                  for _ in range(count + 1)]
        down: dict[str, str] = {}
        for name in CYCLE:
            try:
                rows = asked.answers[name].result()
            except BackendError as exc:
                if name in ("up", "quota"):  # without these nothing can be trusted
                    for pending in asked.answers.values():
                        pending.cancel()
                    asked_so_far = sum(1 for f in asked.answers.values() if not f.cancelled())
                    return usage.Series.of(usage.Usage(at=now, error=str(exc), queries=asked_so_far), step=pace)
                down[usage.measure(name) if name != "gaps" else "gaps"] = f"query {name} failed: {exc}"
                continue
            # Per point, the samples of this query for the cycle's namespaces at that time.
            slots: list[list[cycle_answers.Sample]] = [[] for _ in range(count + 1)]
            everyone = name == "up"
            for row in rows:
                metric = row.get("metric") or {}
                owner = "" if everyone else str(metric.get("namespace", ""))
                if not everyone:
                    # A series counts only for a namespace of the cycle in that namespace's own cluster.
                    cluster = expected.get(owner)
                    if cluster is None or (label and str(metric.get(label, "")) != cluster):
                        continue
                for t, v in row.get("values") or ():
                    index = round((float(t) - start) / pace)
                    if 0 <= index <= count:
                        slots[index].append((owner, metric, v))
            for draft, samples in zip(drafts, slots, strict=True):
                draft.absorb(name, samples)
        if "gaps" in down:  # without it a vanished namespace could read as zero: every measure it guards
            why = down.pop("gaps")
            for measures in cycle_answers.GAP_MEASURES.values():
                for measure in measures:
                    down.setdefault(measure, why)
        return usage.Series(points=tuple(
            usage.Usage(at=now - dt.timedelta(seconds=(count - i) * pace), amounts=d.amounts, seen=frozenset(d.seen),
                        down=down, gaps=d.gaps, queries=len(CYCLE))
            for i, d in enumerate(drafts)), step=pace)


def _with(selector: str, matcher: str) -> str:
    """``metric{a="b"}`` with ``matcher`` (``,cluster="x"``) added to its label matchers."""
    if not matcher:
        return selector
    if selector.endswith("}"):
        inner = selector[selector.index("{") + 1:-1].strip()
        return f"{selector[:selector.index('{')]}{{{inner}{matcher if inner else matcher[1:]}}}"
    return f"{selector}{{{matcher[1:]}}}"


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def _seconds(text: str, *, field_name: str) -> int:
    found = re.fullmatch(r"\s*(\d+)\s*(s|m|h)?\s*", str(text))
    if not found or int(found.group(1)) == 0:
        raise UserError(f"{field_name} {text!r} is not a duration; write e.g. 30s, 1m or 5m", location=field_name)
    return int(found.group(1)) * {"s": 1, "m": 60, "h": 3600, None: 1}[found.group(2)]


def redact(url: str) -> str:
    """The URL without user information or query string, for messages."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urllib.parse.urlunsplit((parts.scheme, host, parts.path, "", ""))


def _connect(s: Settings) -> tuple[Asker, RangeAsker]:
    """Functions that run an instant and a range query through prometheus-api-client, auth from the environment."""
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
        PrometheusConnect(url=s.url.rstrip("/"), headers=headers or None, auth=auth, retry=Retry(total=0),
                          timeout=s.timeout)  # a bad URL is reported now, not in a worker thread
    except (ValueError, TypeError) as exc:
        raise BackendError(f"Prometheus at {where}: {exc}") from None
    params = {"timeout": f"{round(s.timeout * 1000)}ms"}
    # One client (a requests session and its connection) per thread: a cycle's queries run in
    # several threads at once (``Settings.concurrency``), and requests does not promise that a
    # session may be shared between threads. ``Prometheus`` keeps its threads, and so their
    # connections, from one cycle to the next.
    local = threading.local()

    def client() -> Any:
        made = getattr(local, "client", None)
        if made is None:
            made = local.client = PrometheusConnect(url=s.url.rstrip("/"), headers=headers or None, auth=auth,
                                                    retry=Retry(total=0), timeout=s.timeout)
        return made

    def guarded(call: Callable[[], list[dict[str, Any]]]) -> list[dict[str, Any]]:
        try:
            return call()
        except requests.exceptions.Timeout:
            raise BackendError(f"Prometheus at {where} did not answer within {s.timeout:g} s") from None
        except requests.exceptions.RequestException as exc:
            raise BackendError(f"Prometheus at {where} is unreachable ({type(exc).__name__})") from None
        except PrometheusApiClientException as exc:
            raise BackendError(f"Prometheus at {where} refused a query: {str(exc)[:300]}") from None
        except ValueError:
            raise BackendError(f"Prometheus at {where} did not answer JSON") from None

    def ask(promql: str) -> list[dict[str, Any]]:
        return guarded(lambda: client().custom_query(promql, params=params, timeout=s.timeout))

    def ask_range(promql: str, start: float, end: float, step: float) -> list[dict[str, Any]]:
        # Whole seconds: the client rounds the range's ends to seconds, and the points must fall on
        # the grid that the cycle judges (``Prometheus.history`` keeps its ends whole).
        begin, until = (dt.datetime.fromtimestamp(t, dt.UTC) for t in (start, end))
        return guarded(lambda: client().custom_query_range(promql, begin, until, f"{step:g}", params=params,
                                                         timeout=s.timeout))

    return ask, ask_range


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


def sources(s: Settings, where: Scope | None = None) -> dict[str, str]:
    """The ``up`` selector of each exporter the measures come from (with the scope's cluster matcher)."""
    f = (where or _legacy_scope(s)).matcher
    return {"cadvisor": s.cadvisor + f, "kubelet": s.kubelet + f, "kube-state-metrics": s.kube_state_metrics + f}
