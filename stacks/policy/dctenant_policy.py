"""The CrossGuard checks of a pool's stack, as plain functions the tests call directly.

Three rules, independent of how the stack program built its resources:

- the ResourceQuotas of one cluster together stay within the pool's allocatable capacity
  (capacity minus reserve, times overcommit, as ``dctenant plan`` computes it from quotas/), per
  resource: CPU, memory, GPUs and every storage class (a quota on a class the pool does not have
  is over a capacity of zero);
- every Namespace except dctenant's system namespace carries a non-empty ``dctenant.io/tenant``
  label (the admission policies and the isolation NetworkPolicy select tenants by it), the tenant
  and pool quotas/ declare for it, and Pod Security labels at a level other than ``privileged``,
  pinned to a version;
- a tenant's isolation is intact (``isolation_violations``): every tenant namespace keeps its
  quota, limits, NetworkPolicy and both admission ConfigMaps; the cluster keeps every admission
  policy and binding; the tenant-admin ClusterRole grants nothing beyond what dctenant renders;
  every quota has all its keys, the tenant and pool of its namespace, and no ``limits.*`` above
  its requests times the policy's limits ratio.

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
# The objects every tenant namespace must keep, by (kind, name).
PROTECTIVE = (("ResourceQuota", kubernetes.QUOTA), ("LimitRange", kubernetes.LIMITS),
              ("NetworkPolicy", kubernetes.ISOLATION), ("ConfigMap", kubernetes.BANDWIDTH),
              ("ConfigMap", kubernetes.ISOLATION_PARAMS))


@functools.lru_cache(maxsize=4)
def _declared(path: str) -> tuple[dict[str, tuple[str, str]], frozenset[str], Any, tuple[str, ...]]:
    """From quotas/: namespace → (tenant, pool), the admission policies' names, the policy's Kubernetes
    settings and the storage classes (what every tenant quota must name)."""
    model = loading.load(path)
    owners = {ns.name: (t.id, ns.pool) for t in model.tenants for ns in t.namespaces}
    policies = kubernetes.cluster_objects(policy=model.policy.kubernetes, pool="-")
    names = frozenset(f"{m['kind']}/{m['metadata']['name']}" for m in policies
                      if m["kind"].startswith("ValidatingAdmissionPolicy"))
    classes = tuple(sorted(c.name for c in model.datacentre.storage_classes))
    return owners, names, model.policy.kubernetes, classes


def kind_of(resource_type: str) -> str:
    """``kubernetes:core/v1:ResourceQuota`` → ``ResourceQuota``."""
    return resource_type.rsplit(":", 1)[-1]


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


def namespace_violations(namespace: Mapping[str, Any], *, system_namespace: str,
                         declared: Mapping[str, tuple[str, str]] | None = None) -> list[str]:
    """Messages for a Namespace (other than the system namespace) without the tenant label, with the
    tenant or pool label of another than quotas/ declares (``declared``: name → (tenant, pool)), or
    without pinned, non-privileged Pod Security labels."""
    meta = namespace.get("metadata") or {}
    name = meta.get("name", "?")
    labels = meta.get("labels") or {}
    out = _pod_security_violations(name, labels)
    if meta.get("name") == system_namespace:
        return out
    if not labels.get(kubernetes.TENANT_LABEL):
        return [f"Namespace {name} has no {kubernetes.TENANT_LABEL} label; every tenant "
                f"namespace is selected by it (isolation, bandwidth admission)", *out]
    if declared is not None and name in declared:
        tenant, pool = declared[name]
        for label, want in ((kubernetes.TENANT_LABEL, tenant), (kubernetes.POOL_LABEL, pool)):
            if labels.get(label) != want:
                out.append(f"Namespace {name} is labelled {label}={labels.get(label)!r}; quotas/ declares {want!r}")
    return out


def _pod_security_violations(name: str, labels: Mapping[str, str]) -> list[str]:
    out = []
    for mode in kubernetes.POD_SECURITY_MODES:
        level = labels.get(f"{kubernetes.POD_SECURITY}/{mode}")
        version = labels.get(f"{kubernetes.POD_SECURITY}/{mode}-version")
        if level not in ("restricted", "baseline"):
            out.append(f"Namespace {name}: Pod Security {mode} level is {level!r}; tenants get restricted or "
                       "baseline (privileged lets a pod take over its node)")
        if not version or version == "latest":
            out.append(f"Namespace {name}: Pod Security {mode} version is {version!r}; pin it (e.g. v1.30)")
    return out


def isolation_violations(resources: Iterable[tuple[str, Mapping[str, Any]]], *, path: str) -> list[str]:
    """Messages for every way the stack's resources (kind, properties) leave a tenant less isolated than
    dctenant renders it: a protective object or admission policy missing, a broadened tenant-admin role,
    a quota without a key, with another tenant's or pool's label, or with inflated limits."""
    owners, policy_names, settings, classes = _declared(path)
    found: dict[tuple[str, str, str], Mapping[str, Any]] = {}
    for kind, props in resources:
        meta = props.get("metadata") or {}
        found[(kind, str(meta.get("namespace") or ""), str(meta.get("name") or ""))] = props
    out = []
    for name in sorted(policy_names):
        kind, policy = name.split("/", 1)
        if (kind, "", policy) not in found:
            out.append(f"{kind} {policy} is missing: tenant namespaces would admit what it refuses")
    tenant_namespaces = sorted(n for (k, _, n), p in found.items() if k == "Namespace"
                               and kubernetes.TENANT_LABEL in ((p.get("metadata") or {}).get("labels") or {}))
    for namespace in tenant_namespaces:
        for kind, name in PROTECTIVE:
            if (kind, namespace, name) not in found:
                out.append(f"{kind} {namespace}/{name} is missing: the namespace keeps running without it")
    role = found.get(("ClusterRole", "", kubernetes.CLUSTER_ROLE))
    if role is not None:
        allowed = _grants(kubernetes.admin_rules())
        extra = sorted(_grants(role.get("rules") or []) - allowed)
        if extra:
            out.append(f"ClusterRole {kubernetes.CLUSTER_ROLE} grants more than dctenant renders: "
                       + ", ".join(f"{verb} {group or 'core'}/{resource}" for group, resource, verb in extra[:5]))
    required = set(kubernetes.quota_hard({}, policy=settings, classes=classes, served=True))
    for (kind, namespace, name), props in sorted(found.items()):
        if kind == "ResourceQuota" and name == kubernetes.QUOTA and namespace:
            out.extend(_quota_violations(namespace, props, required=required, owners=owners, settings=settings))
    return out


def _grants(rules: Iterable[Mapping[str, Any]]) -> set[tuple[str, str, str]]:
    return {(group, resource, verb) for rule in rules for group in rule.get("apiGroups") or []
            for resource in rule.get("resources") or [] for verb in rule.get("verbs") or []}


def _quota_violations(namespace: str, quota: Mapping[str, Any], *, required: set[str],
                      owners: Mapping[str, tuple[str, str]], settings: Any) -> list[str]:
    where = f"ResourceQuota {namespace}/{kubernetes.QUOTA}"
    hard = (quota.get("spec") or {}).get("hard") or {}
    labels = (quota.get("metadata") or {}).get("labels") or {}
    out = []
    missing = sorted(required - set(hard))
    if missing:
        out.append(f"{where} lacks {', '.join(missing)}: what it does not list is unlimited")
    if namespace in owners:
        tenant, pool = owners[namespace]
        for label, want in ((kubernetes.TENANT_LABEL, tenant), (kubernetes.POOL_LABEL, pool)):
            if labels.get(label) != want:
                out.append(f"{where} is labelled {label}={labels.get(label)!r}; quotas/ declares {want!r}")
    ratios = {"cpu": settings.limits_ratio.get("cpu", Decimal(1)),
              "memory": settings.limits_ratio.get("memory", Decimal(1)), kubernetes.EPHEMERAL: Decimal(1)}
    for resource, ratio in ratios.items():
        requested, limit = hard.get(f"requests.{resource}"), hard.get(f"limits.{resource}")
        if requested is None or limit is None:
            continue
        if quantities.Quantity.parse(str(limit)) > quantities.Quantity.parse(str(requested)) * ratio:
            out.append(f"{where}: limits.{resource} {limit} is above requests.{resource} {requested} × {ratio}")
    return out


def validate_quotas(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    """StackValidationPolicy callback: the stack's ResourceQuotas within the pools' allocatable capacity."""
    allocatable, _ = _data_centre(quotas_path(args.get_config()))
    quotas = [r.props for r in args.resources if r.resource_type == QUOTA_TYPE]
    for message in quota_violations(quotas, allocatable=allocatable):
        report_violation(message)


def validate_namespace(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    """ResourceValidationPolicy callback: a Namespace carries its tenant's labels and pinned Pod Security."""
    if args.resource_type != NAMESPACE_TYPE:
        return
    path = quotas_path(args.get_config())
    _, system_namespace = _data_centre(path)
    owners = _declared(path)[0]
    for message in namespace_violations(args.props, system_namespace=system_namespace, declared=owners):
        report_violation(message)


def validate_isolation(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    """StackValidationPolicy callback: every tenant's protective objects, policies, role and quota keys intact."""
    resources = [(kind_of(r.resource_type), r.props) for r in args.resources]
    for message in isolation_violations(resources, path=quotas_path(args.get_config())):
        report_violation(message)
