"""Timings of what-if and forecast against the targets of issue 19 (run on demand, not in CI).

Targets: what-if on 10,000 tenants x 50 pools under 1 s; forecast of 50 pools x 6 resources x
2 years of daily points under 2 s. Run: ``python -m pytest -s -q tests/benchmarks/bench_planning.py``.
Medians of a few runs are printed; the machine is noisy, so they are reported, not asserted.
"""

from __future__ import annotations

import datetime as dt
import pathlib
import random
import statistics
import time
from decimal import Decimal

import yaml

from dctenant.domain import forecasts
from dctenant.engine import forecasting
from dctenant.ops import whatif_planning
from tests.benchmarks import generate


def median_seconds(run: object, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()  # type: ignore[operator]
        times.append(time.perf_counter() - started)
    return statistics.median(times)


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

    print(f"\nforecast 300 series x 730 days: median {median_seconds(run):.2f} s (target < 2 s)")


def test_what_if_10000_tenants_50_pools(tmp_path: pathlib.Path) -> None:
    root = generate.generate(tmp_path / "quotas", tenants=10_000, namespaces=1, pools=50)
    changes = tmp_path / "changes.yaml"
    changes.write_text(yaml.safe_dump({"apiVersion": "dctenant.io/v1alpha1", "kind": "WhatIf",
                                       "changes": [{"removeTenant": "t00001"},
                                                   {"setTier": {"name": sorted(generate.TIERS)[0], "weight": 3}}]}))
    seconds = median_seconds(lambda: whatif_planning.what_if(str(root), changes_file=str(changes),
                                                            at=dt.date(2026, 11, 27)), repeat=1)
    print(f"\nwhat-if 10,000 tenants x 50 pools: {seconds:.2f} s (target < 1 s)")
