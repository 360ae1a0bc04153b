"""Benchmark of the Kubernetes renderer: 1,000 tenants × 10 namespaces (about 60,000 objects).

Run: python -m pytest tests/benchmarks/bench_render.py -p no:cacheprovider -s
Target (issue 4): ``render()`` of the whole estate in under 10 s; the figure reported is objects per
second. The allocation is computed once, outside the timing: it has its own benchmark.
"""

from __future__ import annotations

import datetime as dt
import random
import statistics
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from dctenant.domain import pools, quotas, resources, tenants
from dctenant.engine import allocating
from dctenant.render import kubernetes
from tests import tiers

AT = dt.date(2026, 11, 27)
CLASSES = ("nvme-replicated", "ssd-standard", "hdd-archive")
POLICY = tiers.POLICY


def estate(n_tenants: int, namespaces_per_tenant: int, n_pools: int, seed: int = 11) -> quotas.Quotas:
    """A data centre whose tenants each declare ``namespaces_per_tenant`` namespaces over a few pools."""
    rnd = random.Random(seed)
    members = tuple(
        pools.Pool(name=f"pool-{p}", site="s", context=f"ctx-{p}", capacity={
            resources.CPU: Decimal(200_000), resources.MEMORY: Decimal(800) * 2**40,
            resources.GPU: Decimal(400),
            **{resources.storage(c): Decimal(4000) * 2**40 for c in CLASSES},
            resources.EGRESS: Decimal(16) * 10**12, resources.INGRESS: Decimal(8) * 10**12,
        })
        for p in range(n_pools)
    )
    people = []
    for i in range(n_tenants):
        tid = f"t{i:04d}"
        status = tenants.LicenceStatus.SUSPENDED if i % 50 == 0 else tenants.LicenceStatus.ACTIVE
        licence = tenants.Licence(number=f"L-{i}", issued=dt.date(2024, 1, 1), expires=dt.date(2028, 1, 1),
                                  status=status)
        namespaces = []
        for n in range(namespaces_per_tenant):
            quota = {
                resources.CPU: Decimal(rnd.randint(1, 4000)) / 10,
                resources.MEMORY: Decimal(rnd.randint(1, 512)) * 2**30,
                resources.storage(rnd.choice(CLASSES)): Decimal(rnd.randint(1, 100)) * 2**40,
                resources.EGRESS: Decimal(rnd.randint(1, 100)) * 10**8,
                resources.INGRESS: Decimal(rnd.randint(1, 100)) * 10**8,
            }
            if rnd.random() < 0.2:
                quota[resources.GPU] = Decimal(rnd.randint(1, 8))
            namespaces.append(tenants.Namespace(name=f"{tid}-ns{n}", pool=f"pool-{rnd.randrange(n_pools)}",
                                                quota=quota))
        demand: dict[str, dict[str, Decimal]] = {}
        for ns in namespaces:
            demand[ns.pool] = resources.add(demand.get(ns.pool, {}), ns.quota)
        people.append(tenants.Tenant(
            id=tid, display_name=pools.DisplayName(en=f"Tenant {i}", fa=f"مستاجر {i}"),
            tier=rnd.choice(["national", "standard", "startup"]), licence=licence,
            owners=tenants.Owners(groups=(f"{tid}-admins",), users=(f"ops@{tid}.example",)),
            demand=demand, namespaces=tuple(namespaces)))
    dc = pools.DataCentre(name="dc", display_name=pools.DisplayName(en="dc", fa="dc"),
                          storage_classes=tuple(pools.StorageClass(name=c) for c in CLASSES), pools=members)
    return quotas.Quotas(datacentre=dc, policy=POLICY, tenants=tuple(people))


def timed(fn: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def test_render_1000_tenants_10_namespaces() -> None:
    model = estate(1_000, 10, 20)
    allocation = allocating.allocate(model.datacentre, tenants=model.tenants, policy=model.policy, at=AT)
    seconds, rendered = timed(lambda: kubernetes.render(model, allocation), 3)
    objects = sum(len(objs) for objs in rendered.values())
    print(f"\nrender(): 1,000 tenants x 10 namespaces over 20 pools = {objects:,} objects: "
          f"median {seconds:.2f} s, {objects / seconds:,.0f} objects/s")
    yaml_seconds, _ = timed(lambda: [kubernetes.to_yaml(objs) for objs in rendered.values()], 1)
    print(f"to_yaml() of the same: {yaml_seconds:.2f} s, {objects / yaml_seconds:,.0f} objects/s")
    assert objects >= 60_000
    assert seconds < 10
