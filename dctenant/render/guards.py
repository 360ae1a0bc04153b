"""The ValidatingAdmissionPolicies that keep a tenant inside what its tier allows, and the pruning guard.

Pod Security Admission (namespace labels, rendered in ``kubernetes``) decides what a pod may do on
its node; these policies decide everything Pod Security does not cover and a ResourceQuota cannot
express, per tenant namespace, from the namespace's ``dctenant-admission`` ConfigMap (its
parameters, written by dctenant from quotas/ and protected like the quota):

* ``dctenant-pod-placement`` — pods and the pod templates of workloads: no ``nodeName`` (which
  bypasses the scheduler, taints and all), the tier's node selector present, only allowed taints
  tolerated (the GPU taint only with a GPU envelope in the pool), PriorityClass and RuntimeClass
  from allow-lists, images from the allowed registries when the tier lists any;
* ``dctenant-services`` — no ``externalIPs`` (CVE-2020-8554) or ``loadBalancerIP``, only the
  Service types the tier allows (ClusterIP always), and no node ports opened through a
  LoadBalancer where NodePort is not allowed (``allocateLoadBalancerNodePorts: false``);
* ``dctenant-ingress`` — Ingresses, Gateways and routes: allowed classes only, and every hostname
  inside the tenant's declared domains (a rule without a host, a default backend or the legacy
  class annotation would serve any name);
* ``dctenant-storage`` — a PersistentVolumeClaim must name a storage class the namespace has a
  quota for (an empty or absent class, or a pre-bound ``volumeName``, would get around it; a data
  source in another namespace needs an alpha feature gate and the other namespace's ReferenceGrant);
* ``dctenant-pruning`` — in a namespace labelled ``dctenant.io/pruning: "true"`` (being emptied by
  ``dctenant apply``), nothing new that runs or holds data may be created except by dctenant.

Lists in the ConfigMap are comma-separated strings (ConfigMap values are strings); ``split`` is
Kubernetes' CEL string library. Each list is read through a variable that maps "" to [] so that
an empty list never contains the empty string.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dctenant.render import admission

PARAMS = "dctenant-admission"  # the per-namespace ConfigMap of allowed classes, domains, registries …
PLACEMENT_POLICY = "dctenant-pod-placement"
SERVICES_POLICY = "dctenant-services"
INGRESS_POLICY = "dctenant-ingress"
STORAGE_POLICY = "dctenant-storage"
PRUNING_POLICY = "dctenant-pruning"
PRUNING_LABEL = "dctenant.io/pruning"
# Keys of the parameters ConfigMap; each holds a comma-separated list ("" for none).
LIST_KEYS = ("domains", "gatewayClasses", "ingressClasses", "nodeSelector", "priorityClasses", "registries",
             "runtimeClasses", "serviceTypes", "storageClasses", "tolerations")
GATEWAY_GROUP = "gateway.networking.k8s.io"
ROUTES = ("httproutes", "grpcroutes", "tlsroutes")
WORKLOADS = {"apps": ("daemonsets", "deployments", "replicasets", "statefulsets"), "batch": ("cronjobs", "jobs")}
_WRITE = ["CREATE", "UPDATE"]

# The pod spec, wherever the kind keeps it (see admission._ANNOTATIONS for dyn()).
_SPEC = ("object.kind == 'Pod' ? object.spec"
         " : object.kind == 'CronJob' ? dyn(object).spec.jobTemplate.spec.template.spec"
         " : dyn(object).spec.template.spec")
_SUBJECT = ("object.kind + ' ' + (has(object.metadata.name) ? object.metadata.name"
            " : (has(object.metadata.generateName) ? object.metadata.generateName : ''))")
# A hostname is the tenant's when it is one of its domains or inside one ("*.bale.ir" is inside bale.ir).
_OWN_HOST = "variables.domains.exists(d, h == d || h.endsWith('.' + d))"


def _list(key: str) -> dict[str, str]:
    return {"name": key, "expression": f"params.data.{key} == '' ? [] : params.data.{key}.split(',')"}


def _check(expression: str, message: str, message_expression: str, reason: str = "Forbidden") -> dict[str, str]:
    return {"expression": expression, "message": message, "messageExpression": message_expression,
            "reason": reason}


def _policy(name: str, *, labels: Mapping[str, str], rules: list[dict[str, Any]], variables: list[dict[str, str]],
            validations: list[dict[str, str]], conditions: list[dict[str, str]] | None = None,
            params: bool = True) -> dict[str, Any]:
    spec: dict[str, Any] = {"failurePolicy": "Fail", "matchConstraints": {"resourceRules": rules},
                            "variables": variables, "validations": validations}
    if params:
        spec["paramKind"] = {"apiVersion": "v1", "kind": "ConfigMap"}
    if conditions:
        spec["matchConditions"] = conditions
    return {"apiVersion": admission.API_VERSION, "kind": "ValidatingAdmissionPolicy",
            "metadata": {"name": name, "labels": dict(labels)}, "spec": spec}


def _rule(group: str, resources: tuple[str, ...] | list[str], operations: list[str],
          version: str = "v1") -> dict[str, Any]:
    return {"apiGroups": [group], "apiVersions": [version], "operations": list(operations),
            "resources": list(resources)}


def _workload_rules(operations: list[str]) -> list[dict[str, Any]]:
    return [_rule("", ["pods"], operations),
            *(_rule(group, names, operations) for group, names in WORKLOADS.items())]


def placement_policy(*, labels: Mapping[str, str]) -> dict[str, Any]:
    """Where and how a tenant's pods may run: node, tolerations, priority, runtime, images."""
    spec = "variables.spec"
    # A Pod's nodeName is set on UPDATE by nothing a tenant can send (binding is a subresource), and a
    # bound pod keeps it: only a new pod, or any template, is checked.
    node_name = (f"(object.kind == 'Pod' && request.operation != 'CREATE')"
                 f" || !has({spec}.nodeName) || {spec}.nodeName == ''")
    selector = (f"variables.nodeSelector.all(kv, has({spec}.nodeSelector)"
                f" && {spec}.nodeSelector.exists(k, k + '=' + {spec}.nodeSelector[k] == kv))")
    tolerations = (f"!has({spec}.tolerations)"
                   f" || {spec}.tolerations.all(t, has(t.key) && t.key in variables.tolerations)")
    priority = (f"!has({spec}.priorityClassName) || {spec}.priorityClassName == ''"
                f" || {spec}.priorityClassName in variables.priorityClasses")
    runtime = (f"!has({spec}.runtimeClassName) || {spec}.runtimeClassName == ''"
               f" || {spec}.runtimeClassName in variables.runtimeClasses")
    images = ("size(variables.registries) == 0"
              " || variables.images.all(i, variables.registries.exists(r, i.startsWith(r)))")
    return _policy(PLACEMENT_POLICY, labels=labels, rules=_workload_rules(_WRITE), variables=[
        {"name": "spec", "expression": _SPEC},
        {"name": "subject", "expression": _SUBJECT},
        _list("nodeSelector"), _list("tolerations"), _list("priorityClasses"), _list("runtimeClasses"),
        _list("registries"),
        {"name": "images", "expression": (f"{spec}.containers.map(c, c.image)"
                                          f" + (has({spec}.initContainers) ? {spec}.initContainers.map(c, c.image)"
                                          " : [])")},
    ], validations=[
        _check(node_name, "spec.nodeName is not allowed: pods are placed by the scheduler",
               "variables.subject + ' sets spec.nodeName, which bypasses the scheduler and the node taints; "
               "remove it (use the node selector your tier allows)'"),
        _check(selector, "pods must carry their tier's node selector",
               "variables.subject + ' must select the nodes of its tier: spec.nodeSelector must include '"
               " + params.data.nodeSelector"),
        _check(tolerations, "a toleration of a taint the tier does not allow",
               "variables.subject + ' tolerates a taint it may not (a toleration needs a key, one of: '"
               " + params.data.tolerations + ')'"),
        _check(priority, "a PriorityClass the tier does not allow",
               "variables.subject + ' asks for PriorityClass ' + variables.spec.priorityClassName"
               " + '; allowed: ' + (params.data.priorityClasses == '' ? 'none' : params.data.priorityClasses)"),
        _check(runtime, "a RuntimeClass the tier does not allow",
               "variables.subject + ' asks for RuntimeClass ' + variables.spec.runtimeClassName"
               " + '; allowed: ' + (params.data.runtimeClasses == '' ? 'none' : params.data.runtimeClasses)"),
        _check(images, "an image from a registry the tier does not allow",
               "variables.subject + ' uses an image outside the allowed registries: ' + params.data.registries"),
    ], conditions=[{"name": "creates-or-changes-a-pod", "expression": (
        # A pod's spec changes only where Kubernetes allows it (tolerations added, images); updates of
        # its metadata alone (a controller adopting it, a finalizer) are left alone, so a pod admitted
        # under older parameters can still be garbage-collected and relabelled.
        "request.operation == 'CREATE' || (object.kind == 'Pod' ? object.spec != oldObject.spec"
        " : object.kind == 'CronJob' ? dyn(object).spec.jobTemplate.spec.template"
        " != dyn(oldObject).spec.jobTemplate.spec.template"
        " : dyn(object).spec.template != dyn(oldObject).spec.template)")}])


def services_policy(*, labels: Mapping[str, str]) -> dict[str, Any]:
    """Services: no external IPs, no chosen load-balancer IP, only the types the tier allows."""
    spec = "object.spec"
    return _policy(SERVICES_POLICY, labels=labels, rules=[_rule("", ["services"], _WRITE)], variables=[
        _list("serviceTypes"),
        {"name": "type", "expression": f"has({spec}.type) ? {spec}.type : 'ClusterIP'"},
    ], validations=[
        _check(f"!has({spec}.externalIPs) || size({spec}.externalIPs) == 0",
               "spec.externalIPs is not allowed (CVE-2020-8554)",
               "'Service ' + object.metadata.name + ' sets spec.externalIPs, which can intercept traffic for "
               "addresses it does not own (CVE-2020-8554); remove it'"),
        _check(f"!has({spec}.loadBalancerIP) || {spec}.loadBalancerIP == ''",
               "spec.loadBalancerIP is not allowed",
               "'Service ' + object.metadata.name + ' chooses spec.loadBalancerIP; addresses are assigned by the "
               "data centre'"),
        _check("variables.type != 'LoadBalancer' || 'NodePort' in variables.serviceTypes"
               f" || (has({spec}.allocateLoadBalancerNodePorts) && {spec}.allocateLoadBalancerNodePorts == false)",
               "a LoadBalancer must not allocate node ports where NodePort is not allowed",
               "'Service ' + object.metadata.name + ' is a LoadBalancer that would also open node ports; set "
               "spec.allocateLoadBalancerNodePorts: false (NodePort is not allowed for this tier)'"),
        _check("variables.type == 'ClusterIP' || variables.type in variables.serviceTypes",
               "a Service type the tier does not allow",
               "'Service ' + object.metadata.name + ' has type ' + variables.type + '; allowed: ClusterIP'"
               " + (params.data.serviceTypes == '' ? '' : ', ' + params.data.serviceTypes)"),
    ])


def ingress_policy(*, labels: Mapping[str, str]) -> dict[str, Any]:
    """Ingresses, Gateways and routes: allowed classes, and hostnames inside the tenant's domains only."""
    ingress = "(object.kind == 'Ingress')"
    gateway = "(object.kind == 'Gateway')"
    route = "(object.kind != 'Ingress' && object.kind != 'Gateway')"
    hosts = (
        f"{ingress} ? (has(object.spec.rules) ? object.spec.rules.map(r, has(r.host) ? r.host : '') : [])"
        f" : {gateway} ? dyn(object).spec.listeners.map(l, has(l.hostname) ? l.hostname : '')"
        " : (has(dyn(object).spec.hostnames) ? dyn(object).spec.hostnames : [])"
    )
    tls = (f"!{ingress} || !has(object.spec.tls)"
           f" || object.spec.tls.all(t, !has(t.hosts) || t.hosts.all(h, {_OWN_HOST}))")
    rules = [_rule("networking.k8s.io", ["ingresses"], _WRITE),
             _rule(GATEWAY_GROUP, ["gateways", *ROUTES], _WRITE, version="*")]
    return _policy(INGRESS_POLICY, labels=labels, rules=rules, variables=[
        _list("domains"), _list("ingressClasses"), _list("gatewayClasses"),
        {"name": "hosts", "expression": hosts},
        {"name": "subject", "expression": "object.kind + ' ' + object.metadata.name"},
    ], validations=[
        _check(f"!{ingress} || (has(object.spec.ingressClassName)"
               " && object.spec.ingressClassName in variables.ingressClasses)",
               "an IngressClass the tier does not allow",
               "variables.subject + ' must set spec.ingressClassName to one of: '"
               " + (params.data.ingressClasses == '' ? 'none (no ingress for this tier)'"
               " : params.data.ingressClasses)"),
        _check(f"!{ingress} || !has(object.metadata.annotations)"
               " || !('kubernetes.io/ingress.class' in object.metadata.annotations)",
               "the kubernetes.io/ingress.class annotation is not allowed",
               "variables.subject + ' uses the legacy kubernetes.io/ingress.class annotation; set "
               "spec.ingressClassName instead'"),
        _check(f"!{ingress} || !has(object.spec.defaultBackend)",
               "spec.defaultBackend is not allowed: it answers for every hostname",
               "variables.subject + ' sets spec.defaultBackend, which would answer for any hostname; "
               "give each rule a host'"),
        _check(f"!{gateway} || dyn(object).spec.gatewayClassName in variables.gatewayClasses",
               "a GatewayClass the tier does not allow",
               "variables.subject + ' must use a GatewayClass among: '"
               " + (params.data.gatewayClasses == '' ? 'none' : params.data.gatewayClasses)"),
        _check(f"!{route} || size(variables.hosts) > 0",
               "a route must list its hostnames",
               "variables.subject + ' must list spec.hostnames inside the tenant\\'s domains: '"
               " + params.data.domains"),
        _check(tls, "a TLS hostname outside the tenant's domains",
               "variables.subject + ' lists a TLS hostname outside the tenant\\'s domains ('"
               " + (params.data.domains == '' ? 'none declared in quotas/' : params.data.domains) + ')'"),
        _check(f"variables.hosts.all(h, h != '' && {_OWN_HOST})",
               "a hostname outside the tenant's domains",
               "variables.subject + ' serves a hostname that is missing or outside the tenant\\'s domains ('"
               " + (params.data.domains == '' ? 'none declared in quotas/' : params.data.domains) + ')'"),
    ])


def storage_policy(*, labels: Mapping[str, str]) -> dict[str, Any]:
    """PersistentVolumeClaims: a storage class the namespace has a quota for, never a pre-bound volume."""
    spec = "object.spec"
    return _policy(STORAGE_POLICY, labels=labels, rules=[_rule("", ["persistentvolumeclaims"], ["CREATE"])],
                   variables=[_list("storageClasses")], validations=[
        _check(f"has({spec}.storageClassName) && {spec}.storageClassName != ''",
               "a PersistentVolumeClaim must name a storage class",
               "'PersistentVolumeClaim ' + object.metadata.name + ' names no storage class; set "
               "spec.storageClassName to one of: ' + params.data.storageClasses"),
        _check(f"!has({spec}.storageClassName) || {spec}.storageClassName == ''"
               f" || {spec}.storageClassName in variables.storageClasses",
               "a storage class the namespace has no quota for",
               "'PersistentVolumeClaim ' + object.metadata.name + ' asks for storage class '"
               f" + {spec}.storageClassName + '; this namespace has quota for: '"
               " + (params.data.storageClasses == '' ? 'none' : params.data.storageClasses)"),
        _check(f"!has({spec}.volumeName) || {spec}.volumeName == ''",
               "spec.volumeName is not allowed: volumes are provisioned, not chosen",
               "'PersistentVolumeClaim ' + object.metadata.name + ' names a PersistentVolume ('"
               f" + {spec}.volumeName + '), which could be another tenant\\'s released volume'"),
    ])


def pruning_policy(*, labels: Mapping[str, str], system_namespace: str) -> dict[str, Any]:
    """Nothing new that runs or holds data in a namespace dctenant is emptying, except by dctenant."""
    rules = [*_workload_rules(["CREATE"]), _rule("", ["persistentvolumeclaims"], ["CREATE"])]
    return _policy(PRUNING_POLICY, labels=labels, rules=rules, params=False, variables=[], conditions=[{
        "name": "not-dctenant",
        "expression": f"request.userInfo.username != '{admission.manager(system_namespace=system_namespace)}'",
    }], validations=[_check(
        "false", f"the namespace is being pruned by dctenant (label {PRUNING_LABEL}); nothing new may be created",
        f"'namespace ' + request.namespace + ' is being pruned by dctenant (label {PRUNING_LABEL}: \"true\"); '"
        " + request.kind.kind + ' ' + request.name + ' cannot be created in it'")])


def tenant_binding(policy: str, *, labels: Mapping[str, str], tenant_label: str,
                   managed_by: Mapping[str, str]) -> dict[str, Any]:
    """Binds a tenant policy to every tenant namespace with its ``dctenant-admission`` ConfigMap."""
    return admission.tenant_binding(policy, params=PARAMS, labels=labels, tenant_label=tenant_label,
                                    managed_by=managed_by)


def pruning_binding(*, labels: Mapping[str, str]) -> dict[str, Any]:
    """Binds the pruning guard to namespaces labelled ``dctenant.io/pruning: "true"`` (by dctenant alone)."""
    return {
        "apiVersion": admission.API_VERSION,
        "kind": "ValidatingAdmissionPolicyBinding",
        "metadata": {"name": PRUNING_POLICY, "labels": dict(labels)},
        "spec": {"policyName": PRUNING_POLICY,
                 "matchResources": {"namespaceSelector": {"matchLabels": {PRUNING_LABEL: "true"}}},
                 "validationActions": ["Deny"]},
    }


def policies(*, labels: Mapping[str, str], tenant_label: str, managed_by: Mapping[str, str],
             system_namespace: str) -> tuple[dict[str, Any], ...]:
    """Every policy then every binding (a binding to a missing policy would be an error)."""
    tenant = (placement_policy(labels=labels), services_policy(labels=labels), ingress_policy(labels=labels),
              storage_policy(labels=labels))
    bindings = tuple(tenant_binding(p["metadata"]["name"], labels=labels, tenant_label=tenant_label,
                                    managed_by=managed_by) for p in tenant)
    return (*tenant, pruning_policy(labels=labels, system_namespace=system_namespace), *bindings,
            pruning_binding(labels=labels))
