"""Benchmark of the whole domain-level allocator (Decimal in, rounded Decimal envelopes out).

Run: python -m pytest tests/benchmarks/bench_allocating.py -p no:cacheprovider -s
Targets (issue 13): the whole ``allocate()`` (Decimal in, rounded Decimal envelopes out) for 10,000
tenants × 50 pools × 6 resources under 0.25 s median on one core, 1,000 tenants × 1 pool under 10 ms;
`dctenant plan` on the example < 1 s. Tenants are built (loaded) before timing: their demands'
numeric form is derived at load time. Both wall time and process CPU time are reported, because a
shared machine stretches wall time, with the load average of the run; neither is asserted (a
benchmark reports, it does not fail). ``allocate()`` holds the cyclic garbage collector off while
it builds the allocation; each timed call ends with ``gc.collect(0)`` so that the young-generation
scan it deferred (of every object it created) is counted too, and the previous result is freed
inside the timed region.

What ``allocate()`` returns is complete: every envelope's whole units, every reason, round and
dominant resource is computed and held. What it leaves to the first read is assembly: a tenant's
``TenantAllocation`` and its ``Share`` objects are built from the pool's columns when first read,
an envelope's amounts become Decimals (whole units × the unit) when read, and a pool's six-decimal
fraction and level labels are formatted when its first share is read. So a second figure is
reported for the 10,000-tenant estate: ``allocate()`` followed by reading every share of every
tenant, each envelope as a dict of Decimals, and its labels: what a caller that prints or
serialises the whole plan pays.
"""

from __future__ import annotations

import datetime as dt
import gc
import os
import pathlib
import random
import statistics
import subprocess
import sys
import time
from decimal import Decimal

from dctenant.domain import allocations, pools, resources, tenants
from dctenant.engine import allocating
from tests import tiers

if hasattr(os, "sched_setaffinity"):
    os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})

KEYS = (resources.CPU, resources.MEMORY, resources.GPU, resources.storage("ssd"), resources.EGRESS, resources.INGRESS)
POLICY = tiers.POLICY


def estate(
    n_tenants: int, n_pools: int, pools_per_tenant: tuple[int, int], seed: int = 7
) -> tuple[pools.DataCentre, list[tenants.Tenant]]:
    rnd = random.Random(seed)
    members = tuple(
        pools.Pool(
            name=f"p{p}",
            site="s",
            context="c",
            capacity={
                resources.CPU: Decimal(rnd.randint(2000, 20000)),
                resources.MEMORY: Decimal(rnd.randint(8, 80)) * 2**40,
                resources.GPU: Decimal(rnd.randint(0, 400)),
                resources.storage("ssd"): Decimal(rnd.randint(100, 2000)) * 2**40,
                resources.EGRESS: Decimal(rnd.randint(100, 1600)) * 10**9,
                resources.INGRESS: Decimal(rnd.randint(100, 800)) * 10**9,
            },
        )
        for p in range(n_pools)
    )
    licence = tenants.Licence(
        number="L", issued=dt.date(2020, 1, 1), expires=dt.date(2030, 1, 1), status=tenants.LicenceStatus.ACTIVE
    )
    ts = []
    scale = n_pools / n_tenants * 4
    for i in range(n_tenants):
        chosen = rnd.sample(range(n_pools), rnd.randint(*pools_per_tenant))
        demand = {
            f"p{p}": {
                resources.CPU: Decimal(rnd.randint(10, 4000)) * Decimal(scale).quantize(Decimal("0.001")) or Decimal(1),
                resources.MEMORY: Decimal(rnd.randint(1, 200)) * 2**30,
                resources.GPU: Decimal(rnd.randint(0, 4)),
                resources.storage("ssd"): Decimal(rnd.randint(1, 500)) * 2**30,
                resources.EGRESS: Decimal(rnd.randint(1, 2000)) * 10**7,
                resources.INGRESS: Decimal(rnd.randint(1, 2000)) * 10**7,
            }
            for p in chosen
        }
        ts.append(
            tenants.Tenant(
                id=f"t{i:05d}",
                display_name=pools.DisplayName(en="t", fa="t"),
                tier=rnd.choice(["national", "standard", "startup", "startup"]),
                licence=licence,
                owners=tenants.Owners(groups=("g",)),
                demand=demand,
            )
        )
    dc = pools.DataCentre(
        name="dc", display_name=pools.DisplayName(en="dc", fa="dc"), storage_classes=(), pools=members
    )
    return dc, ts


def median_seconds(fn: object, repeats: int) -> float:
    return medians(fn, repeats)[0]


def medians(fn: object, repeats: int) -> tuple[float, float]:
    """Median wall and median CPU seconds of ``repeats`` calls."""
    wall, cpu = [], []
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        fn()  # type: ignore[operator]
        gc.collect(0)
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return statistics.median(wall), statistics.median(cpu)


def load() -> str:
    """The machine's load averages (1, 5, 15 min): a benchmark on a shared machine means little without them."""
    return "load " + "/".join(f"{x:.1f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "load unknown"


def test_allocate_10k_tenants_50_pools() -> None:
    dc, ts = estate(10_000, 50, (2, 5))
    at = dt.date(2026, 11, 27)
    seconds, cpu = medians(lambda: allocating.allocate(dc, tenants=ts, policy=POLICY, at=at), 7)
    entries = sum(len(t.demand) for t in ts)
    print(
        f"\nallocate(): 10,000 tenants x 50 pools x 6 resources ({entries} tenant-pool demands): "
        f"median {seconds * 1000:.0f} ms wall, {cpu * 1000:.0f} ms CPU (target < 250 ms); {load()}"
    )


def read_every_envelope(plan: allocations.Allocation) -> int:
    """Every share of every tenant built and read: its envelope as Decimals, its labels and reasons."""
    amounts = 0
    for t in plan.tenants.values():
        for share in t.shares.values():
            amounts += len(dict(share.envelope))
            share.fraction, share.weighted_share, share.limited_by  # noqa: B018 (read, as a caller would)
    return amounts


def test_allocate_10k_tenants_50_pools_and_read_every_envelope() -> None:
    dc, ts = estate(10_000, 50, (2, 5))
    at = dt.date(2026, 11, 27)
    seconds, cpu = medians(lambda: read_every_envelope(allocating.allocate(dc, tenants=ts, policy=POLICY, at=at)), 7)
    amounts = read_every_envelope(allocating.allocate(dc, tenants=ts, policy=POLICY, at=at))
    print(
        f"\nallocate() and every envelope read ({amounts} Decimal amounts): 10,000 tenants x 50 pools x 6 resources: "
        f"median {seconds * 1000:.0f} ms wall, {cpu * 1000:.0f} ms CPU; {load()}"
    )


def test_allocate_1k_tenants_1_pool() -> None:
    dc, ts = estate(1_000, 1, (1, 1))
    at = dt.date(2026, 11, 27)
    seconds, cpu = medians(lambda: allocating.allocate(dc, tenants=ts, policy=POLICY, at=at), 21)
    print(f"\nallocate(): 1,000 tenants x 1 pool x 6 resources: median {seconds * 1000:.1f} ms wall, "
          f"{cpu * 1000:.1f} ms CPU (target < 10 ms); {load()}")


def test_plan_command_on_the_example() -> None:
    root = pathlib.Path(__file__).resolve().parents[2]
    cmd = [sys.executable, "-m", "dctenant", "plan", str(root / "quotas"), "--at", "2026-11-27", "-o", "json"]
    seconds = median_seconds(lambda: subprocess.run(cmd, check=True, capture_output=True), 10)
    print(f"\n`dctenant plan` on the example, wall time incl. start-up: median {seconds * 1000:.0f} ms")
