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
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import yaml

from dctenant.domain import forecasts
from dctenant.engine import forecasting
from dctenant.loaders import loading
from dctenant.ops import planning, whatif_planning
from tests.benchmarks import generate

AT = dt.date(2026, 11, 27)


def timed(run: Callable[[], Any], repeat: int = 3) -> tuple[float, float]:
    """(median wall seconds, median CPU seconds of this process) of ``repeat`` runs."""
    walls, cpus = [], []
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), time.process_time()
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
    allocate_wall, allocate_cpu = timed(lambda: planning.allocate(after_model, at=AT), repeat=3)
    edit_wall, edit_cpu = timed(lambda: whatif_planning.changed_model(str(root), str(changes), model=before.model),
                                repeat=3)
    wall, cpu = timed(lambda: whatif_planning.what_if(str(root), changes_file=str(changes), at=AT, before=before),
                      repeat=3)
    print(f"\nwhat-if 10,000 tenants x 50 pools, the model loaded (target < 1 s): median {wall:.2f} s wall, "
          f"{cpu:.2f} s CPU; of which the edited copy's load {edit_wall:.2f} s wall / {edit_cpu:.2f} s CPU and "
          f"allocate() {allocate_wall:.2f} s wall / {allocate_cpu:.2f} s CPU; a cold load of the directory "
          f"{cold_wall:.2f} s wall / {cold_cpu:.2f} s CPU; {load()}")
