"""Benchmark: enforcement cycles against one real Prometheus serving two pools, as a shared endpoint would.

Pool ``pool-0`` of a 200-tenant data centre (200 tenants × 5 namespaces × 10 pods: 1,000 namespaces,
12,000 pods with the hostNetwork and finished ones) and a 20-tenant data centre's pool (cluster label
``small``) are scraped by one Prometheus every 60 s (a scrape of the large simulator formats ~70,000
samples in Python: on a machine shared by eight sessions, 5 and 30 s scrapes timed out), each
simulator's series labelled with its cluster.
The policy judges over 2 minutes (``sustainedFor`` and ``recoveryWindow``) at a 60 s step, so every
cycle asks nine range queries of 3 points each; the benchmark waits until Prometheus holds that much
history, so that the queries cost what they cost in production.

Run: python -m pytest -s tests/benchmarks/bench_enforce.py   (DCTENANT_BENCH_TENANTS=N to resize)
Reports, each a median of 3 cycles:
* the large pool's cycle (load + allocate + 9 range queries + decide, dry run) against Prometheus' own
  execution time of the very same queries (``stats=all`` → ``execTotalTime``, which is what the query
  log records; goal ≤ 1.3);
* the presence query's payload: series returned against namespaces (goal ≤ 1.5);
* queries per cycle and Prometheus' own time for the 20- and the 200-tenant pool on the shared endpoint.
"""

from __future__ import annotations

import datetime as dt
import json
import multiprocessing
import os
import pathlib
import statistics
import time
import urllib.parse
import urllib.request
from typing import Any

from dctenant.clients import prometheus
from dctenant.loaders import loading
from dctenant.ops import enforcing, planning
from tests.benchmarks import generate
from tests.integration import prometheus_harness, simulator

TENANTS = int(os.environ.get("DCTENANT_BENCH_TENANTS", "200"))
SMALL = 20
PODS = 10
ROUNDS = 3
AT = dt.date(2026, 11, 27)


def _serve(loads: tuple[simulator.NamespaceLoad, ...], address: multiprocessing.Queue[str]) -> None:
    sim = simulator.Simulator(loads).start()
    address.put(sim.address)
    time.sleep(3600)


def own_time(url: str, promql: str, start: float, end: float, step: float) -> tuple[float, int]:
    """Prometheus' own execution time of one range query (``stats=all``), in seconds, and its series."""
    query = urllib.parse.urlencode({"query": promql, "start": f"{start:.3f}", "end": f"{end:.3f}",
                                    "step": f"{step:g}", "stats": "all"})
    with urllib.request.urlopen(f"{url}/api/v1/query_range?{query}", timeout=120) as answer:
        data = json.loads(answer.read())["data"]
    return float(data["stats"]["timings"]["execTotalTime"]), len(data["result"])


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
    """The real range asker, noting every query it sends (to replay the same ones for Prometheus' stats)."""

    def __init__(self, settings: prometheus.Settings) -> None:
        self.ask: Any = prometheus._connect(settings)[1]
        self.sent: list[tuple[str, float, float, float]] = []

    def __call__(self, promql: str, start: float, end: float, step: float) -> list[dict[str, Any]]:
        self.sent.append((promql, start, end, step))
        result: list[dict[str, Any]] = self.ask(promql, start, end, step)
        return result


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
    prom = prometheus_harness.Prometheus(addresses, interval="60s").start()
    try:
        prom.wait_until("up == 1", count=6, timeout=300)
        # Two minutes of history and a rate window: the range queries then read real samples at every step.
        prom.wait_until('count_over_time(up{job="kube-state-metrics",cluster="pool-0"}[5m]) >= 4', timeout=900)
        settings = prometheus.settings(prom.url, rate_window="3m", step="60s", timeout=120)
        figures = {}
        for name, root in (("200", big), ("20", small)):
            recording = Recording(settings)
            enforcer = enforcing.Enforcer(path=str(root), settings=settings, asker=recording)
            walls, own, series = [], [], []
            for _ in range(ROUNDS):
                recording.sent.clear()
                started = time.perf_counter()
                cycle = enforcer.cycle(now=dt.datetime.now(dt.UTC), at=AT)
                walls.append(time.perf_counter() - started)
                timed = [own_time(prom.url, *sent) for sent in recording.sent]
                own.append(sum(t for t, _ in timed))
                series.append(sum(n for _, n in timed))
            assert cycle.queries == 9
            if cycle.missing:  # a scrape that timed out: the queries still ran in full, say so beside the figures
                print(f"\n(missing in the last {name}-tenant cycle: {'; '.join(cycle.missing)})")
            model = loading.load(root)
            namespaces = len(planning.allocate(model, at=AT).namespaces)
            where = prometheus.scope(settings, model.datacentre)
            presence = prometheus.queries(settings, where)["quota"]
            _, returned = own_time(prom.url, presence, time.time(), time.time(), 60)
            figures[name] = (statistics.median(walls), statistics.median(own), statistics.median(series),
                             returned, namespaces, len(cycle.decisions))
        for name, (wall, own_s, touched, returned, namespaces, decisions) in figures.items():
            print(f"\n{name}-tenant pool: {namespaces} namespaces, {decisions} decisions, 9 range queries a cycle")
            print(f"  cycle wall time {wall:.3f} s; Prometheus' own execution time of the same queries {own_s:.3f} s;"
                  f" ratio {wall / own_s:.2f}")
            print(f"  series returned by the cycle's queries: {touched:.0f}; presence query: {returned} series for "
                  f"{namespaces} namespaces ({returned / namespaces:.2f} per namespace)")
        assert figures["200"][3] <= 1.5 * figures["200"][4]
    finally:
        prom.cleanup()
        for server in servers:
            server.terminate()
            server.join(timeout=10)
