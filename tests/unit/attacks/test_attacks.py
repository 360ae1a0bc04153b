"""Attacks by a tenant-admin against the rendered example, each played through the admission chain.

Every attack is an API request a tenant's owner could send with its own credentials (``ops@bale.ir``,
in group ``bale-platform-admins``, unless the attack needs another tier), evaluated by ``apiserver``
against exactly what ``dctenant render`` produces for the pool: RBAC over the rendered roles, Pod
Security Admission with the standard's own table at the namespace's pinned level, LimitRanger and
ResourceQuota over the rendered limits, and every ValidatingAdmissionPolicy's CEL (cel-python).

Each attack names the stage expected to stop it; the test fails if the attack gets through or is
stopped by a different stage (which would mean the documented guard is not the one working). The
legitimate workloads at the end go through the same chain and must be admitted, so no guard is
simply refusing everything. docs/kubernetes.md lists the same attacks with what stops each.
"""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest

from dctenant.loaders import loading
from dctenant.ops import planning
from dctenant.render import kubernetes
from tests.conftest import EXAMPLE
from tests.unit.attacks import apiserver

AT = dt.date(2026, 11, 27)
BALE = ("ops@bale.ir", ("bale-platform-admins", "system:authenticated"))
IGAP = ("platform@igap.net", ("igap-platform", "system:authenticated"))  # standard tier, baseline override
NAVAK = ("navak-dev@navak.ir", ("navak-team", "system:authenticated"))  # startup tier: registry allow-list
MANAGER = "system:serviceaccount:dctenant-system:dctenant"
BANDWIDTH = {"kubernetes.io/egress-bandwidth": "100M", "kubernetes.io/ingress-bandwidth": "100M"}
NODE_SELECTOR = {"node.ndc.ir/role": "tenant"}


@pytest.fixture(scope="module")
def clusters() -> dict[str, apiserver.Cluster]:
    model = loading.load(EXAMPLE)
    rendered = kubernetes.render(model, planning.allocate(model, at=AT))
    return {pool: apiserver.Cluster(objs) for pool, objs in rendered.items()}


# Legitimate objects; each attack changes one thing in one of them. --------------------------------------
def pod_spec(image: str = "registry.ndc.ir/bale/chat:1.4") -> dict[str, Any]:
    """A pod spec that meets the restricted level, the tier's node selector and every allow-list."""
    return {
        "nodeSelector": dict(NODE_SELECTOR),
        "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [{"name": "app", "image": image, "ports": [{"containerPort": 8080}],
                        "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}}],
    }


def pod(namespace: str = "bale-messaging", image: str = "registry.ndc.ir/bale/chat:1.4") -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "chat-0", "namespace": namespace, "annotations": dict(BANDWIDTH)},
            "spec": pod_spec(image)}


def template() -> dict[str, Any]:
    return {"metadata": {"labels": {"app": "chat"}, "annotations": dict(BANDWIDTH)}, "spec": pod_spec()}


def deployment() -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "chat", "namespace": "bale-messaging"},
            "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "chat"}}, "template": template()}}


def service(kind: str = "ClusterIP", namespace: str = "bale-messaging") -> dict[str, Any]:
    spec: dict[str, Any] = {"selector": {"app": "chat"}, "ports": [{"port": 443, "targetPort": 8080}]}
    if kind != "ClusterIP":
        spec["type"] = kind
    if kind == "LoadBalancer":
        spec["allocateLoadBalancerNodePorts"] = False  # node ports are not allowed to the tier
    if kind == "ExternalName":
        spec = {"type": kind, "externalName": "db.eitaa.ir"}
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "chat", "namespace": namespace}, "spec": spec}


def ingress(host: str = "chat.bale.ir", cls: str | None = "nginx-public") -> dict[str, Any]:
    spec: dict[str, Any] = {
        "rules": [{"host": host, "http": {"paths": [{"path": "/", "pathType": "Prefix", "backend": {
            "service": {"name": "chat", "port": {"number": 443}}}}]}}],
        "tls": [{"hosts": [host], "secretName": "chat-tls"}],
    }
    if cls is not None:
        spec["ingressClassName"] = cls
    return {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
            "metadata": {"name": "chat", "namespace": "bale-messaging"}, "spec": spec}


def claim(cls: str | None = "nvme-replicated", namespace: str = "bale-messaging") -> dict[str, Any]:
    spec: dict[str, Any] = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "100Gi"}}}
    if cls is not None:
        spec["storageClassName"] = cls
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
            "metadata": {"name": "data-chat-0", "namespace": namespace}, "spec": spec}


def http_route(hostnames: list[str]) -> dict[str, Any]:
    return {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
            "metadata": {"name": "chat", "namespace": "bale-messaging"},
            "spec": {"parentRefs": [{"name": "public", "namespace": "ndc-gateways"}], "hostnames": hostnames,
                     "rules": [{"backendRefs": [{"name": "chat", "port": 443}]}]}}


def gateway(cls: str, hostname: str = "chat.bale.ir") -> dict[str, Any]:
    return {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
            "metadata": {"name": "chat", "namespace": "bale-messaging"},
            "spec": {"gatewayClassName": cls, "listeners": [
                {"name": "https", "hostname": hostname, "port": 443, "protocol": "HTTPS"}]}}


def create(resource: str, obj: dict[str, Any], *, group: str = "", who: tuple[str, tuple[str, ...]] = BALE,
           namespace: str | None = None, subresource: str = "") -> apiserver.Request:
    return apiserver.Request(user=who[0], groups=who[1], operation="CREATE", group=group, resource=resource,
                             namespace=namespace or obj["metadata"].get("namespace", ""), obj=obj,
                             subresource=subresource)


def update(resource: str, old: dict[str, Any], new: dict[str, Any], *, group: str = "",
           who: tuple[str, tuple[str, ...]] = BALE) -> apiserver.Request:
    return apiserver.Request(user=who[0], groups=who[1], operation="UPDATE", group=group, resource=resource,
                             namespace=new["metadata"].get("namespace", ""), obj=new, old=old)


def with_pod(change: Callable[[dict[str, Any]], None], namespace: str = "bale-messaging",
             image: str = "registry.ndc.ir/bale/chat:1.4") -> dict[str, Any]:
    out = pod(namespace, image)
    change(out)
    return out


def container_sc(**fields: Any) -> Callable[[dict[str, Any]], None]:
    def change(p: dict[str, Any]) -> None:
        p["spec"]["containers"][0]["securityContext"].update(fields)
    return change


def spec_set(**fields: Any) -> Callable[[dict[str, Any]], None]:
    def change(p: dict[str, Any]) -> None:
        p["spec"].update(fields)
    return change


def changed(obj: dict[str, Any], change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    out = copy.deepcopy(obj)
    change(out)
    return out


def rendered_object(clusters: dict[str, apiserver.Cluster], pool: str, kind: str, name: str,
                    namespace: str | None = None) -> dict[str, Any]:
    found = clusters[pool].find(kind, name, namespace)
    assert found is not None, (kind, name, namespace)
    return copy.deepcopy(dict(found))


@dataclass(frozen=True)
class Attack:
    name: str
    pool: str
    stage: str  # what must stop it
    request: Callable[[dict[str, apiserver.Cluster]], apiserver.Request]
    usage: dict[str, Decimal] | None = None  # the namespace's quota usage before the request


def _ns_label(key: str, value: str | None) -> Callable[[dict[str, apiserver.Cluster]], apiserver.Request]:
    def build(c: dict[str, apiserver.Cluster]) -> apiserver.Request:
        old = rendered_object(c, "thr-ab", "Namespace", "bale-messaging")
        new = copy.deepcopy(old)
        if value is None:
            new["metadata"]["labels"].pop(key, None)
        else:
            new["metadata"]["labels"][key] = value
        return update("namespaces", old, new)
    return build


def _widen_params(c: dict[str, apiserver.Cluster]) -> apiserver.Request:
    old = rendered_object(c, "thr-ab", "ConfigMap", "dctenant-admission", "bale-messaging")
    new = changed(old, lambda m: m["data"].update(domains="bale.ir,eitaa.ir", tolerations="", registries=""))
    return update("configmaps", old, new)


def _delete(resource: str, kind: str, name: str, group: str = "") -> Callable[..., apiserver.Request]:
    def build(c: dict[str, apiserver.Cluster]) -> apiserver.Request:
        old = rendered_object(c, "thr-ab", kind, name, "bale-messaging")
        return apiserver.Request(user=BALE[0], groups=BALE[1], operation="DELETE", group=group, resource=resource,
                                 namespace="bale-messaging", old=old)
    return build


def _quota_edit(c: dict[str, apiserver.Cluster]) -> apiserver.Request:
    old = rendered_object(c, "thr-ab", "ResourceQuota", "dctenant-quota", "bale-messaging")
    return update("resourcequotas", old, changed(old, lambda q: q["spec"]["hard"].update({"limits.cpu": "100000"})))


def _escalate(c: dict[str, apiserver.Cluster]) -> apiserver.Request:
    binding = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
               "metadata": {"name": "me-admin", "namespace": "bale-messaging"},
               "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
               "subjects": [{"kind": "User", "name": BALE[0]}]}
    return create("rolebindings", binding, group="rbac.authorization.k8s.io")


def _template_node_name(c: dict[str, apiserver.Cluster]) -> apiserver.Request:
    dep = deployment()
    dep["spec"]["template"]["spec"]["nodeName"] = "thr-ab-cp-1"
    return create("deployments", dep, group="apps")


def _cronjob_registry(c: dict[str, apiserver.Cluster]) -> apiserver.Request:
    job = cron_job(image="docker.io/library/busybox:latest", namespace="navak-messaging")
    return create("cronjobs", job, group="batch", who=NAVAK)


def cron_job(image: str = "registry.ndc.ir/bale/cleanup:2", namespace: str = "bale-messaging") -> dict[str, Any]:
    tpl = template()
    tpl["spec"]["containers"][0]["image"] = image
    tpl["spec"]["restartPolicy"] = "OnFailure"
    return {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "cleanup", "namespace": namespace},
            "spec": {"schedule": "0 3 * * *", "jobTemplate": {"spec": {"template": tpl}}}}


def _add_toleration(c: dict[str, apiserver.Cluster]) -> apiserver.Request:
    old = apiserver.Cluster([]).mutate_pod(pod(), "bale-messaging")
    old["spec"]["nodeName"] = "thr-ab-w-17"  # bound by the scheduler
    new = copy.deepcopy(old)
    new["spec"]["tolerations"].append({"key": "node-role.kubernetes.io/control-plane", "operator": "Exists"})
    return update("pods", old, new)


def _ephemeral(c: dict[str, apiserver.Cluster]) -> apiserver.Request:
    debug = pod()
    debug["spec"]["ephemeralContainers"] = [{"name": "debug", "image": "busybox", "securityContext": {
        "privileged": True}}]
    return apiserver.Request(user=BALE[0], groups=BALE[1], operation="UPDATE", group="", resource="pods",
                             subresource="ephemeralcontainers", namespace="bale-messaging", obj=debug, old=pod())


PRIVILEGED_HOST_PATH = spec_set(volumes=[{"name": "root", "hostPath": {"path": "/"}}])

ATTACKS = [
    # Pod Security (node takeover, and host-network traffic that escapes bandwidth shaping and metering).
    Attack("privileged container", "thr-ab", "pod-security",
           lambda c: create("pods", with_pod(container_sc(privileged=True)))),
    Attack("hostPID: see and signal every process on the node", "thr-ab", "pod-security",
           lambda c: create("pods", with_pod(spec_set(hostPID=True)))),
    Attack("hostNetwork: unshaped, unmetered traffic", "thr-ab", "pod-security",
           lambda c: create("pods", with_pod(spec_set(hostNetwork=True)))),
    Attack("hostIPC", "thr-ab", "pod-security", lambda c: create("pods", with_pod(spec_set(hostIPC=True)))),
    Attack("hostPath / mounted: read other tenants' secrets from the node", "thr-ab", "pod-security",
           lambda c: create("pods", with_pod(PRIVILEGED_HOST_PATH))),
    Attack("CAP_SYS_ADMIN added", "thr-ab", "pod-security",
           lambda c: create("pods", with_pod(container_sc(capabilities={"drop": ["ALL"], "add": ["SYS_ADMIN"]})))),
    Attack("run as root (runAsUser 0)", "thr-ab", "pod-security",
           lambda c: create("pods", with_pod(container_sc(runAsUser=0)))),
    Attack("privilege escalation (setuid binaries)", "thr-ab", "pod-security",
           lambda c: create("pods", with_pod(container_sc(allowPrivilegeEscalation=True)))),
    Attack("seccomp Unconfined", "thr-ab", "pod-security",
           lambda c: create("pods", with_pod(container_sc(seccompProfile={"type": "Unconfined"})))),
    Attack("hostPort: take a port on the node's address", "thr-ab", "pod-security",
           lambda c: create("pods", with_pod(lambda p: p["spec"]["containers"][0]["ports"][0].update(
               hostPort=443)))),
    Attack("unmasked /proc", "thr-ab", "pod-security",
           lambda c: create("pods", with_pod(container_sc(procMount="Unmasked")))),
    Attack("unsafe sysctl", "thr-ab", "pod-security",
           lambda c: create("pods", with_pod(lambda p: p["spec"]["securityContext"].update(
               sysctls=[{"name": "kernel.msgmax", "value": "65536"}])))),
    Attack("privileged pod in a baseline-level namespace", "thr-ab", "pod-security",
           lambda c: create("pods", with_pod(container_sc(privileged=True), namespace="igap-messaging"), who=IGAP)),
    Attack("hostPath in a baseline-level namespace", "thr-ab", "pod-security",
           lambda c: create("pods", with_pod(PRIVILEGED_HOST_PATH, namespace="igap-messaging"), who=IGAP)),
    Attack("debug container added to a running pod", "thr-ab", "rbac", _ephemeral),
    # Nodes.
    Attack("nodeName onto a control-plane node", "thr-ab", "dctenant-pod-placement",
           lambda c: create("pods", with_pod(spec_set(nodeName="thr-ab-cp-1")))),
    Attack("nodeName in a Deployment's template", "thr-ab", "dctenant-pod-placement", _template_node_name),
    Attack("toleration of the control-plane taint", "thr-ab", "dctenant-pod-placement",
           lambda c: create("pods", with_pod(spec_set(tolerations=[
               {"key": "node-role.kubernetes.io/control-plane", "operator": "Exists", "effect": "NoSchedule"}])))),
    Attack("toleration of every taint (no key, Exists)", "thr-ab", "dctenant-pod-placement",
           lambda c: create("pods", with_pod(spec_set(tolerations=[{"operator": "Exists"}])))),
    Attack("toleration added to a running pod", "thr-ab", "dctenant-pod-placement", _add_toleration),
    Attack("GPU taint tolerated without a GPU envelope in the pool", "mhd-1", "dctenant-pod-placement",
           lambda c: create("pods", with_pod(spec_set(tolerations=[
               {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]), namespace="bale-push"))),
    Attack("no node selector: scheduled anywhere", "thr-ab", "dctenant-pod-placement",
           lambda c: create("pods", with_pod(lambda p: p["spec"].pop("nodeSelector")))),
    Attack("another node pool selected", "thr-ab", "dctenant-pod-placement",
           lambda c: create("pods", with_pod(spec_set(nodeSelector={"node.ndc.ir/role": "platform"})))),
    Attack("PriorityClass system-cluster-critical: preempt other tenants", "thr-ab", "dctenant-pod-placement",
           lambda c: create("pods", with_pod(spec_set(priorityClassName="system-cluster-critical")))),
    Attack("a RuntimeClass not allowed", "thr-ab", "dctenant-pod-placement",
           lambda c: create("pods", with_pod(spec_set(runtimeClassName="runc-unconfined")))),
    Attack("image from an unscanned registry (startup tier)", "isf-1", "dctenant-pod-placement",
           lambda c: create("pods", pod("navak-messaging", image="docker.io/attacker/miner:1"), who=NAVAK)),
    Attack("image from an unscanned registry in a CronJob", "isf-1", "dctenant-pod-placement", _cronjob_registry),
    Attack("a registry whose name only starts like the allowed one", "isf-1", "dctenant-pod-placement",
           lambda c: create("pods", pod("navak-messaging", image="registry.ndc.ir.evil.com/x:1"), who=NAVAK)),
    Attack("DaemonSet: a pod on every node", "thr-ab", "rbac",
           lambda c: create("daemonsets", dict(deployment(), kind="DaemonSet"), group="apps")),
    # Services.
    Attack("externalIPs (CVE-2020-8554)", "thr-ab", "dctenant-services",
           lambda c: create("services", changed(service(), lambda s: s["spec"].update(externalIPs=["10.0.0.10"])))),
    Attack("loadBalancerIP chosen", "thr-ab", "dctenant-services",
           lambda c: create("services", changed(service("LoadBalancer"), lambda s: s["spec"].update(
               loadBalancerIP="203.0.113.7")))),
    Attack("LoadBalancer in a tier without it", "isf-1", "dctenant-services",
           lambda c: create("services", service("LoadBalancer", "navak-messaging"), who=NAVAK)),
    Attack("node ports opened through a LoadBalancer", "thr-ab", "dctenant-services",
           lambda c: create("services", changed(service("LoadBalancer"), lambda s: s["spec"].pop(
               "allocateLoadBalancerNodePorts")))),
    Attack("NodePort where the tier does not allow it", "thr-ab", "dctenant-services",
           lambda c: create("services", service("NodePort"))),
    Attack("ExternalName pointing at another tenant", "thr-ab", "dctenant-services",
           lambda c: create("services", service("ExternalName"))),
    Attack("a fifth LoadBalancer (the national tier allows four)", "thr-ab", "quota",
           lambda c: create("services", service("LoadBalancer")),
           usage={"services": Decimal(10), "services.loadbalancers": Decimal(4)}),
    Attack("Endpoints written by hand (CVE-2021-25740)", "thr-ab", "rbac",
           lambda c: create("endpoints", {"apiVersion": "v1", "kind": "Endpoints", "metadata": {
               "name": "chat", "namespace": "bale-messaging"}, "subsets": [{"addresses": [{"ip": "10.96.0.1"}]}]})),
    Attack("EndpointSlice written by hand", "thr-ab", "rbac",
           lambda c: create("endpointslices", {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
                                               "metadata": {"name": "chat-x", "namespace": "bale-messaging"},
                                               "addressType": "IPv4", "endpoints": []}, group="discovery.k8s.io")),
    # Ingress and Gateway.
    Attack("Ingress for another tenant's domain", "thr-ab", "dctenant-ingress",
           lambda c: create("ingresses", ingress("web.eitaa.ir"), group="networking.k8s.io")),
    Attack("Ingress for a look-alike domain (evilbale.ir)", "thr-ab", "dctenant-ingress",
           lambda c: create("ingresses", ingress("evilbale.ir"), group="networking.k8s.io")),
    Attack("Ingress rule without a host (catch-all)", "thr-ab", "dctenant-ingress",
           lambda c: create("ingresses", changed(ingress(), lambda i: (i["spec"]["rules"][0].pop("host"),
                                                                      i["spec"].pop("tls"))),
                            group="networking.k8s.io")),
    Attack("Ingress with a default backend", "thr-ab", "dctenant-ingress",
           lambda c: create("ingresses", changed(ingress(), lambda i: i["spec"].update(defaultBackend={
               "service": {"name": "chat", "port": {"number": 443}}})), group="networking.k8s.io")),
    Attack("Ingress TLS for another tenant's host", "thr-ab", "dctenant-ingress",
           lambda c: create("ingresses", changed(ingress(), lambda i: i["spec"]["tls"][0].update(hosts=[
               "chat.bale.ir", "rubika.ir"])), group="networking.k8s.io")),
    Attack("Ingress class not allowed", "thr-ab", "dctenant-ingress",
           lambda c: create("ingresses", ingress(cls="nginx-staff"), group="networking.k8s.io")),
    Attack("Ingress class by the legacy annotation", "thr-ab", "dctenant-ingress",
           lambda c: create("ingresses", changed(ingress(), lambda i: i["metadata"].update(annotations={
               "kubernetes.io/ingress.class": "nginx-staff"})), group="networking.k8s.io")),
    Attack("Gateway of a class not allowed", "thr-ab", "dctenant-ingress",
           lambda c: create("gateways", gateway("staff-internal"), group="gateway.networking.k8s.io")),
    Attack("HTTPRoute for another tenant's hostname", "thr-ab", "dctenant-ingress",
           lambda c: create("httproutes", http_route(["chat.bale.ir", "eitaa.com"]),
                            group="gateway.networking.k8s.io")),
    Attack("HTTPRoute without hostnames (every name on the gateway)", "thr-ab", "dctenant-ingress",
           lambda c: create("httproutes", http_route([]), group="gateway.networking.k8s.io")),
    # Storage.
    Attack("PVC with storageClassName \"\" (a pre-provisioned volume)", "thr-ab", "dctenant-storage",
           lambda c: create("persistentvolumeclaims", claim(""))),
    Attack("PVC without a storage class (no default class)", "thr-ab", "dctenant-storage",
           lambda c: create("persistentvolumeclaims", claim(None))),
    Attack("PVC of a class the data centre does not declare", "thr-ab", "dctenant-storage",
           lambda c: create("persistentvolumeclaims", claim("local-path"))),
    Attack("PVC of a class the namespace has no quota for", "mhd-1", "dctenant-storage",
           lambda c: create("persistentvolumeclaims", claim("hdd-archive", "bale-push"))),
    Attack("PVC bound by name to another tenant's released volume", "thr-ab", "dctenant-storage",
           lambda c: create("persistentvolumeclaims", changed(claim(), lambda p: p["spec"].update(
               volumeName="pvc-eitaa-db-0")))),
    # Quotas.
    Attack("pod asking for (almost) no CPU, to flood a node", "thr-ab", "limitrange",
           lambda c: create("pods", with_pod(lambda p: p["spec"]["containers"][0].update(resources={
               "requests": {"cpu": "1m", "memory": "1Mi"}, "limits": {"cpu": "1m", "memory": "1Mi"}})))),
    Attack("pod filling the node's disk (ephemeral storage)", "thr-ab", "limitrange",
           lambda c: create("pods", with_pod(lambda p: p["spec"]["containers"][0].update(resources={
               "limits": {"ephemeral-storage": "2Ti"}})))),
    Attack("the 5001st pod (object count)", "thr-ab", "quota", lambda c: create("pods", pod()),
           usage={"pods": Decimal(5000)}),
    Attack("Secrets flood (object count)", "thr-ab", "quota",
           lambda c: create("secrets", {"apiVersion": "v1", "kind": "Secret",
                                        "metadata": {"name": "s-1001", "namespace": "bale-messaging"}}),
           usage={"secrets": Decimal(1000)}),
    # dctenant's own objects and labels.
    Attack("namespace relabelled to Pod Security privileged", "thr-ab", "rbac",
           _ns_label("pod-security.kubernetes.io/enforce", "privileged")),
    Attack("Pod Security version unpinned (latest)", "thr-ab", "rbac",
           _ns_label("pod-security.kubernetes.io/enforce-version", "latest")),
    Attack("namespace labelled as pruned (dctenant.io/pruning)", "thr-ab", "rbac",
           _ns_label("dctenant.io/pruning", "true")),
    Attack("tenant label switched to another tenant", "thr-ab", "rbac", _ns_label("dctenant.io/tenant", "eitaa")),
    Attack("admission parameters widened (domains, tolerations, registries)", "thr-ab", "dctenant-protect-quotas",
           _widen_params),
    Attack("admission parameters deleted", "thr-ab", "dctenant-protect-quotas",
           _delete("configmaps", "ConfigMap", "dctenant-admission")),
    Attack("quota raised", "thr-ab", "rbac", _quota_edit),
    Attack("NetworkPolicy deleted", "thr-ab", "rbac",
           _delete("networkpolicies", "NetworkPolicy", "dctenant-isolation", group="networking.k8s.io")),
    Attack("RoleBinding to cluster-admin", "thr-ab", "rbac", _escalate),
    Attack("a namespace created for itself (bale-x-web)", "thr-ab", "rbac",
           lambda c: create("namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {
               "name": "bale-x-web"}}, namespace="")),
    Attack("a pod in kube-system", "thr-ab", "rbac",
           lambda c: create("pods", changed(pod(), lambda p: p["metadata"].update(namespace="kube-system")))),
    Attack("a pod in another tenant's namespace", "thr-ab", "rbac",
           lambda c: create("pods", changed(pod(), lambda p: p["metadata"].update(namespace="eitaa-messaging")))),
    Attack("pod without bandwidth annotations (unshaped traffic)", "thr-ab", "dctenant-pod-bandwidth",
           lambda c: create("pods", with_pod(lambda p: p["metadata"].pop("annotations")))),
]


def test_at_least_thirty_attacks_with_distinct_names() -> None:
    assert len(ATTACKS) >= 30 and len({a.name for a in ATTACKS}) == len(ATTACKS)


@pytest.mark.parametrize("attack", ATTACKS, ids=[a.name for a in ATTACKS])
def test_attack_is_denied_by_its_guard(clusters: dict[str, apiserver.Cluster], attack: Attack) -> None:
    cluster = clusters[attack.pool]
    request = attack.request(clusters)
    cluster.usage = {request.namespace: dict(attack.usage)} if attack.usage else {}
    try:
        verdict = cluster.submit(request)
    finally:
        cluster.usage = {}
    assert not verdict.allowed, f"{attack.name}: admitted"
    assert verdict.stage == attack.stage, (attack.name, verdict)
    assert verdict.reasons and all(verdict.reasons)


# Legitimate workloads: the same chain admits them. -------------------------------------------------
def _gpu_job() -> dict[str, Any]:
    tpl = template()
    tpl["spec"]["restartPolicy"] = "Never"
    tpl["spec"]["tolerations"] = [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]
    tpl["spec"]["priorityClassName"] = "tenant-normal"
    tpl["spec"]["runtimeClassName"] = "gvisor"
    tpl["spec"]["containers"][0]["resources"] = {"limits": {"nvidia.com/gpu": "1", "cpu": "4", "memory": "16Gi"}}
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "train", "namespace": "bale-ml"},
            "spec": {"template": tpl}}


def _stateful_set() -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "db", "namespace": "bale-messaging"},
            "spec": {"serviceName": "db", "selector": {"matchLabels": {"app": "chat"}}, "template": template(),
                     "volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": claim()["spec"]}]}}


def _pod_from(workload: dict[str, Any]) -> dict[str, Any]:
    """The pod a controller creates from a workload's template (as the controller's service account)."""
    tpl = workload["spec"]["jobTemplate"]["spec"]["template"] if workload["kind"] == "CronJob" \
        else workload["spec"]["template"]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {
        "name": f"{workload['metadata']['name']}-x1", "namespace": workload["metadata"]["namespace"],
        **copy.deepcopy(tpl["metadata"])}, "spec": copy.deepcopy(tpl["spec"])}


CONTROLLER = ("system:serviceaccount:kube-system:replicaset-controller", ("system:serviceaccounts",))
LEGITIMATE = [
    ("Deployment", "thr-ab", lambda: [create("deployments", deployment(), group="apps")], deployment),
    ("StatefulSet with a PVC of an allowed class", "thr-ab", lambda: [
        create("statefulsets", _stateful_set(), group="apps"),
        # The StatefulSet controller creates the claim from the template, in the same namespace.
        create("persistentvolumeclaims", claim(), who=CONTROLLER)], _stateful_set),
    ("CronJob", "thr-ab", lambda: [create("cronjobs", cron_job(), group="batch")], cron_job),
    ("GPU Job in a GPU pool", "thr-pd", lambda: [create("jobs", _gpu_job(), group="batch")], _gpu_job),
    ("Ingress on the tenant's own domain", "thr-ab", lambda: [
        create("ingresses", ingress("chat.bale.ir"), group="networking.k8s.io"),
        create("ingresses", changed(ingress("*.ble.ir", "nginx-internal"), lambda i: i["metadata"].update(
            name="wild")), group="networking.k8s.io")], None),
    ("Services and a LoadBalancer within the tier", "thr-ab", lambda: [
        create("services", service()), create("services", service("LoadBalancer"))], None),
    ("Gateway and HTTPRoute on the tenant's own domain", "thr-ab", lambda: [
        create("gateways", gateway("ndc-public", "*.bale.ir"), group="gateway.networking.k8s.io"),
        create("httproutes", http_route(["api.bale.ir", "ble.ir"]), group="gateway.networking.k8s.io")], None),
    ("a pod from an allowed registry (startup tier)", "isf-1",
     lambda: [create("pods", pod("navak-messaging"), who=NAVAK)], None),
    ("a root-running pod where the tenant's tier is overridden to baseline", "thr-ab", lambda: [
        create("pods", with_pod(container_sc(runAsUser=0, allowPrivilegeEscalation=True),
                                namespace="igap-messaging"), who=IGAP)], None),
]


# The controllers' own permission to create pods and claims (kube-controller-manager's bootstrap RBAC, abridged).
CONTROLLER_RBAC = (
    {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
     "metadata": {"name": "system:controller:replicaset-controller"},
     "roleRef": {"kind": "ClusterRole", "name": "system:controller:replicaset-controller"},
     "subjects": [{"kind": "User", "name": CONTROLLER[0]}]},
    {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
     "metadata": {"name": "system:controller:replicaset-controller"},
     "rules": [{"apiGroups": [""], "resources": ["pods", "persistentvolumeclaims"], "verbs": ["create"]}]},
)


@pytest.mark.parametrize(("name", "pool", "requests", "workload"), LEGITIMATE, ids=[x[0] for x in LEGITIMATE])
def test_legitimate_workload_is_admitted(clusters: dict[str, apiserver.Cluster], name: str, pool: str,
                                         requests: Callable[[], list[apiserver.Request]],
                                         workload: Callable[[], dict[str, Any]] | None) -> None:
    cluster = apiserver.Cluster([*clusters[pool].manifests, *CONTROLLER_RBAC])
    for request in requests():
        verdict = cluster.submit(request)
        assert verdict.allowed, (name, request.resource, verdict)
    if workload is not None:
        # The pod the controller creates from the template passes Pod Security and every policy too.
        verdict = cluster.submit(create("pods", _pod_from(workload()), who=CONTROLLER))
        assert verdict.allowed, (name, verdict)


# The pruning guard (coordinated with `dctenant apply`, which sets the label while it empties a namespace).
def _pruning(clusters: dict[str, apiserver.Cluster]) -> apiserver.Cluster:
    manifests = [copy.deepcopy(dict(m)) for m in clusters["thr-ab"].manifests]
    for m in manifests:
        if m["kind"] == "Namespace" and m["metadata"]["name"] == "bale-media":
            m["metadata"]["labels"]["dctenant.io/pruning"] = "true"
    return apiserver.Cluster([*manifests, *CONTROLLER_RBAC, MANAGER_BINDING])


MANAGER_BINDING = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
                   "metadata": {"name": "dctenant-apply"}, "roleRef": {"kind": "ClusterRole", "name": "cluster-admin"},
                   "subjects": [{"kind": "User", "name": MANAGER}]}
PRUNED_CREATES = [
    ("pods", "", lambda: changed(pod("bale-media"), lambda p: p["metadata"].update(name="late-0"))),
    ("persistentvolumeclaims", "", lambda: claim("ssd-standard", "bale-media")),
    ("deployments", "apps", lambda: changed(deployment(), lambda d: d["metadata"].update(namespace="bale-media"))),
    ("statefulsets", "apps",
     lambda: changed(_stateful_set(), lambda d: d["metadata"].update(namespace="bale-media"))),
    ("replicasets", "apps", lambda: changed(deployment(), lambda d: d.update(kind="ReplicaSet") or d[
        "metadata"].update(namespace="bale-media"))),
    ("jobs", "batch", lambda: changed(_gpu_job(), lambda d: (d["metadata"].update(namespace="bale-media"), d[
        "spec"]["template"]["spec"].pop("tolerations")))),
    ("cronjobs", "batch", lambda: cron_job(namespace="bale-media")),
]


@pytest.mark.parametrize(("resource", "group", "build"), PRUNED_CREATES, ids=[x[0] for x in PRUNED_CREATES])
def test_nothing_new_in_a_namespace_being_pruned(clusters: dict[str, apiserver.Cluster], resource: str, group: str,
                                                 build: Callable[[], dict[str, Any]]) -> None:
    pruned = _pruning(clusters)
    who = CONTROLLER if resource in ("pods", "persistentvolumeclaims") else BALE
    verdict = pruned.submit(create(resource, build(), group=group, who=who))
    assert not verdict.allowed and verdict.stage == "dctenant-pruning", verdict
    assert "is being pruned by dctenant" in verdict.reasons[0]
    # The same request before the label was set is admitted: the guard, not something else, stopped it.
    normal = apiserver.Cluster([*clusters["thr-ab"].manifests, *CONTROLLER_RBAC])
    assert normal.submit(create(resource, build(), group=group, who=who)).allowed
    # dctenant itself may still create (it finishes what it started, e.g. restores an object).
    verdict = pruned.submit(create(resource, build(), group=group, who=(MANAGER, ("system:serviceaccounts",))))
    assert verdict.stage != "dctenant-pruning", verdict


def test_pruning_leaves_updates_deletes_and_other_kinds_alone(clusters: dict[str, apiserver.Cluster]) -> None:
    pruned = _pruning(clusters)
    # A Service (not a workload) may still be created; a Deployment may still be scaled down or deleted.
    assert pruned.submit(create("services", service(namespace="bale-media"))).allowed
    dep = changed(deployment(), lambda d: d["metadata"].update(namespace="bale-media"))
    assert pruned.submit(update("deployments", dep, changed(dep, lambda d: d["spec"].update(replicas=0)),
                                group="apps")).allowed
    assert pruned.submit(apiserver.Request(user=BALE[0], groups=BALE[1], operation="DELETE", group="apps",
                                           resource="deployments", namespace="bale-media", old=dep)).allowed


def test_metadata_updates_of_running_pods_are_left_alone(clusters: dict[str, apiserver.Cluster]) -> None:
    """A pod admitted before its tier gained a node selector can still be relabelled (or garbage-collected);
    the same pod with a toleration added is checked (the control that the policy does apply to pod updates)."""
    old = apiserver.Cluster([]).mutate_pod(pod(), "bale-messaging")
    old["spec"].pop("nodeSelector")
    old["spec"]["nodeName"] = "thr-ab-w-3"
    relabelled = changed(old, lambda p: p["metadata"].setdefault("labels", {}).update(release="canary"))
    assert clusters["thr-ab"].submit(update("pods", old, relabelled)).allowed
    tolerating = changed(old, lambda p: p["spec"]["tolerations"].append({"key": "x", "operator": "Exists"}))
    verdict = clusters["thr-ab"].submit(update("pods", old, tolerating))
    assert verdict.stage == "dctenant-pod-placement"
