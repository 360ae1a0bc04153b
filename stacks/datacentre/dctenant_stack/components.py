"""Typed pulumi_kubernetes resources built from dctenant's rendered manifests, grouped in three components.

Every object comes from dctenant's renderers as a manifest dict; this module only maps its
``apiVersion``/``kind`` to the typed resource class (``CustomResource`` for a CRD's kind) and passes
``metadata``, ``spec``, ``data`` and the other top-level fields through unchanged. It never adds or
edits a field of an object, so the stack and ``dctenant render``/``apply`` cannot drift apart.

``TenantNamespaces`` holds one tenant's namespaces and their objects; ``Cluster`` the objects every
cluster holds once (the in-cluster enforcer among them); ``Monitoring`` what the pool's Prometheus
reads (its rules). Logical names are the Kubernetes identity (``<namespace>/<name>``, or ``<name>``
for cluster-scoped objects) so they stay stable as tenants come and go.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from dctenant.domain import changes

Manifest = changes.Manifest
Key = tuple[str, str, str]  # (kind, namespace, name); namespace "" for cluster-scoped objects

TENANT_TYPE = "dctenant:datacentre:TenantNamespaces"
CLUSTER_TYPE = "dctenant:datacentre:Cluster"
MONITORING_TYPE = "dctenant:datacentre:Monitoring"

# The kinds the renderer produces, by (apiVersion, kind). A kind missing here is an error, not a
# silent skip: a new object in the renderer must be given its typed resource class.
KINDS: dict[tuple[str, str], type[pulumi.CustomResource]] = {
    ("v1", "Namespace"): k8s.core.v1.Namespace,
    ("v1", "ResourceQuota"): k8s.core.v1.ResourceQuota,
    ("v1", "LimitRange"): k8s.core.v1.LimitRange,
    ("v1", "ConfigMap"): k8s.core.v1.ConfigMap,
    ("v1", "ServiceAccount"): k8s.core.v1.ServiceAccount,
    ("v1", "PersistentVolumeClaim"): k8s.core.v1.PersistentVolumeClaim,
    ("batch/v1", "CronJob"): k8s.batch.v1.CronJob,
    ("networking.k8s.io/v1", "NetworkPolicy"): k8s.networking.v1.NetworkPolicy,
    ("rbac.authorization.k8s.io/v1", "RoleBinding"): k8s.rbac.v1.RoleBinding,
    ("rbac.authorization.k8s.io/v1", "ClusterRole"): k8s.rbac.v1.ClusterRole,
    ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"): k8s.rbac.v1.ClusterRoleBinding,
    ("admissionregistration.k8s.io/v1", "ValidatingAdmissionPolicy"):
        k8s.admissionregistration.v1.ValidatingAdmissionPolicy,
    ("admissionregistration.k8s.io/v1", "ValidatingAdmissionPolicyBinding"):
        k8s.admissionregistration.v1.ValidatingAdmissionPolicyBinding,
}
# Kinds of CustomResourceDefinitions, declared through the generic CustomResource (their CRD must
# exist in the cluster: the stack settings say whether it does).
CUSTOM_KINDS = frozenset({("monitoring.coreos.com/v1", "PrometheusRule")})
# Kinds that grant access: declared after the other objects of their namespace, so that limits and
# isolation exist before the tenant's owners can act (the renderer's order, made explicit).
ACCESS_KINDS = frozenset({"RoleBinding"})
# Kinds that hold data: like namespaces, retained in the cluster when they leave the stack (the
# enforcer's state volume must not vanish with a configuration change).
RETAINED_KINDS = frozenset({"Namespace", "PersistentVolumeClaim"})
# The objects that limit and isolate a tenant namespace. A retained namespace keeps its pods
# running, so these are retained with it: dropping a namespace from the stack (or from quotas/)
# must never leave running pods without their quota, limits, isolation and admission parameters.
PROTECTIVE_KINDS = frozenset({"ResourceQuota", "LimitRange", "NetworkPolicy", "ConfigMap"})
ADMISSION_KINDS = frozenset({"ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"})
# Kinds that run something: declared after everything their namespace holds and after the
# cluster-wide RBAC, so the enforcer's first run finds its account, permissions, files and volume.
WORKLOAD_KINDS = frozenset({"CronJob"})


class UnknownKindError(ValueError):
    """The renderer produced a kind this module has no typed resource for."""


def logical_name(manifest: Manifest) -> str:
    """``<namespace>/<name>`` for namespaced objects, ``<name>`` for cluster-scoped ones."""
    meta = manifest["metadata"]
    return f"{meta['namespace']}/{meta['name']}" if meta.get("namespace") else str(meta["name"])


def resource_class(manifest: Manifest) -> type[pulumi.CustomResource]:
    key = (manifest["apiVersion"], manifest["kind"])
    if key in CUSTOM_KINDS:
        return k8s.apiextensions.CustomResource
    if key not in KINDS:
        raise UnknownKindError(f"no pulumi_kubernetes resource for {key[0]} {key[1]}; add it to KINDS")
    return KINDS[key]


def arguments(manifest: Manifest) -> dict[str, Any]:
    """The manifest's top-level fields as the typed class's keyword arguments (``roleRef`` → ``role_ref``).

    Values are deep copies passed through unchanged; ``apiVersion`` and ``kind`` are set by the class.
    """
    if not manifest.get("metadata", {}).get("name"):
        raise ValueError(f"{manifest.get('kind')} without metadata.name; every object is named explicitly")
    return {_snake(k): copy.deepcopy(v) for k, v in manifest.items() if k not in ("apiVersion", "kind")}


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def declare(
    manifests: Iterable[Manifest],
    *,
    parent: pulumi.Resource,
    provider: pulumi.ProviderResource,
    protect: bool,
    ignore: Mapping[Key, Sequence[str]] | None = None,
    retained: frozenset[str] = RETAINED_KINDS,
    access_after: Sequence[pulumi.Resource] = (),
) -> dict[tuple[str, str, str], pulumi.CustomResource]:
    """Declare each manifest as its typed resource, by (kind, namespace, name), in the given order.

    ``retained`` are the kinds kept in the cluster when they leave the stack; ``access_after`` are
    resources declared elsewhere (the admission policies and bindings) that every access-granting
    object waits for, so that on a first ``pulumi up`` no tenant holds a RoleBinding before the
    policies that limit it exist.

    ``ignore`` gives, by (kind, namespace, name), the property paths Pulumi must neither diff nor
    write (``ignore_changes``): the held map of an object the enforcer marked (``spec.hard``, ``data``).

    Namespaced objects depend on their Namespace when it is declared here, access-granting objects
    on the other objects of their namespace, an admission binding on its policy, a CronJob on its
    namespace's objects and the cluster's RBAC. Namespaces and claims are retained on delete:
    removing a namespace from quotas/ never deletes a tenant's workloads, and dropping the enforcer
    never deletes its state.
    """
    declared: dict[tuple[str, str, str], pulumi.CustomResource] = {}
    for manifest in manifests:
        kind, meta = manifest["kind"], manifest["metadata"]
        namespace = meta.get("namespace", "")
        ignored = list((ignore or {}).get((kind, namespace, meta["name"]), ()))
        options = pulumi.ResourceOptions(
            parent=parent,
            provider=provider,
            protect=protect,
            retain_on_delete=kind in retained,
            depends_on=[*_dependencies(manifest, declared), *(access_after if kind in ACCESS_KINDS else ())],
            ignore_changes=ignored or None,
        )
        cls = resource_class(manifest)
        if cls is k8s.apiextensions.CustomResource:
            resource = cls(logical_name(manifest), api_version=manifest["apiVersion"], kind=kind,
                           **arguments(manifest), opts=options)
        else:
            resource = cls(logical_name(manifest), **arguments(manifest), opts=options)
        declared[(kind, namespace, meta["name"])] = resource
    return declared


def _dependencies(
    manifest: Manifest, declared: Mapping[tuple[str, str, str], pulumi.CustomResource]
) -> Sequence[pulumi.Resource]:
    kind, namespace = manifest["kind"], manifest["metadata"].get("namespace", "")
    out: list[pulumi.Resource] = []
    if namespace and ("Namespace", "", namespace) in declared:
        out.append(declared[("Namespace", "", namespace)])
    if kind in ACCESS_KINDS and namespace:
        out.extend(r for (k, ns, _), r in declared.items() if ns == namespace and k not in ACCESS_KINDS)
    if kind in WORKLOAD_KINDS:
        out.extend(r for (k, ns, _), r in declared.items()
                   if (ns == namespace and k != "Namespace") or k in ("ClusterRole", "ClusterRoleBinding"))
    if kind == "ValidatingAdmissionPolicyBinding":
        policy = ("ValidatingAdmissionPolicy", "", manifest.get("spec", {}).get("policyName", ""))
        if policy in declared:
            out.append(declared[policy])
    return out


class TenantNamespaces(pulumi.ComponentResource):
    """One tenant's namespaces in one pool, each with its quota, limits, bandwidth, isolation and owners.

    The protective objects are retained with their namespace; the owners' RoleBindings wait for
    ``admission`` (the cluster's admission policies and bindings).
    """

    resources: dict[tuple[str, str, str], pulumi.CustomResource]

    def __init__(
        self,
        tenant: str,
        manifests: Sequence[Manifest],
        *,
        provider: pulumi.ProviderResource,
        protect: bool,
        outputs: Mapping[str, Any],
        ignore: Mapping[Key, Sequence[str]] | None = None,
        admission: Sequence[pulumi.Resource] = (),
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(TENANT_TYPE, tenant, None, opts)
        self.resources = declare(manifests, parent=self, provider=provider, protect=protect, ignore=ignore,
                                 retained=RETAINED_KINDS | PROTECTIVE_KINDS, access_after=admission)
        self.register_outputs(dict(outputs))


class _Objects(pulumi.ComponentResource):
    """A component that declares a list of rendered objects; subclasses only name their type."""

    TYPE = ""
    resources: dict[tuple[str, str, str], pulumi.CustomResource]

    def __init__(
        self,
        name: str,
        manifests: Sequence[Manifest],
        *,
        provider: pulumi.ProviderResource,
        protect: bool,
        ignore: Mapping[Key, Sequence[str]] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(self.TYPE, name, None, opts)
        self.resources = declare(manifests, parent=self, provider=provider, protect=protect, ignore=ignore)
        self.register_outputs({"objects": [logical_name(m) for m in manifests]})


class Cluster(_Objects):
    """What each cluster holds once: dctenant's system namespace, the tenant-admin role, the admission policies
    and, when configured, the in-cluster enforcer (its account, role, quotas ConfigMap, state claim, CronJob)."""

    TYPE = CLUSTER_TYPE

    @property
    def admission(self) -> list[pulumi.CustomResource]:
        """The admission policies and their bindings: what tenant access must wait for."""
        return [r for (kind, _, _), r in self.resources.items() if kind in ADMISSION_KINDS]


class Monitoring(_Objects):
    """What the pool's monitoring reads: the Prometheus rules (a PrometheusRule, or a ConfigMap of the rules
    file) and the Grafana dashboards (ConfigMaps for the sidecar)."""

    TYPE = MONITORING_TYPE
