"""Benchmark: load and validate a data centre of 10,000 tenants × 5 namespaces (target < 5 s).

Not collected by the normal test run. Run it with

    python -m pytest tests/benchmarks/bench_loading.py -p no:cacheprovider -s

The data centre is generated once (``generate.py``); the loader then runs several times on one
CPU core and the median is printed and checked against the target.
"""

from __future__ import annotations

import gc
import os
import pathlib
import statistics
import time
from collections.abc import Iterator

import generate  # tests/benchmarks is on sys.path: pytest puts a test file's directory there
import pytest

from dctenant.loaders import loading

TENANTS = 10_000
NAMESPACES = 5
RUNS = 5
TARGET_SECONDS = 5.0


@pytest.fixture(scope="module")
def big_quotas(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    return generate.generate(tmp_path_factory.mktemp("big") / "quotas", tenants=TENANTS, namespaces=NAMESPACES)


@pytest.fixture
def one_core() -> Iterator[None]:
    """Pin the process to one core, as a small CI runner would give it, and restore afterwards."""
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {min(before)})
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


def test_load_ten_thousand_tenants(big_quotas: pathlib.Path, one_core: None) -> None:
    times = []
    model = None
    for _ in range(RUNS):
        del model
        gc.collect()
        start = time.perf_counter()
        model = loading.load(big_quotas)
        times.append(time.perf_counter() - start)
    median = statistics.median(times)
    print(f"\nload+validate {TENANTS} tenants x {NAMESPACES} namespaces: median {median:.2f} s "
          f"over {RUNS} runs (min {min(times):.2f} s, max {max(times):.2f} s; target < {TARGET_SECONDS} s)")
    assert model is not None
    assert len(model.tenants) == TENANTS
    assert sum(len(t.namespaces) for t in model.tenants) == TENANTS * NAMESPACES
    assert median < TARGET_SECONDS
