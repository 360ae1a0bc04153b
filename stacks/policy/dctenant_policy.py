"""The CrossGuard checks of a pool's stack, as plain functions the tests call directly.

Two rules, independent of how the stack program built its resources:

- the ResourceQuotas of one cluster together stay within the pool's allocatable capacity
  (capacity minus reserve, times overcommit, as ``dctenant plan`` computes it from quotas/), per
  resource: CPU, memory, GPUs and every storage class (a quota on a class the pool does not have
  is over a capacity of zero);
- every Namespace except dctenant's system namespace carries a non-empty ``dctenant.io/tenant``
  label (the admission policies and the isolation NetworkPolicy select tenants by it).

``__main__.py`` wraps them in a ``PolicyPack``; this module creates none, so importing it is free.
"""

from __future__ import annotations

import datetime as dt
import functools
import os
import pathlib
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from typing import Any

from pulumi_policy import ResourceValidationArgs, StackValidationArgs

from dctenant.domain import quantities, resources
from dctenant.loaders import loading
from dctenant.ops import planning
from dctenant.render import kubernetes

QUOTA_TYPE = "kubernetes:core/v1:ResourceQuota"
NAMESPACE_TYPE = "kubernetes:core/v1:Namespace"
PACK_DIR = pathlib.Path(__file__).resolve().parent
DEFAULT_QUOTAS = "../../quotas"
STORAGE_SUFFIX = ".storageclass.storage.k8s.io/requests.storage"
# ResourceQuota keys that spend the pool's capacity, by resource key. The totals
# (requests.storage, limits.*) and object counts are not capacity.
_COMPUTE = {"requests.cpu": resources.CPU, "requests.memory": resources.MEMORY,
            f"requests.{resources.GPU}": resources.GPU}

ReportViolation = Callable[..., None]


@functools.lru_cache(maxsize=4)
def _data_centre(path: str) -> tuple[dict[str, dict[str, Decimal]], str]:
    """Allocatable per pool and resource, and the system namespace, from the quotas directory."""
    model = loading.load(path)
    # Allocatable capacity does not depend on the day (only envelopes do).
    allocation = planning.allocate(model, at=dt.date.today())
    allocatable = {name: {r.key: r.allocatable for r in pool.resources} for name, pool in allocation.pools.items()}
    return allocatable, model.policy.kubernetes.system_namespace


def quotas_path(config: Mapping[str, Any]) -> str:
    """The policy's ``quotas`` setting, else ``$DCTENANT_QUOTAS``, else the repository's quotas/."""
    raw = config.get("quotas") or os.environ.get(loading.ENVIRONMENT) or DEFAULT_QUOTAS
    return str(PACK_DIR / raw)


def quota_key(hard_key: str) -> str | None:
    """The resource key a ResourceQuota ``hard`` key spends, or None for totals and object counts."""
    if hard_key in _COMPUTE:
        return _COMPUTE[hard_key]
    if hard_key.endswith(STORAGE_SUFFIX):
        return resources.storage(hard_key.removesuffix(STORAGE_SUFFIX))
    return None


def quota_violations(
    quotas: Iterable[Mapping[str, Any]], *, allocatable: Mapping[str, Mapping[str, Decimal]]
) -> list[str]:
    """Messages for every pool and resource whose ResourceQuotas add up to more than it can allocate.

    ``quotas`` are ResourceQuota properties (``metadata``, ``spec.hard``); each is counted in the
    pool of its ``dctenant.io/pool`` label. A quota without that label cannot be checked, which is
    itself a violation.
    """
    totals: dict[str, dict[str, Decimal]] = {}
    problems: list[str] = []
    for quota in quotas:
        meta = quota.get("metadata") or {}
        where = f"{meta.get('namespace', '?')}/{meta.get('name', '?')}"
        pool = str((meta.get("labels") or {}).get(kubernetes.POOL_LABEL) or "")
        if pool not in allocatable:
            problems.append(f"ResourceQuota {where} has no known {kubernetes.POOL_LABEL} label ({pool!r})")
            continue
        for hard_key, value in ((quota.get("spec") or {}).get("hard") or {}).items():
            key = quota_key(hard_key)
            if key is not None:
                pool_totals = totals.setdefault(pool, {})
                pool_totals[key] = pool_totals.get(key, Decimal(0)) + quantities.Quantity.parse(str(value))
    for pool, amounts in sorted(totals.items()):
        for key in resources.ordered(amounts):
            limit = allocatable[pool].get(key, Decimal(0))
            if amounts[key] > limit:
                problems.append(f"pool {pool}: ResourceQuotas request {resources.humanize(key, amounts[key])} of "
                                f"{key} in total, more than its allocatable {resources.humanize(key, limit)}")
    return problems


def namespace_violations(namespace: Mapping[str, Any], *, system_namespace: str) -> list[str]:
    """A message when a Namespace (other than the system namespace) lacks the tenant label."""
    meta = namespace.get("metadata") or {}
    if meta.get("name") == system_namespace:
        return []
    if not (meta.get("labels") or {}).get(kubernetes.TENANT_LABEL):
        return [f"Namespace {meta.get('name', '?')} has no {kubernetes.TENANT_LABEL} label; every tenant "
                f"namespace is selected by it (isolation, bandwidth admission)"]
    return []


def validate_quotas(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    """StackValidationPolicy callback: the stack's ResourceQuotas within the pools' allocatable capacity."""
    allocatable, _ = _data_centre(quotas_path(args.get_config()))
    quotas = [r.props for r in args.resources if r.resource_type == QUOTA_TYPE]
    for message in quota_violations(quotas, allocatable=allocatable):
        report_violation(message)


def validate_namespace(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    """ResourceValidationPolicy callback: a Namespace carries the tenant label."""
    if args.resource_type != NAMESPACE_TYPE:
        return
    _, system_namespace = _data_centre(quotas_path(args.get_config()))
    for message in namespace_violations(args.props, system_namespace=system_namespace):
        report_violation(message)
