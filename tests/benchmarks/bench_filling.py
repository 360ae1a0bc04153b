"""Timings of the closed-form water-filling against its targets and against the LP reference.

Why this module exists: the allocator promises interactive plans for a national data centre, which
rests on ``filling.fill`` being a few milliseconds per pool. These benchmarks pin that down on one
core. They are not collected by the normal run (the file name does not match ``test_*.py``); run them
with ``python -m pytest tests/benchmarks/bench_filling.py --benchmark-only -p no:cacheprovider``.

Targets: 1,000 tenants x 6 resources in one pool under 10 ms; 10,000 tenants over 50 pools of
6 resources (each tenant in 2-5 pools) under 0.25 s in total. The dense variant (every tenant in every
pool) and the ratio to the sequential-LP reference on 200 tenants x 3 pools are reported, not gated.
"""

from __future__ import annotations

import os

# One core, one BLAS thread: set before numpy loads its BLAS so the numbers mean the same everywhere.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
if hasattr(os, "sched_setaffinity"):
    os.sched_setaffinity(0, {0})

import importlib.util  # noqa: E402
import pathlib  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from types import ModuleType  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
import numpy.typing as npt  # noqa: E402
import pytest  # noqa: E402

from dctenant.engine import filling  # noqa: E402

F64 = npt.NDArray[np.float64]
Pool = tuple[F64, F64, F64, F64]
RESOURCES = 6  # cpu, memory, gpu, local storage, egress, ingress


def _load_reference() -> ModuleType:
    """Load the LP reference by path: it lives with the unit tests, which need not be a package."""
    path = pathlib.Path(__file__).resolve().parents[1] / "unit" / "engine" / "leximin_lp.py"
    spec = importlib.util.spec_from_file_location("leximin_lp", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


def _demands(rng: np.random.Generator, n: int) -> F64:
    """Lognormal demands; a tenant skips a resource 20 % of the time and only 10 % want GPUs."""
    dem = rng.lognormal(0.0, 1.0, (n, RESOURCES)) * (rng.random((n, RESOURCES)) < 0.8)
    dem[:, 2] *= rng.random(n) < 0.1
    return dem


def _pool(rng: np.random.Generator, n: int) -> Pool:
    dem = _demands(rng, n)
    # Oversubscribed 1.2x to 3x, so several resources saturate and the fill runs several rounds.
    cap = dem.sum(axis=0) / rng.uniform(1.2, 3.0, RESOURCES)
    weights = rng.integers(1, 9, n).astype(float)
    guarantees = rng.uniform(0.0, 0.3, n) * (rng.random(n) < 0.3)
    return dem, cap, weights, guarantees


def _realistic_pools(rng: np.random.Generator, tenants: int, pools: int) -> list[Pool]:
    """Each tenant lives in 2-5 pools, so a pool holds ~700 tenants on average."""
    member = np.zeros((tenants, pools), dtype=bool)
    for i, k in enumerate(rng.integers(2, 6, tenants)):
        member[i, rng.choice(pools, size=k, replace=False)] = True
    weights = rng.integers(1, 9, tenants).astype(float)
    out = []
    for p in range(pools):
        who = np.flatnonzero(member[:, p])
        dem = _demands(rng, who.size)
        cap = dem.sum(axis=0) / rng.uniform(1.2, 3.0, RESOURCES)
        guarantees = rng.uniform(0.0, 0.3, who.size) * (rng.random(who.size) < 0.3)
        out.append((dem, cap, weights[who], guarantees))
    return out


def _fill_all(pools: list[Pool]) -> list[filling.Fill]:
    return [filling.fill(demand=d, capacity=c, weights=w, guarantees=g) for d, c, w, g in pools]


def _note(benchmark: Any, **extra: object) -> None:
    benchmark.extra_info.update(extra)


def test_one_pool_1000_tenants(benchmark: Any) -> None:
    pool = [_pool(np.random.default_rng(1), 1000)]
    result = benchmark(_fill_all, pool)
    _note(benchmark, rounds=result[0].rounds, target_ms=10)
    assert benchmark.stats.stats.median < 0.010


def test_50_pools_10000_tenants_realistic(benchmark: Any) -> None:
    pools = _realistic_pools(np.random.default_rng(2), 10_000, 50)
    result = benchmark(_fill_all, pools)
    _note(benchmark, tenants_per_pool=sum(p[0].shape[0] for p in pools) / len(pools), target_ms=250)
    assert len(result) == 50
    assert benchmark.stats.stats.median < 0.25


def test_50_pools_10000_tenants_dense(benchmark: Any) -> None:
    rng = np.random.default_rng(3)
    pools = [_pool(rng, 10_000) for _ in range(50)]
    benchmark.pedantic(_fill_all, args=(pools,), rounds=5, iterations=1, warmup_rounds=1)
    _note(benchmark, tenants_per_pool=10_000)


def test_leximin_lp_200_tenants_3_pools(benchmark: Any) -> None:
    reference = _load_reference()
    rng = np.random.default_rng(4)
    pools = [_pool(rng, 200) for _ in range(3)]

    def solve_all() -> list[Any]:
        return [reference.solve(demand=d, capacity=c, weights=w, guarantees=g) for d, c, w, g in pools]

    lp = benchmark.pedantic(solve_all, rounds=3, iterations=1)
    fast = min(_time(lambda: _fill_all(pools)) for _ in range(50))
    ratio = benchmark.stats.stats.median / fast
    _note(benchmark, fill_best_ms=fast * 1e3, lp_over_fill=ratio, programs=sum(r.programs for r in lp))
    for got, ref in zip(_fill_all(pools), lp, strict=True):
        np.testing.assert_allclose(got.fraction, ref.fraction, atol=1e-6)
    print(f"\nleximin LP / fill on 200 tenants x 3 pools: {ratio:,.0f}x")


def _time(fn: Any) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


if __name__ == "__main__":  # pragma: no cover - convenience entry point
    sys.exit(pytest.main([__file__, "--benchmark-only", "-p", "no:cacheprovider"]))
