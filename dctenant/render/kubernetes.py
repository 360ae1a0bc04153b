"""Every Kubernetes object a pool (cluster) should hold: the single description of a tenant namespace.

``dctenant render`` writes these objects to files, ``dctenant diff``/``apply`` compare them with a
live cluster and the Pulumi stacks hand them to Pulumi, so none of those re-describes what a tenant
namespace contains. Per tenant namespace: the Namespace, a ResourceQuota and a LimitRange sized
from the allocation's granted quota, the ``dctenant-bandwidth`` ConfigMap read by the bandwidth
admission policy, a NetworkPolicy isolating tenants from one another, and a RoleBinding of the
tenant's owners. Once per cluster: the tenant-admin ClusterRole, the admission policies
(``admission``), dctenant's system namespace and, when configured, the in-cluster enforcer
(``enforcer``).

Objects are plain dicts (the shape of a Kubernetes manifest) so that every consumer can use them
without a client library. Rendering is pure and deterministic: the same model and allocation give
the same objects in the same order, and ``to_yaml`` the same bytes.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from decimal import ROUND_FLOOR, Decimal
from typing import Any

import yaml

from dctenant.domain import allocations, changes, policies, quantities, quotas, resources, tenants
from dctenant.render import admission, enforcer

Manifest = changes.ManifestDict

MANAGED_BY = {"app.kubernetes.io/managed-by": "dctenant"}
TENANT_LABEL = "dctenant.io/tenant"
POOL_LABEL = "dctenant.io/pool"
TIER_LABEL = "dctenant.io/tier"
NAME_LABEL = "kubernetes.io/metadata.name"  # set by the API server on every namespace

CLUSTER_ROLE = "dctenant:tenant-admin"
QUOTA = "dctenant-quota"
LIMITS = "dctenant-limits"
ISOLATION = "dctenant-isolation"
ROLE_BINDING = "dctenant-tenant-admin"
BANDWIDTH = admission.PARAMS
RBAC_GROUP = "rbac.authorization.k8s.io"

# Order of the objects of one namespace: limits exist before the owners are given access.
KIND_ORDER = ("Namespace", "ResourceQuota", "LimitRange", "ConfigMap", "NetworkPolicy", "RoleBinding")
_KIND_RANK = {kind: rank for rank, kind in enumerate(KIND_ORDER)}

_ALL_VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]
_READ_VERBS = ["get", "list", "watch"]
# What a tenant's owners may do in their namespaces: run and expose workloads, but only read the
# objects that carry their limits and isolation. Namespaces themselves are read-only (labels are
# dctenant's), and there is no RBAC management, so owners cannot grant themselves more.
_ADMIN_RULES = (
    ("", ("configmaps", "endpoints", "persistentvolumeclaims", "pods", "pods/attach", "pods/exec", "pods/log",
          "pods/portforward", "secrets", "serviceaccounts", "services"), _ALL_VERBS),
    ("apps", ("daemonsets", "deployments", "deployments/scale", "replicasets", "replicasets/scale", "statefulsets",
              "statefulsets/scale"), _ALL_VERBS),
    ("autoscaling", ("horizontalpodautoscalers",), _ALL_VERBS),
    ("batch", ("cronjobs", "jobs"), _ALL_VERBS),
    ("networking.k8s.io", ("ingresses",), _ALL_VERBS),
    ("policy", ("poddisruptionbudgets",), _ALL_VERBS),
    ("", ("events", "limitranges", "namespaces", "pods/status", "resourcequotas", "resourcequotas/status"),
     _READ_VERBS),
    ("discovery.k8s.io", ("endpointslices",), _READ_VERBS),
    ("events.k8s.io", ("events",), _READ_VERBS),
    ("metrics.k8s.io", ("pods",), _READ_VERBS),
    ("networking.k8s.io", ("networkpolicies",), _READ_VERBS),
)


def render(model: quotas.Quotas, allocation: allocations.Allocation) -> dict[str, tuple[Manifest, ...]]:
    """Every pool's objects, by pool name (in the data centre's order)."""
    return {pool: render_pool(model, allocation, pool=pool) for pool in model.datacentre.pool_names}


def render_pool(model: quotas.Quotas, allocation: allocations.Allocation, *, pool: str) -> tuple[Manifest, ...]:
    """The objects of one pool: cluster-wide ones first, each tenant namespace in name order, the enforcer.

    Quotas come from the allocation's granted namespace quotas; a tenant whose licence is not
    served keeps its namespaces (nothing is deleted behind its back) with every quota at zero.
    """
    policy = model.policy.kubernetes
    by_id = {t.id: t for t in model.tenants}
    classes = tuple(sorted(c.name for c in model.datacentre.storage_classes))
    out = list(cluster_objects(policy=policy, pool=pool))
    for grant in sorted((n for n in allocation.namespaces if n.pool == pool), key=lambda n: n.namespace):
        served = allocation.tenants[grant.tenant].state != "suspended"
        out.extend(namespace_objects(by_id[grant.tenant], grant, policy=policy, classes=classes, served=served))
    # Last: the enforcer starts acting only once every quota it may lower exists.
    out.extend(enforcer.objects(policy=policy, pool=pool, context=model.datacentre.pool(pool).context,
                                labels={**MANAGED_BY, POOL_LABEL: pool}, sources=model.sources,
                                quota=QUOTA, bandwidth=BANDWIDTH))
    return tuple(out)


class _Dumper(getattr(yaml, "CSafeDumper", yaml.SafeDumper)):  # type: ignore[misc]
    """libyaml's safe dumper when present (several times faster), never writing anchors and aliases."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def to_yaml(manifests: Iterable[Manifest]) -> str:
    """Multi-document YAML with sorted keys: the same objects always give the same bytes.

    Lines are never folded, so that a CEL expression stays on one line and diffs stay readable.
    """
    return yaml.dump_all(list(manifests), Dumper=_Dumper, sort_keys=True, allow_unicode=True,
                         default_flow_style=False, explicit_start=True, width=2**16)


def cluster_objects(*, policy: policies.Namespaces, pool: str) -> tuple[Manifest, ...]:
    """What every cluster holds once: the system namespace, the tenant-admin role, the admission policies."""
    labels = {**MANAGED_BY, POOL_LABEL: pool}
    role = {
        "apiVersion": f"{RBAC_GROUP}/v1",
        "kind": "ClusterRole",
        "metadata": {"name": CLUSTER_ROLE, "labels": dict(labels)},
        "rules": [{"apiGroups": [group], "resources": list(names), "verbs": list(verbs)}
                  for group, names, verbs in _ADMIN_RULES],
    }
    system = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": policy.system_namespace,
                                                                     "labels": dict(labels)}}
    return (
        system,
        role,
        admission.bandwidth_policy(labels=labels),
        admission.protect_policy(labels=labels, managed_by=MANAGED_BY, system_namespace=policy.system_namespace),
        admission.bandwidth_binding(labels=labels, tenant_label=TENANT_LABEL, managed_by=MANAGED_BY),
        admission.protect_binding(labels=labels),
    )


def namespace_objects(
    tenant: tenants.Tenant,
    grant: allocations.NamespaceQuota,
    *,
    policy: policies.Namespaces,
    classes: tuple[str, ...],
    served: bool,
) -> tuple[Manifest, ...]:
    """One tenant namespace: the Namespace first, then its objects by (kind order, name)."""
    granted = grant.granted if served else {}
    labels = {**MANAGED_BY, TENANT_LABEL: tenant.id, POOL_LABEL: grant.pool}
    name = grant.namespace
    namespace = {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {
            "name": name,
            "labels": {**labels, TIER_LABEL: tenant.tier},
            "annotations": {
                "dctenant.io/licence-number": tenant.licence.number,
                "dctenant.io/licence-expires": tenant.licence.expires.isoformat(),
                "dctenant.io/display-name-en": tenant.display_name.en,
                "dctenant.io/display-name-fa": tenant.display_name.fa,
            },
        },
    }
    objects = [
        _object("v1", "ResourceQuota", QUOTA, name, labels,
                spec={"hard": quota_hard(granted, policy=policy, classes=classes, served=served)}),
        _object("v1", "LimitRange", LIMITS, name, labels, spec={"limits": limit_ranges(granted, policy=policy)}),
        _object("v1", "ConfigMap", BANDWIDTH, name, labels, data=bandwidth_params(granted, policy=policy)),
        _object("networking.k8s.io/v1", "NetworkPolicy", ISOLATION, name, labels,
                spec=isolation(tenant.id, policy=policy)),
        _object(f"{RBAC_GROUP}/v1", "RoleBinding", ROLE_BINDING, name, labels,
                roleRef={"apiGroup": RBAC_GROUP, "kind": "ClusterRole", "name": CLUSTER_ROLE},
                subjects=subjects(tenant.owners)),
    ]
    objects.sort(key=lambda o: (_KIND_RANK[o["kind"]], o["metadata"]["name"]))
    return (namespace, *objects)


def _object(api_version: str, kind: str, name: str, namespace: str, labels: Mapping[str, str],
            **body: Any) -> Manifest:
    return {"apiVersion": api_version, "kind": kind,
            "metadata": {"name": name, "namespace": namespace, "labels": dict(labels)}, **body}


def quota_hard(
    granted: Mapping[str, Decimal], *, policy: policies.Namespaces, classes: tuple[str, ...], served: bool
) -> dict[str, str]:
    """The ResourceQuota's ``hard`` map: compute, storage per class (0 where none) and object counts.

    A tenant that is not served gets zero of everything, including ``pods``: with a zero CPU quota
    a pod that requests zero CPU would otherwise still be admitted.
    """
    def amount(key: str) -> Decimal:
        return granted.get(key, Decimal(0))

    cpu, memory = amount(resources.CPU), amount(resources.MEMORY)
    storage = {c: amount(resources.storage(c)) for c in classes}

    def count(n: int) -> str:
        return str(n) if served else "0"

    (requests_cpu, limits_cpu), (requests_memory, limits_memory) = map(resources.quota_keys, ("cpu", "memory"))
    hard = {
        requests_cpu: _format(cpu),
        limits_cpu: _format(_floor(resources.CPU, cpu * policy.limits_ratio.get("cpu", Decimal(1)))),
        requests_memory: _format(memory),
        limits_memory: _format(_floor(resources.MEMORY, memory * policy.limits_ratio.get("memory", Decimal(1)))),
        resources.quota_keys(resources.GPU)[0]: _format(amount(resources.GPU)),
        "requests.storage": _format(sum(storage.values(), Decimal(0))),
        "persistentvolumeclaims": count(policy.persistent_volume_claims),
        # services.loadbalancers is the quota's name for Services of type LoadBalancer; the object
        # count syntax (count/services.loadbalancers) would count a resource that does not exist.
        "services.loadbalancers": count(policy.load_balancers),
        "services.nodeports": count(policy.node_ports),
    }
    for c, value in storage.items():
        hard[resources.quota_keys(resources.storage(c))[0]] = _format(value)
    if not served:
        hard["pods"] = "0"
    return hard


def limit_ranges(granted: Mapping[str, Decimal], *, policy: policies.Namespaces) -> list[dict[str, Any]]:
    """Container defaults, so pods without resources are admitted under the quota, and a per-pod maximum.

    The maximum is ``max_per_pod`` of the namespace's quota. A default larger than the maximum is
    lowered to it, as the API server rejects a LimitRange whose default exceeds its max (small or
    suspended namespaces).
    """
    maximum, default, request = {}, {}, {}
    for key in (resources.CPU, resources.MEMORY):
        top = _floor(key, granted.get(key, Decimal(0)) * policy.max_per_pod)
        limit = min(policy.default_limit.get(key, top), top)
        maximum[key] = _format(top)
        default[key] = _format(limit)
        request[key] = _format(min(policy.default_request.get(key, limit), limit))
    return [
        {"type": "Container", "default": default, "defaultRequest": request, "max": dict(maximum)},
        {"type": "Pod", "max": dict(maximum)},
    ]


def bandwidth_params(granted: Mapping[str, Decimal], *, policy: policies.Namespaces) -> dict[str, str]:
    """The admission policy's parameters: the most bandwidth one pod may declare, in bits per second."""
    def most(key: str) -> str:
        return _format(_floor(key, granted.get(key, Decimal(0)) * policy.max_per_pod))

    return {admission.MAX_EGRESS: most(resources.EGRESS), admission.MAX_INGRESS: most(resources.INGRESS)}


def isolation(tenant: str, *, policy: policies.Namespaces) -> dict[str, Any]:
    """Ingress only from the tenant's own namespaces and monitoring; egress to DNS, them, and anywhere.

    Isolation is between tenants, and it is enforced on ingress: every tenant namespace admits
    only its own tenant, so allowing all egress cannot reach another tenant's pods. Internet egress
    stays open because messengers must reach their users. DNS and the tenant's own namespaces are
    listed explicitly because some network plugins (Cilium among them) never match in-cluster pods
    with an ``ipBlock``.
    """
    def own() -> dict[str, Any]:
        return {"namespaceSelector": {"matchLabels": {TENANT_LABEL: tenant}}}

    monitoring = {"namespaceSelector": {"matchLabels": {NAME_LABEL: policy.monitoring_namespace}}}
    dns = {"namespaceSelector": {"matchLabels": {NAME_LABEL: "kube-system"}},
           "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}
    return {
        "podSelector": {},
        "policyTypes": ["Ingress", "Egress"],
        "ingress": [{"from": [own(), monitoring]}],
        "egress": [
            {"to": [dns], "ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]},
            {"to": [own()]},
            {"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}, {"ipBlock": {"cidr": "::/0"}}]},
        ],
    }


def subjects(owners: tenants.Owners) -> list[dict[str, str]]:
    """The tenant's owners as RBAC subjects: groups then users, each sorted, so reordering is no change."""
    return ([{"apiGroup": RBAC_GROUP, "kind": "Group", "name": g} for g in sorted(owners.groups)]
            + [{"apiGroup": RBAC_GROUP, "kind": "User", "name": u} for u in sorted(owners.users)])


def _floor(key: str, value: Decimal) -> Decimal:
    """Down to the finest amount Kubernetes can express for the resource (a millicore, a byte, a bit/s)."""
    step = resources.FINEST[resources.kind(key)]
    return (value / step).to_integral_value(ROUND_FLOOR) * step


@functools.lru_cache(maxsize=8192)
def _format(value: Decimal) -> str:
    """Canonical Kubernetes quantity; cached because tens of thousands of namespaces repeat values."""
    return quantities.Quantity.format(value)
