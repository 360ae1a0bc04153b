"""Benchmark: one enforcement cycle against a real Prometheus scraping the simulator at 200 tenants × 5
namespaces × 10 pods (≈ 1,000 namespaces, 12,000 pods with the hostNetwork and finished ones).

Run: python -m pytest -s tests/benchmarks/bench_enforce.py   (DCTENANT_BENCH_TENANTS=N to resize)
Reports: the cycle's wall time (load + allocate + 9 queries + decide, dry run), the number of
queries, and its ratio to Prometheus' own time answering the same queries (goal ≤ 1.3), measured
two ways: the same nine queries sent with a bare ``urllib`` client (what answering costs, JSON
encoding and transfer included), and the sum of Prometheus' ``stats=all`` ``execTotalTime``
(evaluation only, without encoding the ~1,000-series answers).
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

from dctenant.clients import prometheus
from dctenant.loaders import loading
from dctenant.ops import enforcing, planning
from tests.benchmarks import generate
from tests.integration import prometheus_harness, simulator

TENANTS = int(os.environ.get("DCTENANT_BENCH_TENANTS", "200"))
PODS = 10
ROUNDS = 5


def _serve(loads: tuple[simulator.NamespaceLoad, ...], address: multiprocessing.Queue[str]) -> None:
    sim = simulator.Simulator(loads).start()
    address.put(sim.address)
    time.sleep(3600)


def own_time(url: str, promql: str) -> float:
    """Prometheus' own evaluation time for one query (its ``stats=all`` timings), in seconds."""
    query = urllib.parse.urlencode({"query": promql, "stats": "all"})
    with urllib.request.urlopen(f"{url}/api/v1/query?{query}", timeout=60) as answer:
        stats = json.loads(answer.read())["data"]["stats"]["timings"]
    return float(stats["execTotalTime"])


def test_enforcement_cycle(tmp_path: pathlib.Path) -> None:
    root = tmp_path / "quotas"
    generate.generate(root, tenants=TENANTS, namespaces=5, pools=1)
    model = loading.load(root)
    at = dt.date(2026, 11, 27)
    allocation = planning.allocate(model, at=at)
    loads = simulator.loads_for(model, allocation, pods_per_namespace=PODS - 2)  # + hostNetwork + finished
    # The simulator formats ~70,000 samples a scrape: in its own process, so that it does not hold the
    # benchmark's interpreter lock while the cycle is timed.
    context = multiprocessing.get_context("spawn")
    queue: multiprocessing.Queue[str] = context.Queue()
    server = context.Process(target=_serve, args=(loads, queue), daemon=True)
    server.start()
    prom = prometheus_harness.Prometheus(queue.get(timeout=60), interval="5s").start()
    try:
        prom.wait_until("up == 1", count=3, timeout=120)
        prom.wait_until('count_over_time(up{job="kube-state-metrics"}[1m]) >= 3', timeout=120)
        settings = prometheus.settings(prom.url, rate_window="1m", timeout=60)
        enforcer = enforcing.Enforcer(path=str(root), settings=settings)
        walls, asked, own, raw = [], [], [], []
        for _ in range(ROUNDS):
            started = time.perf_counter()
            cycle = enforcer.cycle(now=dt.datetime.now(dt.UTC), at=at)
            walls.append(time.perf_counter() - started)
            asked.append(cycle.seconds)
            texts = list(prometheus.queries(settings).values())
            own.append(sum(own_time(prom.url, q) for q in texts))
            t0 = time.perf_counter()
            for q in texts:
                prom.query(q)
            raw.append(time.perf_counter() - t0)
        assert cycle.queries == 9 and not cycle.missing
        namespaces = len(allocation.namespaces)
        pods = sum(len(load.pods) for load in loads)
        print(f"\n{TENANTS} tenants, {namespaces} namespaces, {pods} pods, {len(cycle.decisions)} decisions")
        print(f"cycle wall time (median of {ROUNDS}): {statistics.median(walls):.3f} s; queries: {cycle.queries}")
        print(f"client time in queries: {statistics.median(asked):.3f} s; Prometheus' own: "
              f"{statistics.median(own):.3f} s; plain HTTP: {statistics.median(raw):.3f} s")
        print(f"ratio client/Prometheus-own: {statistics.median(asked) / statistics.median(own):.2f}; "
              f"client/plain HTTP: {statistics.median(asked) / statistics.median(raw):.2f}; "
              f"cycle/Prometheus-own: {statistics.median(walls) / statistics.median(own):.2f}; "
              f"cycle/plain HTTP: {statistics.median(walls) / statistics.median(raw):.2f}")
    finally:
        prom.cleanup()
        server.terminate()
        server.join(timeout=10)
