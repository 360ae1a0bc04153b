"""An API server's admission chain, over the objects dctenant renders for one pool, for the attack suite.

There is no control plane on this machine (tests/TESTING-NOTES), so each stage a request passes on a
real API server is played here from the rendered objects, in the API server's order:

1. **RBAC** (authorization): the RoleBindings of the request's namespace (and ClusterRoleBindings,
   of which dctenant renders none) that name the user or one of its groups, and the rules of the
   ClusterRoles they reference: apiGroup, resource (with subresource), verb and resourceNames.
2. **Mutating built-ins** that every cluster runs before validation and that the policies rely on:
   DefaultTolerationSeconds (two NoExecute tolerations on every pod) and LimitRanger's defaults.
3. **LimitRanger**'s validation (min/max per container and per pod).
4. **Pod Security Admission** at the namespace's ``pod-security.kubernetes.io/enforce`` level, with
   the standard's own table (``pod_security``), for pods.
5. **ValidatingAdmissionPolicies**: every rendered binding whose namespace selector matches the
   namespace's labels, whose policy's rules match the request and object selector the object,
   with its ``paramRef`` ConfigMap from the same namespace (missing: denied), evaluated with
   cel-python (``celharness``).
6. **ResourceQuota**, the last plugin of the API server's recommended order.

A ``Verdict`` says which stage stopped the request and why. The order matters only for the
message: a request is allowed only when every stage allows it.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from dctenant.domain.quantities import Quantity
from tests.unit.attacks import pod_security
from tests.unit.render import celharness

WORKLOAD_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob"}
VERB = {"CREATE": "create", "UPDATE": "update", "DELETE": "delete"}
DEFAULT_TOLERATIONS = [
    {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
    {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
]


@dataclass(frozen=True)
class Request:
    """One API request: who, what (group/resource[/subresource]), where, and the object(s)."""

    user: str
    groups: tuple[str, ...]
    operation: str  # CREATE, UPDATE, DELETE
    group: str
    resource: str
    namespace: str
    obj: dict[str, Any] | None = None
    old: dict[str, Any] | None = None
    subresource: str = ""
    name: str = ""


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    stage: str = ""  # rbac, limitrange, quota, pod-security, or the ValidatingAdmissionPolicy's name
    reasons: tuple[str, ...] = ()


@dataclass
class Cluster:
    """The rendered objects of one pool, plus namespaces created outside dctenant (kube-system)."""

    manifests: Sequence[Mapping[str, Any]]
    usage: dict[str, dict[str, Decimal]] = field(default_factory=dict)  # namespace -> quota key -> used
    extra_namespaces: dict[str, dict[str, str]] = field(default_factory=lambda: {
        "kube-system": {"kubernetes.io/metadata.name": "kube-system"}})

    def __post_init__(self) -> None:
        self.policies = {m["metadata"]["name"]: celharness.Policy(dict(m)) for m in self.manifests
                         if m["kind"] == "ValidatingAdmissionPolicy"}
        self.raw_policies = {m["metadata"]["name"]: m for m in self.manifests
                             if m["kind"] == "ValidatingAdmissionPolicy"}

    # Lookups --------------------------------------------------------------------------------------
    def find(self, kind: str, name: str, namespace: str | None = None) -> Mapping[str, Any] | None:
        for m in self.manifests:
            if m["kind"] == kind and m["metadata"]["name"] == name and m["metadata"].get("namespace") == namespace:
                return m
        return None

    def namespace_labels(self, name: str) -> dict[str, str]:
        found = self.find("Namespace", name)
        labels = dict(found["metadata"].get("labels") or {}) if found else dict(self.extra_namespaces.get(name, {}))
        labels["kubernetes.io/metadata.name"] = name  # set by the API server on every namespace
        return labels

    # Stage 1: RBAC ----------------------------------------------------------------------------------
    def authorized(self, request: Request) -> bool:
        resource = request.resource + (f"/{request.subresource}" if request.subresource else "")
        verb = VERB[request.operation]
        name = request.name or ((request.obj or request.old or {}).get("metadata") or {}).get("name", "")
        for binding in self.manifests:
            if binding["kind"] == "ClusterRoleBinding" or (
                    binding["kind"] == "RoleBinding" and binding["metadata"]["namespace"] == request.namespace
                    and request.namespace):
                if not any((s["kind"] == "User" and s["name"] == request.user)
                           or (s["kind"] == "Group" and s["name"] in request.groups) for s in binding["subjects"]):
                    continue
                role = self.find(binding["roleRef"]["kind"], binding["roleRef"]["name"],
                                 None if binding["roleRef"]["kind"] == "ClusterRole" else request.namespace)
                for rule in (role or {}).get("rules", []):
                    if (request.group in rule["apiGroups"] or "*" in rule["apiGroups"]) and (
                            resource in rule["resources"] or "*" in rule["resources"]) and (
                            verb in rule["verbs"] or "*" in rule["verbs"]) and (
                            "resourceNames" not in rule or name in rule["resourceNames"]):
                        return True
        return False

    # Stage 2 and 3: built-in mutation, LimitRanger, ResourceQuota --------------------------------------
    def _limit_range(self, namespace: str) -> list[dict[str, Any]]:
        found = self.find("LimitRange", "dctenant-limits", namespace)
        return list(found["spec"]["limits"]) if found else []

    def mutate_pod(self, pod: dict[str, Any], namespace: str) -> dict[str, Any]:
        pod = copy.deepcopy(pod)
        spec = pod["spec"]
        tolerations = spec.setdefault("tolerations", [])
        for t in DEFAULT_TOLERATIONS:
            if not any(x.get("key") == t["key"] for x in tolerations):
                tolerations.append(dict(t))
        containers = [*spec.get("containers", []), *spec.get("initContainers", [])]
        for c in containers:
            # API defaulting, before admission: a resource with a limit and no request requests the limit.
            res = c.setdefault("resources", {})
            for key, value in (res.get("limits") or {}).items():
                res.setdefault("requests", {}).setdefault(key, value)
        for limit in self._limit_range(namespace):
            if limit["type"] != "Container":
                continue
            for c in containers:
                res = c["resources"]
                for key, value in limit.get("default", {}).items():
                    res.setdefault("limits", {}).setdefault(key, value)
                for key, value in limit.get("defaultRequest", {}).items():
                    res.setdefault("requests", {}).setdefault(key, value)
        return pod

    def limit_violations(self, pod: dict[str, Any], namespace: str) -> list[str]:
        out = []
        containers = [*pod["spec"].get("containers", []), *pod["spec"].get("initContainers", [])]
        for limit in self._limit_range(namespace):
            for key, top in limit.get("max", {}).items():
                if limit["type"] == "Container":
                    for c in containers:
                        value = (c.get("resources", {}).get("limits") or {}).get(key)
                        if value is not None and Quantity.parse(value) > Quantity.parse(top):
                            out.append(f"maximum {key} usage per Container is {top}, but limit is {value}")
                else:
                    total = sum((Quantity.parse((c.get("resources", {}).get("limits") or {}).get(key, "0"))
                                 for c in pod["spec"].get("containers", [])), Decimal(0))
                    if total > Quantity.parse(top):
                        out.append(f"maximum {key} usage per Pod is {top}")
            for key, bottom in limit.get("min", {}).items():
                for c in containers:
                    value = (c.get("resources", {}).get("requests") or {}).get(key, "0")
                    if Quantity.parse(value) < Quantity.parse(bottom):
                        out.append(f"minimum {key} usage per Container is {bottom}, but request is {value}")
        return out

    def quota_violations(self, request: Request, obj: dict[str, Any]) -> list[str]:
        quota = self.find("ResourceQuota", "dctenant-quota", request.namespace)
        if quota is None or request.operation != "CREATE":
            return []
        hard = {k: Quantity.parse(v) for k, v in quota["spec"]["hard"].items()}
        used = self.usage.get(request.namespace, {})
        delta: dict[str, Decimal] = {}
        kind = obj["kind"]
        if kind == "Pod":
            delta["pods"] = Decimal(1)
            for c in obj["spec"].get("containers", []):
                for part in ("requests", "limits"):
                    for key, value in (c.get("resources", {}).get(part) or {}).items():
                        name = f"{part}.{key}"
                        delta[name] = delta.get(name, Decimal(0)) + Quantity.parse(value)
        elif kind == "Service":
            delta["services"] = Decimal(1)
            service_type = obj["spec"].get("type", "ClusterIP")
            if service_type == "LoadBalancer":
                delta["services.loadbalancers"] = Decimal(1)
            allocates = obj["spec"].get("allocateLoadBalancerNodePorts", True)
            if service_type == "NodePort" or (service_type == "LoadBalancer" and allocates):
                delta["services.nodeports"] = Decimal(len(obj["spec"].get("ports", [])))
        elif kind == "PersistentVolumeClaim":
            size = Quantity.parse(obj["spec"]["resources"]["requests"]["storage"])
            delta["persistentvolumeclaims"] = Decimal(1)
            delta["requests.storage"] = size
            cls = obj["spec"].get("storageClassName")
            if cls:
                delta[f"{cls}.storageclass.storage.k8s.io/requests.storage"] = size
        elif kind in ("Secret", "ConfigMap"):
            delta[kind.lower() + "s"] = Decimal(1)
        out = []
        for key, amount in delta.items():
            if key in hard and used.get(key, Decimal(0)) + amount > hard[key]:
                out.append(f"exceeded quota: dctenant-quota, requested: {key}={amount}, "
                           f"used: {key}={used.get(key, 0)}, limited: {key}={hard[key]}")
        # A quota on a compute resource requires every container to declare it (LimitRanger fills it in).
        if kind == "Pod":
            for key in ("requests.cpu", "limits.cpu", "requests.memory", "limits.memory",
                        "requests.ephemeral-storage", "limits.ephemeral-storage"):
                part, resource = key.split(".", 1)
                if key in hard and any(resource not in (c.get("resources", {}).get(part) or {})
                                       for c in obj["spec"].get("containers", [])):
                    out.append(f"must specify {key}")
        return out

    # Stage 5: ValidatingAdmissionPolicies -------------------------------------------------------------
    @staticmethod
    def _selected(selector: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
        if any(labels.get(k) != v for k, v in (selector.get("matchLabels") or {}).items()):
            return False
        for expression in selector.get("matchExpressions") or []:
            present = expression["key"] in labels
            if expression["operator"] == "Exists" and not present:
                return False
            if expression["operator"] == "DoesNotExist" and present:
                return False
        return True

    def policy_denials(self, request: Request, obj: dict[str, Any] | None) -> tuple[str, tuple[str, ...]] | None:
        labels = self.namespace_labels(request.namespace) if request.namespace else {}
        subject = obj if obj is not None else request.old
        for binding in self.manifests:
            if binding["kind"] != "ValidatingAdmissionPolicyBinding":
                continue
            spec = binding["spec"]
            policy = self.raw_policies[spec["policyName"]]
            match = spec.get("matchResources") or {}
            if request.namespace and not self._selected(match.get("namespaceSelector") or {}, labels):
                continue
            constraints = policy["spec"]["matchConstraints"]
            object_labels = ((subject or {}).get("metadata") or {}).get("labels") or {}
            old_labels = ((request.old or {}).get("metadata") or {}).get("labels") or {}
            selector = constraints.get("objectSelector") or {}
            if selector and not (self._selected(selector, object_labels) or self._selected(selector, old_labels)):
                continue
            if not any(request.group in r["apiGroups"] and request.resource in r["resources"]
                       and request.operation in r["operations"] and not request.subresource
                       for r in constraints["resourceRules"]):
                continue
            params = None
            if "paramRef" in spec:
                params = self.find("ConfigMap", spec["paramRef"]["name"], request.namespace)
                if params is None:
                    return spec["policyName"], (f"no params found for policy binding {spec['policyName']}",)
            namespace_object = {"apiVersion": "v1", "kind": "Namespace",
                                "metadata": {"name": request.namespace, "labels": labels}}
            outcome = self.policies[spec["policyName"]].admit(
                operation=request.operation, obj=obj, old=request.old, params=dict(params) if params else None,
                namespace=request.namespace, username=request.user,
                namespace_object=namespace_object if request.namespace else None)
            if outcome.denials:
                return spec["policyName"], outcome.denials
        return None

    # The chain --------------------------------------------------------------------------------------
    def submit(self, request: Request) -> Verdict:
        if not self.authorized(request):
            return Verdict(False, "rbac", (f"{request.user} cannot {VERB[request.operation]} {request.resource}",))
        obj = request.obj
        if obj is not None and obj["kind"] == "Pod" and request.operation == "CREATE":
            obj = self.mutate_pod(obj, request.namespace)
            if found := self.limit_violations(obj, request.namespace):
                return Verdict(False, "limitrange", tuple(found))
        if obj is not None and obj["kind"] == "Pod":
            level = self.namespace_labels(request.namespace).get("pod-security.kubernetes.io/enforce", "privileged")
            if found := pod_security.violations(level, obj):
                return Verdict(False, "pod-security", found)
        denied = self.policy_denials(request, obj)
        if denied is not None:
            return Verdict(False, denied[0], denied[1])
        # ResourceQuota is the last admission plugin of the API server's default order.
        if obj is not None and (found := self.quota_violations(request, obj)):
            return Verdict(False, "quota", tuple(found))
        return Verdict(True)
