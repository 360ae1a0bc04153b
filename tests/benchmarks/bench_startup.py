"""Benchmark: ``dctenant --help`` start-up time against a bare ``python -c pass`` (target <= 0.25 s more).

Not collected by the normal test run. Run it with

    python -m pytest tests/benchmarks/bench_startup.py -p no:cacheprovider -s
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import time

RUNS = 10
TARGET_SECONDS = 0.25


def wall(command: list[str]) -> float:
    """The median wall time of ``RUNS`` runs of ``command`` (after one unmeasured warm-up run)."""
    subprocess.run(command, check=True, capture_output=True)
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def test_help_starts_quickly() -> None:
    dctenant = shutil.which("dctenant")
    assert dctenant is not None, "dctenant is not on PATH (pip install -e .)"
    bare = wall([sys.executable, "-c", "pass"])
    help_ = wall([dctenant, "--help"])
    print(f"\npython -c pass: median {bare * 1000:.0f} ms; dctenant --help: median {help_ * 1000:.0f} ms; "
          f"difference {(help_ - bare) * 1000:.0f} ms (target <= {TARGET_SECONDS * 1000:.0f} ms)")
    assert help_ - bare <= TARGET_SECONDS
