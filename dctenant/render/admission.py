"""The two ValidatingAdmissionPolicies dctenant renders once per cluster, with their CEL expressions.

Kubernetes has no bandwidth quota, and a ResourceQuota can be edited by whoever may edit it. Both
gaps are closed in the API server itself, without a webhook to run: ``dctenant-pod-bandwidth``
denies pods (and the pod templates of workloads, so that the tenant sees the denial when creating
the Deployment rather than a ReplicaSet failing quietly) whose bandwidth annotations are missing
or larger than the namespace's per-pod maximum, read from the namespace's ``dctenant-bandwidth``
ConfigMap; ``dctenant-protect-quotas`` denies changes by anyone but dctenant to the objects that
carry a tenant's limits and to the ``dctenant.io/*`` labels of its namespaces.

The CEL lives here, apart from the per-namespace objects in ``kubernetes``, because it is the part
most likely to be read, reviewed and tested on its own (tests evaluate it with cel-python).
Expressions use ``has()`` guards and ``dyn()`` rather than CEL optionals, so that the API server's
type checker raises no warnings for kinds whose schema lacks a branch's fields.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

API_VERSION = "admissionregistration.k8s.io/v1"
BANDWIDTH_POLICY = "dctenant-pod-bandwidth"
PROTECT_POLICY = "dctenant-protect-quotas"
PARAMS = "dctenant-bandwidth"  # the per-namespace ConfigMap that holds the per-pod maximum
MAX_EGRESS = "maxEgress"  # keys of that ConfigMap's data: Kubernetes quantities in bits per second
MAX_INGRESS = "maxIngress"
EGRESS_ANNOTATION = "kubernetes.io/egress-bandwidth"
INGRESS_ANNOTATION = "kubernetes.io/ingress-bandwidth"
# The kubelet rejects bandwidth annotations below 1 kbit/s, so the policy does as well.
MINIMUM_BANDWIDTH = "1k"
SERVICE_ACCOUNT = "dctenant"  # dctenant's own identity: system:serviceaccount:<system namespace>:dctenant

# The pod's annotations, wherever the kind keeps its pod template. ``dyn()`` tells the type checker
# not to look for ``spec.template`` in the Pod schema; ``has()`` keeps an absent map from erroring.
_ANNOTATIONS = (
    "object.kind == 'Pod'"
    " ? (has(object.metadata.annotations) ? object.metadata.annotations : {})"
    " : object.kind == 'CronJob'"
    " ? (has(dyn(object).spec.jobTemplate.spec.template.metadata)"
    " && has(dyn(object).spec.jobTemplate.spec.template.metadata.annotations)"
    " ? dyn(object).spec.jobTemplate.spec.template.metadata.annotations : {})"
    " : (has(dyn(object).spec.template.metadata) && has(dyn(object).spec.template.metadata.annotations)"
    " ? dyn(object).spec.template.metadata.annotations : {})"
)
# Validate on creation, and on update only when the pod template changed. A running pod's bandwidth
# annotations are read once, when its sandbox is created, so pod updates are left alone; and so are
# updates that only touch a workload's metadata (finalizers, the deployment controller's revision
# annotation), which would otherwise fail for workloads created before the policy existed.
_TEMPLATE_CHANGED = (
    "request.operation == 'CREATE'"
    " || (object.kind == 'CronJob'"
    " ? dyn(object).spec.jobTemplate.spec.template != dyn(oldObject).spec.jobTemplate.spec.template"
    " : object.kind != 'Pod' && dyn(object).spec.template != dyn(oldObject).spec.template)"
)
_SUBJECT = (
    "object.kind == 'Pod' ? 'the pod'"
    " : 'the pod template of ' + object.kind + ' '"
    " + (has(object.metadata.name) ? object.metadata.name : object.metadata.generateName)"
)


def _annotation(name: str) -> str:
    return f"'{name}' in variables.annotations ? variables.annotations['{name}'] : ''"


def _in_range(variable: str, param: str) -> str:
    value = f"quantity(variables.{variable})"
    return (f"variables.{variable} == '' || !isQuantity(variables.{variable})"
            f" || ({value}.compareTo(quantity('{MINIMUM_BANDWIDTH}')) >= 0"
            f" && {value}.compareTo(quantity(params.data.{param})) <= 0)")


def _range_message(variable: str, annotation: str, param: str) -> str:
    return (f"variables.subject + ' asks for {annotation} ' + variables.{variable}"
            f" + '; namespace ' + request.namespace + ' allows from {MINIMUM_BANDWIDTH} to '"
            f" + params.data.{param} + ' (bits per second) per pod'")


def _quantity_message(variable: str, annotation: str) -> str:
    return (f"variables.subject + ': {annotation} \"' + variables.{variable}"
            " + '\" is not a quantity; write bits per second such as \"100M\"'")


def manager(*, system_namespace: str) -> str:
    """The user name dctenant applies as: the only one allowed to change the protected objects."""
    return f"system:serviceaccount:{system_namespace}:{SERVICE_ACCOUNT}"


def bandwidth_policy(*, labels: dict[str, str]) -> dict[str, Any]:
    """Pods and pod templates must declare both bandwidth annotations, within the per-pod maximum."""
    write = ["CREATE", "UPDATE"]
    missing = (f"variables.subject + ' must carry the annotations {EGRESS_ANNOTATION} and "
               f"{INGRESS_ANNOTATION} (bits per second, such as \"100M\"); namespace ' + request.namespace"
               f" + ' allows at most ' + params.data.{MAX_EGRESS} + ' egress and '"
               f" + params.data.{MAX_INGRESS} + ' ingress per pod'")
    return {
        "apiVersion": API_VERSION,
        "kind": "ValidatingAdmissionPolicy",
        "metadata": {"name": BANDWIDTH_POLICY, "labels": dict(labels)},
        "spec": {
            "failurePolicy": "Fail",
            "paramKind": {"apiVersion": "v1", "kind": "ConfigMap"},
            "matchConstraints": {"resourceRules": [
                {"apiGroups": [""], "apiVersions": ["v1"], "operations": list(write), "resources": ["pods"]},
                {"apiGroups": ["apps"], "apiVersions": ["v1"], "operations": list(write),
                 "resources": ["daemonsets", "deployments", "statefulsets"]},
                {"apiGroups": ["batch"], "apiVersions": ["v1"], "operations": list(write),
                 "resources": ["cronjobs", "jobs"]},
            ]},
            "matchConditions": [{"name": "creates-or-changes-a-pod-template", "expression": _TEMPLATE_CHANGED}],
            "variables": [
                {"name": "annotations", "expression": _ANNOTATIONS},
                {"name": "egress", "expression": _annotation(EGRESS_ANNOTATION)},
                {"name": "ingress", "expression": _annotation(INGRESS_ANNOTATION)},
                {"name": "subject", "expression": _SUBJECT},
            ],
            "validations": [
                {"expression": "variables.egress != '' && variables.ingress != ''",
                 "message": f"pods must carry the annotations {EGRESS_ANNOTATION} and {INGRESS_ANNOTATION}",
                 "messageExpression": missing, "reason": "Invalid"},
                {"expression": "variables.egress == '' || isQuantity(variables.egress)",
                 "message": f"{EGRESS_ANNOTATION} must be a quantity in bits per second",
                 "messageExpression": _quantity_message("egress", EGRESS_ANNOTATION), "reason": "Invalid"},
                {"expression": "variables.ingress == '' || isQuantity(variables.ingress)",
                 "message": f"{INGRESS_ANNOTATION} must be a quantity in bits per second",
                 "messageExpression": _quantity_message("ingress", INGRESS_ANNOTATION), "reason": "Invalid"},
                {"expression": _in_range("egress", MAX_EGRESS),
                 "message": f"{EGRESS_ANNOTATION} exceeds the namespace's per-pod maximum",
                 "messageExpression": _range_message("egress", EGRESS_ANNOTATION, MAX_EGRESS),
                 "reason": "Invalid"},
                {"expression": _in_range("ingress", MAX_INGRESS),
                 "message": f"{INGRESS_ANNOTATION} exceeds the namespace's per-pod maximum",
                 "messageExpression": _range_message("ingress", INGRESS_ANNOTATION, MAX_INGRESS),
                 "reason": "Invalid"},
            ],
        },
    }


def bandwidth_binding(*, labels: Mapping[str, str], tenant_label: str, managed_by: Mapping[str, str]) -> dict[str, Any]:
    """Binds the bandwidth policy to tenant namespaces; a namespace without its ConfigMap denies all pods.

    The system namespace is managed by dctenant too but has no tenant label, so dctenant's own pods
    are not held to a tenant's bandwidth.
    """
    return tenant_binding(BANDWIDTH_POLICY, params=PARAMS, labels=labels, tenant_label=tenant_label,
                          managed_by=managed_by)


def tenant_binding(policy: str, *, params: str, labels: Mapping[str, str], tenant_label: str,
                   managed_by: Mapping[str, str]) -> dict[str, Any]:
    """Binds ``policy`` to every tenant namespace (managed by dctenant, with a tenant label), with the
    namespace's ConfigMap ``params`` as its parameters.

    A tenant namespace without that ConfigMap is denied everything the policy matches
    (``parameterNotFoundAction: Deny``), so a missing ConfigMap fails closed.
    """
    return {
        "apiVersion": API_VERSION,
        "kind": "ValidatingAdmissionPolicyBinding",
        "metadata": {"name": policy, "labels": dict(labels)},
        "spec": {
            "policyName": policy,
            "paramRef": {"name": params, "parameterNotFoundAction": "Deny"},
            "matchResources": {"namespaceSelector": {
                "matchLabels": dict(managed_by),
                "matchExpressions": [{"key": tenant_label, "operator": "Exists"}],
            }},
            "validationActions": ["Deny"],
        },
    }


_PROTECTED_LABEL = ("(k.startsWith('dctenant.io/') || k.startsWith('pod-security.kubernetes.io/')"
                    " || k == 'app.kubernetes.io/managed-by')")
_LABELS_KEPT = (
    "request.kind.kind != 'Namespace'"
    f" || (variables.oldLabels.all(k, !{_PROTECTED_LABEL}"
    " || (k in variables.newLabels && variables.newLabels[k] == variables.oldLabels[k]))"
    f" && variables.newLabels.all(k, !{_PROTECTED_LABEL} || k in variables.oldLabels))"
)


def protect_policy(*, labels: dict[str, str], managed_by: dict[str, str], system_namespace: str) -> dict[str, Any]:
    """Only dctenant may change or delete its quota objects and its namespaces' dctenant labels.

    The tenant-admin ClusterRole already denies tenants these writes; this policy also holds other
    staff and controllers to ``quotas/`` as the single source of truth. Deletions while a namespace
    is being torn down are allowed, or the namespace controller could never empty it.

    Every matched request has an ``oldObject`` (UPDATE and DELETE), an ``object`` only on UPDATE,
    and a ``namespaceObject`` for every kind but Namespace; the expressions test the operation
    and kind rather than comparing objects with null.
    """
    kinds = ["configmaps", "limitranges", "resourcequotas"]
    return {
        "apiVersion": API_VERSION,
        "kind": "ValidatingAdmissionPolicy",
        "metadata": {"name": PROTECT_POLICY, "labels": dict(labels)},
        "spec": {
            "failurePolicy": "Fail",
            "matchConstraints": {
                "objectSelector": {"matchLabels": dict(managed_by)},
                "resourceRules": [
                    {"apiGroups": [""], "apiVersions": ["v1"], "operations": ["UPDATE", "DELETE"],
                     "resources": kinds},
                    {"apiGroups": ["networking.k8s.io"], "apiVersions": ["v1"],
                     "operations": ["UPDATE", "DELETE"], "resources": ["networkpolicies"]},
                    {"apiGroups": [""], "apiVersions": ["v1"], "operations": ["UPDATE"],
                     "resources": ["namespaces"]},
                ],
            },
            "matchConditions": [{
                "name": "not-dctenant",
                "expression": f"request.userInfo.username != '{manager(system_namespace=system_namespace)}'",
            }],
            "variables": [
                {"name": "teardown",
                 "expression": "request.kind.kind != 'Namespace' && has(namespaceObject.metadata.deletionTimestamp)"},
                {"name": "oldLabels",
                 "expression": "has(oldObject.metadata.labels) ? oldObject.metadata.labels : {}"},
                {"name": "newLabels",
                 "expression": ("request.operation == 'UPDATE' && has(object.metadata.labels)"
                                " ? object.metadata.labels : {}")},
            ],
            "validations": [
                {"expression": "request.kind.kind == 'Namespace' || variables.teardown",
                 "message": "this object is managed by dctenant; change quotas/ and let dctenant apply it",
                 "messageExpression": ("request.kind.kind + ' ' + request.namespace + '/' + request.name"
                                       " + ' is managed by dctenant; change quotas/ and let dctenant apply it'"),
                 "reason": "Forbidden"},
                {"expression": _LABELS_KEPT,
                 "message": "the dctenant.io/*, pod-security.kubernetes.io/* and app.kubernetes.io/managed-by labels "
                            "of a namespace are managed by dctenant",
                 "messageExpression": ("'the dctenant.io/*, pod-security.kubernetes.io/* and "
                                       "app.kubernetes.io/managed-by labels of namespace '"
                                       " + request.name + ' are managed by dctenant; change quotas/ instead'"),
                 "reason": "Forbidden"},
            ],
        },
    }


def protect_binding(*, labels: dict[str, str]) -> dict[str, Any]:
    """Binds the protection cluster-wide; the policy's object selector picks dctenant's objects.

    No namespace selector: removing the managed-by label from a namespace must not take it out
    of the policy's reach, and an object selector matches on the old object's labels as well.
    """
    return {
        "apiVersion": API_VERSION,
        "kind": "ValidatingAdmissionPolicyBinding",
        "metadata": {"name": PROTECT_POLICY, "labels": dict(labels)},
        "spec": {"policyName": PROTECT_POLICY, "validationActions": ["Deny"]},
    }
