"""Benchmark: enforcement cycles against one real Prometheus serving two pools, as a shared endpoint would.

Pool ``pool-0`` of a 200-tenant data centre (200 tenants × 5 namespaces × 10 pods: 1,000 namespaces,
12,000 pods with the hostNetwork and finished ones) and a 20-tenant data centre's pool (cluster label
``small``) are scraped by one Prometheus every 60 s (a scrape of the large simulator formats ~70,000
samples in Python: on a machine shared by several sessions, 5 and 30 s scrapes timed out), each
simulator's series labelled with its cluster.
The policy judges over 2 minutes (``sustainedFor`` and ``recoveryWindow``) at a 60 s step, so every
cycle asks nine range queries of 3 points each; the benchmark waits until Prometheus holds that much
history, so that the queries cost what they cost in production.

Prometheus' own time is read from its **query log** (``query_log_file``): the ``execTotalTime`` of
the very queries the cycle sent, in the same run (nothing else queries it meanwhile). With the
default ``concurrency`` of 1 the queries run one after the other, so each one's time is its own;
with several in flight each would also count the time it waits for the others on the CPUs.

Run: python -m pytest -s tests/benchmarks/bench_enforce.py   (DCTENANT_BENCH_TENANTS=N to resize,
DCTENANT_BENCH_ROUNDS=N cycles per pool). Reports, medians over the rounds, with the load average:
* each pool's cycle (load + allocate + 9 range queries + decide, dry run) against Prometheus' own
  execution time of the same queries (goal at 200 tenants: ≤ 1.3);
* the presence query's payload: series returned at the cycle's time against namespaces (goal ≤ 1.5);
* queries per cycle and series returned per cycle for the 20- and the 200-tenant pool on the shared
  endpoint; every returned series carries the pool's own cluster label (asserted);
* the 200-tenant cycle's wall time with ``concurrency: 2``, against the serial own time.
"""

from __future__ import annotations

import datetime as dt
import json
import multiprocessing
import os
import pathlib
import statistics
import time
from typing import Any

from dctenant.clients import prometheus
from dctenant.loaders import loading
from dctenant.ops import enforcing, planning
from tests.benchmarks import generate
from tests.integration import prometheus_harness, simulator

TENANTS = int(os.environ.get("DCTENANT_BENCH_TENANTS", "200"))
SMALL = 20
PODS = 10
ROUNDS = int(os.environ.get("DCTENANT_BENCH_ROUNDS", "5"))
AT = dt.date(2026, 11, 27)


def _serve(loads: tuple[simulator.NamespaceLoad, ...], address: multiprocessing.Queue[str]) -> None:
    sim = simulator.Simulator(loads).start()
    address.put(sim.address)
    time.sleep(3600)


def datacentre(root: pathlib.Path, tenants: int, *, cluster: str = "") -> pathlib.Path:
    generate.generate(root, tenants=tenants, namespaces=5, pools=1)
    policy = root / "policy.yaml"
    policy.write_text(policy.read_text(encoding="utf-8")
                      + "  enforcement: {sustainedFor: 2m, recoveryWindow: 2m}\n", encoding="utf-8")
    if cluster:
        dc = root / "datacentre.yaml"
        dc.write_text(dc.read_text(encoding="utf-8").replace(
            "      context: ctx-pool-0\n", f"      context: ctx-pool-0\n      cluster: {cluster}\n"), encoding="utf-8")
    return root


class Recording:
    """The real range asker, noting what each query returned (series, and the cluster labels they carry)."""

    def __init__(self, settings: prometheus.Settings) -> None:
        self.ask: Any = prometheus._connect(settings)[1]
        self.sent: list[tuple[str, int, set[str], int]] = []  # promql, series, cluster values, series at the end

    def __call__(self, promql: str, start: float, end: float, step: float) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self.ask(promql, start, end, step)
        clusters = {str(r["metric"].get("cluster")) for r in result if "cluster" in r["metric"]}
        at_end = sum(1 for r in result if r["values"] and float(r["values"][-1][0]) == end)
        self.sent.append((promql, len(result), clusters, at_end))
        return result


class QueryLog:
    """Prometheus' query log, read from where the last reading stopped."""

    def __init__(self, path: pathlib.Path) -> None:
        self.path = path
        self.offset = path.stat().st_size if path.exists() else 0

    def skip(self) -> None:
        self.offset = self.path.stat().st_size if self.path.exists() else 0

    def read(self, expected: int) -> list[dict[str, Any]]:
        """The entries written since the last reading; waits (a little) for ``expected`` of them."""
        deadline = time.monotonic() + 10
        while True:
            with self.path.open(encoding="utf-8") as log:
                log.seek(self.offset)
                text = log.read()
            entries = [json.loads(line) for line in text.splitlines() if line.strip()]
            if len(entries) >= expected or time.monotonic() > deadline:
                self.offset += len(text.encode("utf-8"))
                return entries
            time.sleep(0.1)


def load() -> str:
    return pathlib.Path("/proc/loadavg").read_text(encoding="utf-8").split()[0]


def run(root: pathlib.Path, settings: prometheus.Settings, log: QueryLog, cluster: str) -> dict[str, Any]:
    """``ROUNDS`` cycles of one long-lived enforcer over ``root``'s pool: walls, own times, what was returned."""
    recording = Recording(settings)
    enforcer = enforcing.Enforcer(path=str(root), settings=settings, asker=recording)
    walls, own, series, loads = [], [], [], []
    try:
        for _ in range(ROUNDS):
            recording.sent.clear()
            log.skip()
            loads.append(float(load()))
            started = time.perf_counter()
            cycle = enforcer.cycle(now=dt.datetime.now(dt.UTC), at=AT)
            walls.append(time.perf_counter() - started)
            entries = log.read(len(recording.sent))
            assert len(entries) == len(recording.sent) == cycle.queries == len(prometheus.CYCLE), entries
            own.append(sum(float(e["stats"]["timings"]["execTotalTime"]) for e in entries))
            series.append(sum(n for _, n, _, _ in recording.sent))
            # A pool's cycle touches only its own series: every series returned carries its cluster label.
            assert set().union(*(c for _, _, c, _ in recording.sent)) == {cluster}
    finally:
        enforcer.close()
    presence = next(at_end for promql, _, _, at_end in recording.sent
                    if promql == prometheus.queries(settings, prometheus.scope(
                        settings, loading.load(root).datacentre))["quota"])
    if cycle.missing:  # a scrape that timed out: the queries still ran in full, say so beside the figures
        print(f"\n(missing in the last cycle of {root.name}: {'; '.join(cycle.missing)})")
    model = loading.load(root)
    return {"wall": statistics.median(walls), "own": statistics.median(own),
            "ratio": statistics.median(w / o for w, o in zip(walls, own, strict=True)),
            "ratios": [w / o for w, o in zip(walls, own, strict=True)], "series": statistics.median(series),
            "presence": presence, "namespaces": len(planning.allocate(model, at=AT).namespaces),
            "decisions": len(cycle.decisions), "queries": cycle.queries, "load": statistics.median(loads)}


def test_enforcement_cycle(tmp_path: pathlib.Path) -> None:
    big = datacentre(tmp_path / "big", TENANTS)
    small = datacentre(tmp_path / "small", SMALL, cluster="small")
    context = multiprocessing.get_context("spawn")
    servers, addresses = [], {}
    for root, cluster in ((big, "pool-0"), (small, "small")):
        model = loading.load(root)
        loads = simulator.loads_for(model, planning.allocate(model, at=AT), pods_per_namespace=PODS - 2)
        # The simulator formats ~70,000 samples a scrape: in its own process, so that it does not hold the
        # benchmark's interpreter lock while the cycle is timed.
        queue: multiprocessing.Queue[str] = context.Queue()
        server = context.Process(target=_serve, args=(loads, queue), daemon=True)
        server.start()
        servers.append(server)
        addresses[cluster] = queue.get(timeout=60)
    prom = prometheus_harness.Prometheus(addresses, interval="60s", query_log=True).start()
    try:
        prom.wait_until("up == 1", count=6, timeout=300)
        # Two minutes of history and a rate window: the range queries then read real samples at every step.
        prom.wait_until('count_over_time(up{job="kube-state-metrics",cluster="pool-0"}[5m]) >= 4', timeout=900)
        log = QueryLog(prom.query_log)
        settings = prometheus.settings(prom.url, rate_window="3m", step="60s", timeout=120)
        figures = {str(TENANTS): run(big, settings, log, "pool-0"), str(SMALL): run(small, settings, log, "small")}
        parallel = run(big, prometheus.settings(prom.url, rate_window="3m", step="60s", timeout=120, concurrency=2),
                       log, "pool-0")
        for name, f in figures.items():
            print(f"\n{name}-tenant pool: {f['namespaces']} namespaces, {f['decisions']} decisions, "
                  f"{f['queries']} range queries a cycle (load average {f['load']:.1f})")
            print(f"  cycle wall time {f['wall']:.3f} s; Prometheus' own execution time of the same queries "
                  f"(query log) {f['own']:.3f} s; ratio {f['ratio']:.2f} (per cycle: "
                  f"{', '.join(f'{r:.2f}' for r in f['ratios'])})")
            per = f["presence"] / f["namespaces"]
            print(f"  series returned per cycle: {f['series']:.0f}; presence query: {f['presence']} series at the "
                  f"cycle's time for {f['namespaces']} namespaces ({per:.2f} per namespace)")
        serial = figures[str(TENANTS)]
        print(f"\n{TENANTS}-tenant pool with concurrency 2: cycle wall time {parallel['wall']:.3f} s "
              f"= {parallel['wall'] / serial['own']:.2f} × the serial own time (load average {parallel['load']:.1f})")
        assert serial["presence"] <= 1.5 * serial["namespaces"]
    finally:
        prom.cleanup()
        for server in servers:
            server.terminate()
            server.join(timeout=10)
