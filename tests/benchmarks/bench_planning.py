"""Timings of forecast, what-if and reclaim against the targets of issue 19 (run on demand, not in CI).

Targets: forecast of 50 pools x 6 resources x 2 years of daily points under 2 s; what-if on 10,000
tenants x 50 pools under 1 s; reclaim for 200 tenants within 1.5 x Prometheus' own query time.
Run: ``python -m pytest -s -q tests/benchmarks/bench_planning.py``. Each prints the median wall time,
the median CPU time of this process (what the code costs, whatever else the machine runs) and the
load average: several helpers share two cores, so the figures are reported, not asserted.
"""

from __future__ import annotations

import datetime as dt
import os
import pathlib
import random
import statistics
import subprocess
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import yaml

from dctenant.domain import forecasts
from dctenant.engine import comparing, forecasting
from dctenant.loaders import loading
from dctenant.ops import planning, whatif_planning
from tests.benchmarks import generate

AT = dt.date(2026, 11, 27)


def timed(run: Callable[[], Any], repeat: int = 3, *, gc_paused: bool = False) -> tuple[float, float]:
    """(median wall seconds, median CPU seconds of this process) of ``repeat`` runs; ``gc_paused``: with the
    cyclic garbage collector paused, as what-if runs its parts (``whatif_planning.without_gc``)."""
    walls, cpus = [], []
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        if gc_paused:
            with whatif_planning.without_gc():
                run()
        else:
            run()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return statistics.median(walls), statistics.median(cpus)


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.1f} (5 min {five:.1f}) on {os.cpu_count()} cores"


def test_forecast_50_pools_6_resources_2_years() -> None:
    rnd = random.Random(1)
    origin = dt.date(2024, 1, 1)
    series = [[forecasts.Point(day=origin + dt.timedelta(days=t),
                               value=Decimal(str(round(100 + 2 * t + rnd.gauss(0, 3), 3)))) for t in range(730)]
              for _ in range(50 * 6)]

    def run() -> None:
        for points in series:
            forecasting.forecast(points, pool="p", resource="cpu", series=forecasts.DEMAND, limit=Decimal(2000),
                                 today=origin + dt.timedelta(days=730), horizon_days=365)

    wall, cpu = timed(run, repeat=5)
    print(f"\nforecast 300 series x 730 days: median {wall:.2f} s wall, {cpu:.2f} s CPU (target < 2 s); {load()}")


def test_what_if_10000_tenants_50_pools(tmp_path: pathlib.Path) -> None:
    root = generate.generate(tmp_path / "quotas", tenants=10_000, namespaces=1, pools=50)
    changes = tmp_path / "changes.yaml"
    changes.write_text(yaml.safe_dump({"apiVersion": "dctenant.io/v1alpha1", "kind": "WhatIf",
                                       "changes": [{"removeTenant": "t00001"},
                                                   {"setTier": {"name": sorted(generate.TIERS)[0], "weight": 3}}]}))
    loading.forget()
    cold_wall, cold_cpu = timed(lambda: loading.load(root), repeat=1)
    before = planning.plan(str(root), at=AT)
    after_model = whatif_planning.changed_model(str(root), str(changes), model=before.model)[1]
    texts = dict(after_model.sources)
    full_wall, full_cpu = timed(lambda: loading.load_texts(str(root), texts), repeat=3, gc_paused=True)
    allocate_wall, allocate_cpu = timed(lambda: planning.allocate(after_model, at=AT), repeat=3, gc_paused=True)
    after = planning.allocate(after_model, at=AT)
    first_wall, first_cpu = timed(lambda: comparing.compare(before.allocation, after), repeat=1, gc_paused=True)
    compare_wall, compare_cpu = timed(lambda: comparing.compare(before.allocation, after), repeat=3, gc_paused=True)
    edit_wall, edit_cpu = timed(lambda: whatif_planning.changed_model(str(root), str(changes), model=before.model),
                                repeat=3, gc_paused=True)
    wall, cpu = timed(lambda: whatif_planning.what_if(str(root), changes_file=str(changes), at=AT, before=before),
                      repeat=3)
    rest_wall, rest_cpu = wall - edit_wall - allocate_wall - compare_wall, cpu - edit_cpu - allocate_cpu - compare_cpu
    print(f"\nwhat-if 10,000 tenants x 50 pools, the model loaded (target < 1 s): median {wall:.2f} s wall, "
          f"{cpu:.2f} s CPU; of which (wall / CPU) the edited copy {edit_wall:.2f} / {edit_cpu:.2f} s (its full "
          f"load_texts, no longer used, {full_wall:.2f} / {full_cpu:.2f} s), allocate() {allocate_wall:.2f} / "
          f"{allocate_cpu:.2f} s, compare {compare_wall:.2f} / {compare_cpu:.2f} s (the first against a plan "
          f"{first_wall:.2f} / {first_cpu:.2f} s), the rest (mostly the collector's full pass over the two "
          f"models once the what-if returns) {rest_wall:.2f} / {rest_cpu:.2f} s; a cold load of the "
          f"directory {cold_wall:.2f} s wall / {cold_cpu:.2f} s CPU; {load()}")


def test_reclaim_200_tenants_against_prometheus_own_time(tmp_path: pathlib.Path) -> None:
    """Reclaim over 14 days of backfilled history (a cpu counter and a memory gauge per namespace, one
    sample every 30 minutes, read at a 30-minute step) against Prometheus' own time for the same queries:
    the sum of ``execTotalTime`` in its query log (queueing, preparation and evaluation)."""
    import json

    from dctenant.domain import reclaim
    from dctenant.ops import reclaim_planning
    from tests.integration import prometheus_harness

    root = generate.generate(tmp_path / "quotas", tenants=200, namespaces=1, pools=2)
    model = loading.load(root)
    end = int(time.time()) // 3600 * 3600 - 4 * 3600  # older than the head block: promtool writes blocks
    start, step = end - 14 * 86400 - 3600, 1800
    rnd = random.Random(2)
    cad = 'job="kubelet",metrics_path="/metrics/cadvisor"'
    spaces = [ns.name for t in model.tenants for ns in t.namespaces]
    lines = ["# TYPE container_cpu_usage_seconds_total counter"]
    for ns in spaces:
        rate, total = rnd.uniform(1, 50), 0.0
        for t in range(start, end, step):
            total += rate * step * rnd.uniform(0.5, 1.5)
            lines.append(f'container_cpu_usage_seconds_total{{{cad},namespace="{ns}",pod="{ns}-0",container="app",'
                         f'image="app:1"}} {total!r} {t}')
    lines.append("# TYPE container_memory_working_set_bytes gauge")
    for ns in spaces:
        level = rnd.uniform(1, 100) * 2**30
        lines += [f'container_memory_working_set_bytes{{{cad},namespace="{ns}",pod="{ns}-0",container="app",'
                  f'image="app:1"}} {level * rnd.uniform(0.8, 1.2)!r} {t}' for t in range(start, end, step)]
    lines.append("# EOF")
    prom = prometheus_harness.Prometheus(query_log=True)
    source = tmp_path / "history.om"
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    # One block for the whole history: promtool's default of 2-hour blocks takes minutes on a busy machine.
    subprocess.run(["/usr/bin/promtool", "tsdb", "create-blocks-from", "openmetrics", "--max-block-duration=360h",
                    str(source), str(prom.directory / "data")], check=True, capture_output=True, timeout=1200)
    prom.start()
    try:
        prom.wait_until(f"container_cpu_usage_seconds_total @ {end - step}", count=len(spaces), timeout=120)
        method = reclaim.Method(step_seconds=step)
        at = dt.datetime.fromtimestamp(end, dt.UTC)
        runs = []
        for _ in range(3):
            prom.query_log.write_text("")  # Prometheus appends to the file it has open: truncate it
            wall, cpu = time.perf_counter(), time.process_time()
            result = reclaim_planning.reclaim_plan(str(root), url=prom.url, at=at, method=method)
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            logged = [json.loads(line) for line in prom.query_log.read_text().splitlines() if line.strip()]
            own = sum(float(e["stats"]["timings"]["execTotalTime"]) for e in logged)
            runs.append((wall, cpu, own, len(logged)))
        wall, cpu, own, count = (statistics.median(r[i] for r in runs) for i in range(4))
        seen = sum(1 for r in result.rows if r.need is not None)
        print(f"\nreclaim 200 tenants, 14 days at 30 min: median {wall:.2f} s wall, {cpu:.2f} s CPU of dctenant; "
              f"Prometheus' own time {own:.2f} s over {count:.0f} queries; ratio {wall / own:.2f} "
              f"(target <= 1.5); {seen} rows with data; {load()}")
    finally:
        prom.cleanup()
