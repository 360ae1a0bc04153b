"""A workload simulator: cAdvisor-, kubelet- and kube-state-metrics-shaped series for chosen namespaces.

There is no cluster here, so tests (and the benchmark) let a real Prometheus scrape this exporter
instead. It serves three paths, as the three real sources would be scraped:

* ``/metrics/cadvisor``: ``container_cpu_usage_seconds_total`` and ``container_memory_working_set_bytes``
  per container, plus the pod-level cgroup series (``container=""``) and the dockershim/cri-dockerd
  sandbox (``container="POD"``, the pause image, 64 MiB) that queries must not count, and
  ``container_network_{transmit,receive}_bytes_total`` per pod (with ``dockershim``, reported by
  the app container and the sandbox alike, as cri-dockerd does: the same network namespace twice);
* ``/metrics`` (kubelet): ``kubelet_volume_stats_used_bytes`` per claim and per node that mounts it
  (a ReadWriteMany claim on two nodes appears twice);
* ``/metrics/ksm`` (kube-state-metrics): ``kube_pod_info`` (with ``host_network``),
  ``kube_pod_status_phase``, GPU requests of app and init containers, claims with their storage
  class and size, and ``kube_resourcequota`` of the ``dctenant-quota`` object.

A namespace can lose its cAdvisor series while kube-state-metrics still lists its pods
(``cadvisor=False``), and a pod can be missing from ``kube_pod_info`` (``listed=False``).
``openmetrics`` writes the same series as a history for ``promtool tsdb create-blocks-from
openmetrics``, labelled as the scrape would label them.

Counters grow at the configured rates from the moment the simulator starts (or a load changes),
so ``rate()`` over them gives those rates back. ``loads_for`` builds loads from an allocation:
each tenant uses a share of its envelope per pool, with chosen exceptions; anything else (the
ledger's snapshot tests, the benchmark) can build ``NamespaceLoad`` values directly.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from dctenant.domain import allocations, quotas, resources


@dataclass(frozen=True, kw_only=True)
class Pod:
    name: str
    cpu: float = 0.0  # cores
    memory: float = 0.0  # bytes (working set)
    egress: float = 0.0  # bits per second
    ingress: float = 0.0
    gpus: int = 0
    init_gpus: int = 0  # the largest init container's GPU request
    host_network: bool = False
    phase: str = "Running"
    listed: bool = True  # kube-state-metrics reports it in kube_pod_info


@dataclass(frozen=True, kw_only=True)
class Claim:
    name: str
    storage_class: str
    requested: float  # bytes
    used: float
    nodes: int = 1  # kubelets that mount it (ReadWriteMany: several, each reporting the same bytes)


@dataclass(frozen=True, kw_only=True)
class NamespaceLoad:
    namespace: str
    pods: tuple[Pod, ...] = ()
    claims: tuple[Claim, ...] = ()
    quota: Mapping[str, tuple[str, str]] = field(default_factory=dict)  # resource → (hard, used)
    has_quota: bool = True  # kube-state-metrics reports the dctenant-quota object
    cadvisor: bool = True  # cAdvisor reports the namespace's containers
    dockershim: bool = False  # network series reported by the sandbox and the app container alike


PHASES = ("Pending", "Running", "Succeeded", "Failed", "Unknown")
SANDBOX_MEMORY = 64 * 2**20  # the pause container's working set: counted, it would show


class _Source(Collector):
    """One exporter's series, computed at scrape time from the simulator's loads."""

    def __init__(self, simulator: Simulator, kind: str) -> None:
        self.simulator = simulator
        self.kind = kind

    def collect(self) -> Iterator[Metric]:
        loads, started, base = self.simulator.snapshot()
        elapsed = time.time() - started
        yield from getattr(self, "_" + self.kind.replace("-", "_"))(loads, elapsed, base)

    @staticmethod
    def _cadvisor(loads: Iterable[NamespaceLoad], elapsed: float,
                  base: Mapping[tuple[str, str, str], float]) -> Iterator[Metric]:
        cpu = CounterMetricFamily("container_cpu_usage_seconds_total", "CPU time",
                                  labels=["namespace", "pod", "container", "image", "cpu"])
        mem = GaugeMetricFamily("container_memory_working_set_bytes", "Working set",
                                labels=["namespace", "pod", "container", "image"])
        tx = CounterMetricFamily("container_network_transmit_bytes_total", "Bytes sent",
                                 labels=["namespace", "pod", "interface"])
        rx = CounterMetricFamily("container_network_receive_bytes_total", "Bytes received",
                                 labels=["namespace", "pod", "interface"])
        tx = CounterMetricFamily("container_network_transmit_bytes_total", "Bytes sent",
                                 labels=["namespace", "pod", "container", "interface"])
        rx = CounterMetricFamily("container_network_receive_bytes_total", "Bytes received",
                                 labels=["namespace", "pod", "container", "interface"])
        for load in loads:
            ns = load.namespace
            if not load.cadvisor:
                continue
            for pod in load.pods:
                seconds = base.get((ns, pod.name, "cpu"), 0.0) + pod.cpu * elapsed
                cpu.add_metric([ns, pod.name, "app", "registry.example/app:1", "total"], seconds)
                cpu.add_metric([ns, pod.name, "", "", "total"], seconds)  # the pod's cgroup: same time again
                cpu.add_metric([ns, pod.name, "POD", "registry.k8s.io/pause:3.9", "total"], 0.5 * elapsed)
                mem.add_metric([ns, pod.name, "app", "registry.example/app:1"], pod.memory)
                mem.add_metric([ns, pod.name, "", ""], pod.memory)
                mem.add_metric([ns, pod.name, "POD", "registry.k8s.io/pause:3.9"], SANDBOX_MEMORY)
                sent = base.get((ns, pod.name, "tx"), 0.0) + pod.egress / 8 * elapsed
                got = base.get((ns, pod.name, "rx"), 0.0) + pod.ingress / 8 * elapsed
                for container in ("POD", "app") if load.dockershim else ("app",):  # one network namespace
                    tx.add_metric([ns, pod.name, container, "eth0"], sent)
                    rx.add_metric([ns, pod.name, container, "eth0"], got)
        yield from (cpu, mem, tx, rx)

    @staticmethod
    def _kubelet(loads: Iterable[NamespaceLoad], elapsed: float,
                 base: Mapping[tuple[str, str, str], float]) -> Iterator[Metric]:
        used = GaugeMetricFamily("kubelet_volume_stats_used_bytes", "Used bytes",
                                 labels=["namespace", "persistentvolumeclaim", "node"])
        for load in loads:
            for claim in load.claims:
                for node in range(claim.nodes):
                    used.add_metric([load.namespace, claim.name, f"node-{node + 1}"], claim.used)
        yield used

    @staticmethod
    def _kube_state_metrics(loads: Iterable[NamespaceLoad], elapsed: float,
                            base: Mapping[tuple[str, str, str], float]) -> Iterator[Metric]:
        info = GaugeMetricFamily("kube_pod_info", "Pod info", labels=["namespace", "pod", "host_network", "node"])
        phase = GaugeMetricFamily("kube_pod_status_phase", "Pod phase", labels=["namespace", "pod", "phase"])
        gpu = GaugeMetricFamily("kube_pod_container_resource_requests", "Requests",
                                labels=["namespace", "pod", "container", "resource", "unit"])
        init = GaugeMetricFamily("kube_pod_init_container_resource_requests", "Init requests",
                                 labels=["namespace", "pod", "container", "resource", "unit"])
        claim_info = GaugeMetricFamily("kube_persistentvolumeclaim_info", "Claim info",
                                       labels=["namespace", "persistentvolumeclaim", "storageclass", "volumename"])
        claim_size = GaugeMetricFamily("kube_persistentvolumeclaim_resource_requests_storage_bytes", "Claim size",
                                       labels=["namespace", "persistentvolumeclaim"])
        quota = GaugeMetricFamily("kube_resourcequota", "Quota", labels=["namespace", "resourcequota", "resource",
                                                                         "type"])
        for load in loads:
            ns = load.namespace
            for pod in load.pods:
                if pod.listed:
                    info.add_metric([ns, pod.name, str(pod.host_network).lower(), "node-1"], 1)
                for p in PHASES:
                    phase.add_metric([ns, pod.name, p], 1 if p == pod.phase else 0)
                gpu.add_metric([ns, pod.name, "app", "cpu", "core"], 0.1)
                if pod.gpus:
                    gpu.add_metric([ns, pod.name, "app", "nvidia_com_gpu", "integer"], pod.gpus)
                if pod.init_gpus:
                    init.add_metric([ns, pod.name, "warm-up", "nvidia_com_gpu", "integer"], pod.init_gpus)
            for claim in load.claims:
                claim_info.add_metric([ns, claim.name, claim.storage_class, f"pv-{ns}-{claim.name}"], 1)
                claim_size.add_metric([ns, claim.name], claim.requested)
            if load.has_quota:
                for resource, (hard, used) in (load.quota or {"pods": ("100", "0")}).items():
                    quota.add_metric([ns, "dctenant-quota", resource, "hard"], float(hard))
                    quota.add_metric([ns, "dctenant-quota", resource, "used"], float(used))
        yield from (info, phase, gpu, init, claim_info, claim_size, quota)


PATHS = {"/metrics/cadvisor": "cadvisor", "/metrics": "kubelet", "/metrics/ksm": "kube-state-metrics"}


class Simulator:
    """The exporter: ``start()`` serves on 127.0.0.1 and a free port; ``set_loads`` changes the workload."""

    def __init__(self, loads: Iterable[NamespaceLoad] = ()) -> None:
        self._lock = threading.Lock()
        self._loads = tuple(loads)
        self._started = time.time()
        self._base: dict[tuple[str, str, str], float] = {}
        self.registries = {}
        for path, kind in PATHS.items():
            registry = CollectorRegistry(auto_describe=False)
            registry.register(_Source(self, kind))
            self.registries[path] = registry
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def snapshot(self) -> tuple[tuple[NamespaceLoad, ...], float, dict[tuple[str, str, str], float]]:
        with self._lock:
            return self._loads, self._started, dict(self._base)

    def set_loads(self, loads: Iterable[NamespaceLoad]) -> None:
        """New rates from now on; counters keep counting from where they are (they never go back)."""
        with self._lock:
            elapsed = time.time() - self._started
            for load in self._loads:
                for pod in load.pods:
                    for key, rate in (("cpu", pod.cpu), ("tx", pod.egress / 8), ("rx", pod.ingress / 8)):
                        k = (load.namespace, pod.name, key)
                        self._base[k] = self._base.get(k, 0.0) + rate * elapsed
            self._loads = tuple(loads)
            self._started = time.time()

    def start(self) -> Simulator:
        registries = self.registries

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                registry = registries.get(self.path.split("?")[0])
                if registry is None:
                    self.send_error(404)
                    return
                body = generate_latest(registry)
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    @property
    def address(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"{host!s}:{port}"

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)


def loads_for(
    model: quotas.Quotas,
    allocation: allocations.Allocation,
    *,
    pools: Iterable[str] | None = None,
    share: Decimal = Decimal("0.5"),
    overrides: Mapping[tuple[str, str, str], Decimal] | None = None,
    pods_per_namespace: int = 3,
) -> tuple[NamespaceLoad, ...]:
    """Every namespace of the chosen pools using ``share`` of its tenant's envelope per resource.

    ``overrides`` maps (tenant, pool, resource key) to another share of the envelope (``1.15`` =
    15% over). A tenant's use in a pool is spread over its namespaces there in proportion to their
    granted quotas. Tenants that are not served still run pods (what suspension must stop); they
    use ``share`` of their demand instead of their (zero) envelope. Each namespace also runs one
    hostNetwork pod with heavy traffic that must not count.
    """
    chosen = set(pools) if pools is not None else set(model.datacentre.pool_names)
    extra = overrides or {}
    by_pool: dict[tuple[str, str], list[allocations.NamespaceQuota]] = {}
    for grant in allocation.namespaces:
        if grant.pool in chosen:
            by_pool.setdefault((grant.tenant, grant.pool), []).append(grant)
    out: list[NamespaceLoad] = []
    for (tenant, pool), grants in sorted(by_pool.items()):
        t = allocation.tenants[tenant]
        share_of = t.shares[pool]
        base = share_of.envelope if t.licence.served else share_of.demand
        totals = {k: base.get(k, Decimal(0)) * extra.get((tenant, pool, k), share) for k in share_of.demand}
        for grant in sorted(grants, key=lambda g: g.namespace):
            part = {k: _portion(grant, grants, k) * v for k, v in totals.items()}
            out.append(_namespace(grant.namespace, part, pods=pods_per_namespace))
    return tuple(out)


def _portion(grant: allocations.NamespaceQuota, grants: list[allocations.NamespaceQuota], key: str) -> Decimal:
    total = sum((g.requested.get(key, Decimal(0)) for g in grants), Decimal(0))
    if total == 0:
        return Decimal(1) if grant is grants[0] else Decimal(0)  # all of it in the first namespace
    return grant.requested.get(key, Decimal(0)) / total


def _namespace(namespace: str, amounts: Mapping[str, Decimal], *, pods: int) -> NamespaceLoad:
    def each(key: str) -> float:
        return float(amounts.get(key, Decimal(0))) / pods

    gpus = int(amounts.get(resources.GPU, Decimal(0)))
    pod_list = [Pod(name=f"{namespace}-app-{i}", cpu=each(resources.CPU), memory=each(resources.MEMORY),
                    egress=each(resources.EGRESS), ingress=each(resources.INGRESS),
                    gpus=gpus // pods + (1 if i < gpus % pods else 0)) for i in range(pods)]
    pod_list.append(Pod(name=f"{namespace}-node-agent", cpu=0.01, memory=2**20, egress=1e12, ingress=1e12,
                        host_network=True))
    pod_list.append(Pod(name=f"{namespace}-done", phase="Succeeded", gpus=8))  # finished: holds no GPU
    claims = tuple(Claim(name=f"data-{key.removeprefix(resources.STORAGE_PREFIX)}",
                         storage_class=key.removeprefix(resources.STORAGE_PREFIX), requested=float(value),
                         used=float(value) * 0.6)
                   for key, value in sorted(amounts.items()) if key.startswith(resources.STORAGE_PREFIX) and value)
    return NamespaceLoad(namespace=namespace, pods=tuple(pod_list), claims=claims)


SOURCE_LABELS = {"cadvisor": {"job": "kubelet", "metrics_path": "/metrics/cadvisor"},
                 "kubelet": {"job": "kubelet", "metrics_path": "/metrics"},
                 "kube-state-metrics": {"job": "kube-state-metrics"}}


def openmetrics(phases: Iterable[tuple[float, float, Iterable[NamespaceLoad]]], *, step: float,
                cluster: str = "") -> str:
    """The simulator's series as an OpenMetrics history, for ``promtool tsdb create-blocks-from openmetrics``.

    ``phases`` are ``(start, end, loads)`` in Unix seconds, each half-open ``[start, end)``, one
    sample every ``step``; counters carry on from phase to phase. Every series is labelled as the
    test Prometheus' scrape would label it (``job``, ``metrics_path``, ``instance``, ``cluster``),
    and ``up`` of the three sources is 1 at every sample.
    """
    series: dict[str, dict[tuple[tuple[str, str], ...], list[tuple[float, float]]]] = {}
    base: dict[tuple[str, str, str], float] = {}
    for start, end, loads in phases:
        chosen = tuple(loads)
        t = start
        while t < end:
            for kind, extra in SOURCE_LABELS.items():
                labels = {**extra, "instance": "simulator", **({"cluster": cluster} if cluster else {})}
                method = getattr(_Source, "_" + kind.replace("-", "_"))
                for family in method(chosen, t - start, base):
                    for sample in family.samples:
                        key = tuple(sorted({**sample.labels, **labels}.items()))
                        series.setdefault(sample.name, {}).setdefault(key, []).append((t, sample.value))
                series.setdefault("up", {}).setdefault(tuple(sorted(labels.items())), []).append((t, 1.0))
            t += step
        for load in chosen:  # counters continue from where the phase left them
            for pod in load.pods:
                for key, rate in (("cpu", pod.cpu), ("tx", pod.egress / 8), ("rx", pod.ingress / 8)):
                    k = (load.namespace, pod.name, key)
                    base[k] = base.get(k, 0.0) + rate * (end - start)
    lines: list[str] = []
    for name, by_labels in sorted(series.items()):
        lines.append(f"# TYPE {name} unknown")
        for key, points in sorted(by_labels.items()):
            text = ",".join(f'{k}="{v}"' for k, v in key if v != "")
            for t, value in points:
                lines.append(f"{name}{{{text}}} {value!r} {t:.3f}")
    lines.append("# EOF")
    return "\n".join(lines) + "\n"
