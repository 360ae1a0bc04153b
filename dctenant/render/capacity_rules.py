"""Each pool's declared capacity, platform reserve and allocatable amount as Prometheus series.

The staff's capacity dashboard compares what a pool has with what is handed out and what is used.
Allocation and usage already exist as recording rules (``dctenant:tenant_envelope``,
``dctenant:tenant_usage``); capacity and reserve live only in ``quotas/datacentre.yaml``. Recording
them next to the others lets one PromQL expression put the four side by side, without the
dashboard carrying numbers that would go stale when the data centre grows.

The records are constant vectors labelled ``pool`` and ``resource`` (the domain's resource keys,
e.g. ``storage/ssd-standard``), in base units: cores, bytes, GPUs, bits per second. Pure and
deterministic, like every renderer.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from dctenant.domain import pools, resources

CAPACITY = "dctenant:pool_capacity"
RESERVE = "dctenant:pool_reserve"
ALLOCATABLE = "dctenant:pool_allocatable"


def records(pool: pools.Pool) -> list[dict[str, Any]]:
    """Recording rules of one pool: capacity, reserve and ``capacity × overcommit − reserve`` per resource."""
    out: list[dict[str, Any]] = []
    for key in resources.ordered(pool.capacity):
        labels = {"pool": pool.name, "resource": key}
        for record, value in ((CAPACITY, pool.capacity[key]), (RESERVE, pool.reserve.get(key, Decimal(0))),
                              (ALLOCATABLE, pool.allocatable(key))):
            out.append({"record": record, "expr": f"vector({resources.plain(value)})",
                        "labels": dict(labels)})
    return out


def group(pool: pools.Pool) -> dict[str, Any]:
    """The records as a rules group (``dctenant-<pool>-capacity``) to add to the pool's rules file."""
    return {"name": f"dctenant-{pool.name}-capacity", "rules": records(pool)}
