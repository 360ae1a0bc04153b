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
from decimal import Decimal
from typing import Any

import yaml

from dctenant.domain import allocations, changes, policies, quantities, quotas, resources, tenants
from dctenant.render import admission, enforcer, guards

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
ISOLATION_PARAMS = guards.PARAMS
ENFORCER_BINDING = "dctenant-enforcer"
RBAC_GROUP = "rbac.authorization.k8s.io"
POD_SECURITY = "pod-security.kubernetes.io"
POD_SECURITY_MODES = ("enforce", "audit", "warn")
EPHEMERAL = "ephemeral-storage"

# Order of the objects of one namespace: limits exist before the owners are given access.
KIND_ORDER = ("Namespace", "ResourceQuota", "LimitRange", "ConfigMap", "NetworkPolicy", "RoleBinding")
_KIND_RANK = {kind: rank for rank, kind in enumerate(KIND_ORDER)}

_ALL_VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]
_READ_VERBS = ["get", "list", "watch"]
# What a tenant's owners may do in their namespaces: run and expose workloads, but only read the
# objects that carry their limits and isolation. Namespaces themselves are read-only (labels, Pod
# Security level included, are dctenant's), and there is no RBAC management, so owners cannot grant
# themselves more. Endpoints and EndpointSlices are read-only: written by hand they point a Service
# at any address (CVE-2021-25740). DaemonSets are read-only: a pod on every node is not a tenant's
# to place. Gateway API objects are writable; the ingress admission policy checks their class and
# hostnames.
_ADMIN_RULES = (
    ("", ("configmaps", "persistentvolumeclaims", "pods", "pods/attach", "pods/exec", "pods/log",
          "pods/portforward", "secrets", "serviceaccounts", "services"), _ALL_VERBS),
    ("apps", ("deployments", "deployments/scale", "replicasets", "replicasets/scale", "statefulsets",
              "statefulsets/scale"), _ALL_VERBS),
    ("autoscaling", ("horizontalpodautoscalers",), _ALL_VERBS),
    ("batch", ("cronjobs", "jobs"), _ALL_VERBS),
    ("networking.k8s.io", ("ingresses",), _ALL_VERBS),
    (guards.GATEWAY_GROUP, ("gateways", *guards.ROUTES), _ALL_VERBS),
    ("policy", ("poddisruptionbudgets",), _ALL_VERBS),
    ("", ("endpoints", "events", "limitranges", "namespaces", "pods/status", "resourcequotas",
          "resourcequotas/status"), _READ_VERBS),
    ("apps", ("daemonsets",), _READ_VERBS),
    ("discovery.k8s.io", ("endpointslices",), _READ_VERBS),
    ("events.k8s.io", ("events",), _READ_VERBS),
    ("metrics.k8s.io", ("pods",), _READ_VERBS),
    ("networking.k8s.io", ("networkpolicies",), _READ_VERBS),
)


def admin_rules() -> list[dict[str, Any]]:
    """The tenant-admin ClusterRole's rules (also what the CrossGuard pack compares a deployed role with)."""
    return [{"apiGroups": [group], "resources": list(names), "verbs": list(verbs)}
            for group, names, verbs in _ADMIN_RULES]


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
        share = allocation.tenants[grant.tenant].shares.get(pool)
        gpu = served and share is not None and share.envelope.get(resources.GPU, Decimal(0)) > 0
        tenant = by_id[grant.tenant]
        out.extend(namespace_objects(tenant, grant, policy=policy, classes=classes, served=served,
                                     allowed=tenant.isolation_under(model.policy), gpu=gpu))
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
        "rules": admin_rules(),
    }
    # dctenant's own namespace runs only the hardened enforcer: the restricted level fits it.
    system = {"apiVersion": "v1", "kind": "Namespace", "metadata": {
        "name": policy.system_namespace,
        "labels": {**labels, **pod_security_labels("restricted", version=policy.pod_security_version)}}}
    return (
        system,
        role,
        admission.bandwidth_policy(labels=labels),
        admission.protect_policy(labels=labels, managed_by=MANAGED_BY, system_namespace=policy.system_namespace),
        admission.bandwidth_binding(labels=labels, tenant_label=TENANT_LABEL, managed_by=MANAGED_BY),
        admission.protect_binding(labels=labels),
        *guards.policies(labels=labels, tenant_label=TENANT_LABEL, managed_by=MANAGED_BY,
                         system_namespace=policy.system_namespace),
    )


def pod_security_labels(level: str, *, version: str) -> dict[str, str]:
    """Pod Security Admission's labels: the level enforced, audited and warned about, each pinned to ``version``.

    Pinning keeps a cluster upgrade from changing what a namespace admits; all three modes at
    the same level so that a denied pod is also logged and a Deployment's author is warned.
    """
    out = {}
    for mode in POD_SECURITY_MODES:
        out[f"{POD_SECURITY}/{mode}"] = level
        out[f"{POD_SECURITY}/{mode}-version"] = version
    return out


def namespace_objects(
    tenant: tenants.Tenant,
    grant: allocations.NamespaceQuota,
    *,
    policy: policies.Namespaces,
    classes: tuple[str, ...],
    served: bool,
    allowed: policies.Isolation | None = None,
    gpu: bool = False,
) -> tuple[Manifest, ...]:
    """One tenant namespace: the Namespace first, then its objects by (kind order, name).

    ``allowed`` is the tenant's isolation (its tier's with its overrides; the defaults when None) and
    ``gpu`` whether the tenant has a GPU envelope in this pool (then the GPU taint may be tolerated).
    """
    allowed = allowed if allowed is not None else policies.Isolation()
    granted = grant.granted if served else {}
    labels = {**MANAGED_BY, TENANT_LABEL: tenant.id, POOL_LABEL: grant.pool}
    name = grant.namespace
    namespace = {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {
            "name": name,
            "labels": {**labels, TIER_LABEL: tenant.tier,
                       **pod_security_labels(allowed.pod_security, version=policy.pod_security_version)},
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
                spec={"hard": quota_hard(granted, policy=policy, classes=classes, served=served,
                                         isolation=allowed)}),
        _object("v1", "LimitRange", LIMITS, name, labels,
                spec={"limits": limit_ranges(granted, policy=policy,
                                            ephemeral=allowed.ephemeral_storage if served else Decimal(0))}),
        _object("v1", "ConfigMap", BANDWIDTH, name, labels, data=bandwidth_params(granted, policy=policy)),
        _object("v1", "ConfigMap", ISOLATION_PARAMS, name, labels,
                data=isolation_params(tenant, granted, isolation=allowed, gpu=gpu)),
        _object("networking.k8s.io/v1", "NetworkPolicy", ISOLATION, name, labels,
                spec=isolation(tenant.id, policy=policy)),
        _object(f"{RBAC_GROUP}/v1", "RoleBinding", ROLE_BINDING, name, labels,
                roleRef={"apiGroup": RBAC_GROUP, "kind": "ClusterRole", "name": CLUSTER_ROLE},
                subjects=subjects(tenant.owners)),
    ]
    if policy.enforcer.enabled:
        # The enforcer may act only where dctenant binds it: in tenant namespaces, never kube-system.
        objects.append(_object(f"{RBAC_GROUP}/v1", "RoleBinding", ENFORCER_BINDING, name, labels,
                               roleRef={"apiGroup": RBAC_GROUP, "kind": "ClusterRole", "name": enforcer.ROLE},
                               subjects=[{"kind": "ServiceAccount", "name": enforcer.SERVICE_ACCOUNT,
                                          "namespace": policy.system_namespace}]))
    objects.sort(key=lambda o: (_KIND_RANK[o["kind"]], o["metadata"]["name"]))
    return (namespace, *objects)


def _object(api_version: str, kind: str, name: str, namespace: str, labels: Mapping[str, str],
            **body: Any) -> Manifest:
    return {"apiVersion": api_version, "kind": kind,
            "metadata": {"name": name, "namespace": namespace, "labels": dict(labels)}, **body}


def quota_key(key: str) -> str:
    """The ResourceQuota ``hard`` key that holds a resource key's requests (the one source:
    ``domain.resources.quota_keys``, which the enforcer's actions use too)."""
    return resources.quota_keys(key)[0]


def quota_hard(
    granted: Mapping[str, Decimal], *, policy: policies.Namespaces, classes: tuple[str, ...], served: bool,
    isolation: policies.Isolation | None = None,
) -> dict[str, str]:
    """The ResourceQuota's ``hard`` map: compute, storage per class (0 where none), ephemeral storage, counts.

    A tenant that is not served gets zero of everything, including ``pods``: with a zero CPU quota
    a pod that requests zero CPU would otherwise still be admitted. Load balancers and node ports
    are 0 where the tier does not allow the Service type.
    """
    isolation = isolation if isolation is not None else policies.Isolation()

    def amount(key: str) -> Decimal:
        return granted.get(key, Decimal(0))

    cpu, memory = amount(resources.CPU), amount(resources.MEMORY)
    storage = {c: amount(resources.storage(c)) for c in classes}
    ephemeral = isolation.ephemeral_storage if served else Decimal(0)
    counts = isolation.objects

    def count(n: int, *, service_type: str = "") -> str:
        allowed = not service_type or service_type in isolation.service_types
        return str(n) if served and allowed else "0"

    (requests_cpu, limits_cpu), (requests_memory, limits_memory) = map(resources.quota_keys, ("cpu", "memory"))
    hard = {
        requests_cpu: _format(cpu),
        limits_cpu: _format(_floor(resources.CPU, cpu * policy.limits_ratio.get("cpu", Decimal(1)))),
        requests_memory: _format(memory),
        limits_memory: _format(_floor(resources.MEMORY, memory * policy.limits_ratio.get("memory", Decimal(1)))),
        quota_key(resources.GPU): _format(amount(resources.GPU)),
        "requests.storage": _format(sum(storage.values(), Decimal(0))),
        f"requests.{EPHEMERAL}": _format(ephemeral),
        f"limits.{EPHEMERAL}": _format(ephemeral),
        "pods": count(counts.pods),
        "services": count(counts.services),
        # services.loadbalancers is the quota's name for Services of type LoadBalancer; the object
        # count syntax (count/services.loadbalancers) would count a resource that does not exist.
        "services.loadbalancers": count(counts.load_balancers, service_type="LoadBalancer"),
        "services.nodeports": count(counts.node_ports, service_type="NodePort"),
        "secrets": count(counts.secrets),
        "configmaps": count(counts.config_maps),
        "persistentvolumeclaims": count(counts.persistent_volume_claims),
    }
    for c, value in storage.items():
        hard[quota_key(resources.storage(c))] = _format(value)
    return hard


def limit_ranges(granted: Mapping[str, Decimal], *, policy: policies.Namespaces,
                 ephemeral: Decimal = Decimal(0)) -> list[dict[str, Any]]:
    """Container defaults, so pods without resources are admitted under the quota; a minimum and a per-pod maximum.

    The maximum is ``max_per_pod`` of the namespace's quota (``ephemeral`` is its ephemeral storage).
    The API server rejects a LimitRange whose minimum exceeds a default or whose default exceeds
    its max, so in small or suspended namespaces defaults are lowered to the maximum and the
    minimum to the default request.
    """
    maximum, default, request, minimum = {}, {}, {}, {}
    sizes = {resources.CPU: granted.get(resources.CPU, Decimal(0)),
             resources.MEMORY: granted.get(resources.MEMORY, Decimal(0)), EPHEMERAL: ephemeral}
    limits = {**policy.default_limit, EPHEMERAL: policy.default_ephemeral}
    requests = {**policy.default_request, EPHEMERAL: policy.default_ephemeral_request}
    for key, size in sizes.items():
        top = _floor(resources.MEMORY if key == EPHEMERAL else key, size * policy.max_per_pod)
        limit = min(limits.get(key, top), top)
        maximum[key] = _format(top)
        default[key] = _format(limit)
        asked = min(requests.get(key, limit), limit)
        request[key] = _format(asked)
        if key in policy.min_per_container:
            minimum[key] = _format(min(policy.min_per_container[key], asked))
    return [
        {"type": "Container", "default": default, "defaultRequest": request, "max": dict(maximum), "min": minimum},
        {"type": "Pod", "max": dict(maximum)},
    ]


def isolation_params(tenant: tenants.Tenant, granted: Mapping[str, Decimal], *, isolation: policies.Isolation,
                     gpu: bool) -> dict[str, str]:
    """The ``dctenant-admission`` ConfigMap read by the tenant admission policies (``guards``): comma lists.

    Storage classes are those the namespace has a quota above zero for; tolerations are the
    default ones, the tier's, and the GPU taint when the tenant has a GPU envelope in the pool.
    """
    classes = sorted(k.removeprefix(resources.STORAGE_PREFIX) for k, v in granted.items()
                     if k.startswith(resources.STORAGE_PREFIX) and v > 0)
    tolerations = [*policies.DEFAULT_TOLERATIONS, *isolation.tolerations, *([policies.GPU_TAINT] if gpu else [])]

    def join(items: Iterable[str]) -> str:
        return ",".join(items)

    data = {
        "domains": join(tenant.domains),
        "gatewayClasses": join(isolation.gateway_classes),
        "ingressClasses": join(isolation.ingress_classes),
        "nodeSelector": join(f"{k}={v}" for k, v in sorted(isolation.node_selector.items())),
        "priorityClasses": join(isolation.priority_classes),
        "registries": join(isolation.registries),
        "runtimeClasses": join(isolation.runtime_classes),
        "serviceTypes": join(isolation.service_types),
        "storageClasses": join(classes),
        "tolerations": join(dict.fromkeys(tolerations)),
    }
    return {key: data[key] for key in guards.LIST_KEYS}


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
    return quantities.floor_to_step(value, step)


@functools.lru_cache(maxsize=8192)
def _format(value: Decimal) -> str:
    """Canonical Kubernetes quantity; cached because tens of thousands of namespaces repeat values."""
    return quantities.Quantity.format(value)
