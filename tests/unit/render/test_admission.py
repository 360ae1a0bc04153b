"""The admission policies' CEL, evaluated on sample pods, workloads and edits (see ``celharness``)."""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

import pytest

from dctenant.domain import allocations, changes, quotas
from dctenant.loaders import loading
from dctenant.ops import planning
from dctenant.render import admission, kubernetes
from tests.conftest import EXAMPLE
from tests.unit.render import celharness

AT = dt.date(2026, 11, 27)
MANAGER = "system:serviceaccount:dctenant-system:dctenant"
EGRESS, INGRESS = admission.EGRESS_ANNOTATION, admission.INGRESS_ANNOTATION


@pytest.fixture(scope="module")
def rendered() -> tuple[quotas.Quotas, allocations.Allocation, dict[str, tuple[kubernetes.Manifest, ...]]]:
    model = loading.load(EXAMPLE)
    allocation = planning.allocate(model, at=AT)
    return model, allocation, kubernetes.render(model, allocation)


def find(manifests: tuple[kubernetes.Manifest, ...], kind: str, name: str, namespace: str | None = None
         ) -> kubernetes.Manifest:
    (found,) = [m for m in manifests if m["kind"] == kind and m["metadata"]["name"] == name
                and m["metadata"].get("namespace") == namespace]
    return found


@pytest.fixture(scope="module")
def bandwidth(rendered: Any) -> celharness.Policy:
    return celharness.Policy(find(rendered[2]["thr-ab"], "ValidatingAdmissionPolicy", admission.BANDWIDTH_POLICY))


@pytest.fixture(scope="module")
def protect(rendered: Any) -> celharness.Policy:
    return celharness.Policy(find(rendered[2]["thr-ab"], "ValidatingAdmissionPolicy", admission.PROTECT_POLICY))


@pytest.fixture(scope="module")
def params(rendered: Any) -> dict[str, Any]:
    """bale-messaging's real ConfigMap: 173086M egress and 113293M ingress granted, half per pod."""
    configmap = find(rendered[2]["thr-ab"], "ConfigMap", admission.PARAMS, "bale-messaging")
    assert configmap["data"] == {"maxEgress": "86543M", "maxIngress": "56646500k"}
    return configmap


def annotated(egress: str | None, ingress: str | None) -> dict[str, str]:
    out = {"team": "chat"}
    if egress is not None:
        out[EGRESS] = egress
    if ingress is not None:
        out[INGRESS] = ingress
    return out


def pod(annotations: dict[str, str] | None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": "chat-0", "namespace": "bale-messaging"}
    if annotations is not None:
        meta["annotations"] = annotations
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta,
            "spec": {"containers": [{"name": "chat", "image": "chat:1"}]}}


def template(annotations: dict[str, str] | None) -> dict[str, Any]:
    spec = pod(annotations)
    spec["metadata"].pop("name")
    spec["metadata"].pop("namespace")
    out = {"metadata": spec["metadata"], "spec": spec["spec"]}
    if not out["metadata"]:
        del out["metadata"]  # a template may have no metadata at all
    return out


def workload(kind: str, annotations: dict[str, str] | None) -> dict[str, Any]:
    group = "batch/v1" if kind in ("Job", "CronJob") else "apps/v1"
    spec: dict[str, Any] = {"template": template(annotations)}
    if kind == "CronJob":
        spec = {"schedule": "0 * * * *", "jobTemplate": {"spec": spec}}
    return {"apiVersion": group, "kind": kind, "metadata": {"name": "chat", "namespace": "bale-messaging"},
            "spec": spec}


WORKLOADS = ("Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob")


def test_pod_within_the_per_pod_maximum_is_admitted(bandwidth: celharness.Policy, params: dict[str, Any]) -> None:
    outcome = bandwidth.admit(operation="CREATE", obj=pod(annotated("86543M", "10M")), params=params)
    assert outcome.applies and outcome.allowed


@pytest.mark.parametrize("egress", ["86.543G", "86543000k", "80Gi", "1k", "86543000000"])
def test_every_quantity_spelling_up_to_the_maximum_is_admitted(
        bandwidth: celharness.Policy, params: dict[str, Any], egress: str) -> None:
    assert bandwidth.admit(operation="CREATE", obj=pod(annotated(egress, "1M")), params=params).allowed


def test_pod_above_the_maximum_is_denied_with_the_limit_in_the_message(
        bandwidth: celharness.Policy, params: dict[str, Any]) -> None:
    outcome = bandwidth.admit(operation="CREATE", obj=pod(annotated("86544M", "10M")), params=params)
    assert outcome.denials == (f"the pod asks for {EGRESS} 86544M; namespace bale-messaging allows from 1k to "
                               "86543M (bits per second) per pod",)
    outcome = bandwidth.admit(operation="CREATE", obj=pod(annotated("10M", "100G")), params=params)
    assert len(outcome.denials) == 1 and INGRESS in outcome.denials[0] and "56646500k" in outcome.denials[0]


@pytest.mark.parametrize("annotations", [None, {}, annotated("10M", None), annotated(None, "10M")])
def test_pod_without_both_annotations_is_denied(
        bandwidth: celharness.Policy, params: dict[str, Any], annotations: dict[str, str] | None) -> None:
    outcome = bandwidth.admit(operation="CREATE", obj=pod(annotations), params=params)
    assert len(outcome.denials) == 1
    assert outcome.denials[0].startswith(f"the pod must carry the annotations {EGRESS} and {INGRESS}")
    assert "at most 86543M egress and 56646500k ingress per pod" in outcome.denials[0]


@pytest.mark.parametrize("bad", ["fast", "10 M", "10Mbps", "10MB", ""])
def test_an_annotation_that_is_not_a_quantity_is_denied(
        bandwidth: celharness.Policy, params: dict[str, Any], bad: str) -> None:
    outcome = bandwidth.admit(operation="CREATE", obj=pod(annotated("10M", bad)), params=params)
    assert len(outcome.denials) == 1
    assert ("is not a quantity" in outcome.denials[0]) or ("must carry" in outcome.denials[0])


@pytest.mark.parametrize("tiny", ["0", "999", "-10M"])
def test_bandwidth_below_the_kubelets_minimum_is_denied(
        bandwidth: celharness.Policy, params: dict[str, Any], tiny: str) -> None:
    outcome = bandwidth.admit(operation="CREATE", obj=pod(annotated(tiny, "10M")), params=params)
    assert len(outcome.denials) == 1 and "allows from 1k" in outcome.denials[0]


@pytest.mark.parametrize("kind", WORKLOADS)
def test_workload_pod_templates_are_checked_at_creation(
        bandwidth: celharness.Policy, params: dict[str, Any], kind: str) -> None:
    assert bandwidth.admit(operation="CREATE", obj=workload(kind, annotated("50G", "50G")), params=params).allowed
    over = bandwidth.admit(operation="CREATE", obj=workload(kind, annotated("100G", "50G")), params=params)
    assert len(over.denials) == 1 and over.denials[0].startswith(f"the pod template of {kind} chat asks for")
    for missing in (None, {"team": "chat"}):
        denied = bandwidth.admit(operation="CREATE", obj=workload(kind, missing), params=params)
        assert len(denied.denials) == 1 and "must carry the annotations" in denied.denials[0]


def test_workload_metadata_annotations_do_not_count(bandwidth: celharness.Policy, params: dict[str, Any]) -> None:
    """The annotations belong on the pod template: on the Deployment itself they reach no pod."""
    deployment = workload("Deployment", None)
    deployment["metadata"]["annotations"] = annotated("10M", "10M")
    assert not bandwidth.admit(operation="CREATE", obj=deployment, params=params).allowed


def test_pod_updates_are_not_checked(bandwidth: celharness.Policy, params: dict[str, Any]) -> None:
    """The bandwidth plugin reads the annotations once, at sandbox creation; updates change nothing."""
    old = pod(None)
    new = copy.deepcopy(old)
    new["metadata"]["labels"] = {"adopted": "yes"}
    assert not bandwidth.admit(operation="UPDATE", obj=new, old=old, params=params).applies


@pytest.mark.parametrize("kind", WORKLOADS)
def test_workload_updates_are_checked_only_when_the_pod_template_changes(
        bandwidth: celharness.Policy, params: dict[str, Any], kind: str) -> None:
    legacy = workload(kind, None)  # created before the policy existed
    touched = copy.deepcopy(legacy)
    touched["metadata"]["annotations"] = {"deployment.kubernetes.io/revision": "2"}
    assert not bandwidth.admit(operation="UPDATE", obj=touched, old=legacy, params=params).applies
    changed = workload(kind, annotated("100G", "1M"))
    outcome = bandwidth.admit(operation="UPDATE", obj=changed, old=legacy, params=params)
    assert outcome.applies and len(outcome.denials) == 1


def test_suspended_tenant_namespace_admits_no_pod(rendered: Any, bandwidth: celharness.Policy) -> None:
    configmap = find(rendered[2]["isf-1"], "ConfigMap", admission.PARAMS, "wispi-messaging")
    assert configmap["data"] == {"maxEgress": "0", "maxIngress": "0"}
    outcome = bandwidth.admit(operation="CREATE", obj=pod(annotated("1k", "1k")), params=configmap,
                              namespace="wispi-messaging")
    assert len(outcome.denials) == 2


def test_binding_reads_the_namespace_configmap_and_denies_without_it(rendered: Any) -> None:
    binding = find(rendered[2]["thr-ab"], "ValidatingAdmissionPolicyBinding", admission.BANDWIDTH_POLICY)
    assert binding["spec"]["paramRef"] == {"name": "dctenant-bandwidth", "parameterNotFoundAction": "Deny"}
    assert binding["spec"]["validationActions"] == ["Deny"]
    selector = binding["spec"]["matchResources"]["namespaceSelector"]
    assert selector["matchLabels"] == kubernetes.MANAGED_BY
    assert selector["matchExpressions"] == [{"key": "dctenant.io/tenant", "operator": "Exists"}]


def quota_object(rendered: Any, kind: str = "ResourceQuota", name: str = kubernetes.QUOTA) -> dict[str, Any]:
    return copy.deepcopy(find(rendered[2]["thr-ab"], kind, name, "bale-messaging"))


@pytest.mark.parametrize(("kind", "name"), [("ResourceQuota", kubernetes.QUOTA), ("LimitRange", kubernetes.LIMITS),
                                            ("NetworkPolicy", kubernetes.ISOLATION), ("ConfigMap", admission.PARAMS)])
def test_only_dctenant_may_change_or_delete_quota_objects(
        rendered: Any, protect: celharness.Policy, kind: str, name: str) -> None:
    old = quota_object(rendered, kind, name)
    new = copy.deepcopy(old)
    new["metadata"]["labels"]["edited"] = "yes"
    for operation, obj in (("UPDATE", new), ("DELETE", None)):
        outcome = protect.admit(operation=operation, obj=obj, old=old, username="admin@ndc.ir")
        assert outcome.denials == (f"{kind} bale-messaging/{name} is managed by dctenant; "
                                   "change quotas/ and let dctenant apply it",)
        assert not protect.admit(operation=operation, obj=obj, old=old, username=MANAGER).applies


@pytest.mark.parametrize(("kind", "name"), [("ResourceQuota", kubernetes.QUOTA), ("ConfigMap", admission.PARAMS)])
def test_the_enforcers_marks_pass_for_dctenant_and_no_one_else(
        rendered: Any, protect: celharness.Policy, kind: str, name: str) -> None:
    """The enforcer runs as dctenant's account: it may mark (and unmark) what it lowers; nobody else may."""
    old = quota_object(rendered, kind, name)
    new = copy.deepcopy(old)
    new["metadata"]["annotations"] = {changes.ENFORCEMENT: "suspend",
                                      changes.ENFORCEMENT_SINCE: "2026-11-27T10:00:00Z"}
    for before, after in ((old, new), (new, old)):
        assert not protect.admit(operation="UPDATE", obj=after, old=before, username=MANAGER).applies
        assert not protect.admit(operation="UPDATE", obj=after, old=before, username="admin@ndc.ir").allowed


def test_namespace_teardown_may_delete_quota_objects(rendered: Any, protect: celharness.Policy) -> None:
    old = quota_object(rendered)
    terminating = {"apiVersion": "v1", "kind": "Namespace",
                   "metadata": {"name": "bale-messaging", "deletionTimestamp": "2026-11-27T10:00:00Z"}}
    outcome = protect.admit(operation="DELETE", obj=None, old=old, username="system:kube-controller-manager",
                            namespace_object=terminating)
    assert outcome.allowed


def namespace_edit(rendered: Any, change: dict[str, str | None]) -> tuple[dict[str, Any], dict[str, Any]]:
    old = copy.deepcopy(find(rendered[2]["thr-ab"], "Namespace", "bale-messaging"))
    new = copy.deepcopy(old)
    for key, value in change.items():
        if value is None:
            new["metadata"]["labels"].pop(key)
        else:
            new["metadata"]["labels"][key] = value
    return old, new


@pytest.mark.parametrize("change", [{"dctenant.io/tier": "standard"}, {"dctenant.io/tenant": None},
                                    {"dctenant.io/extra": "x"}, {"app.kubernetes.io/managed-by": None},
                                    {"pod-security.kubernetes.io/enforce": "privileged"},
                                    {"pod-security.kubernetes.io/warn": None},
                                    {"pod-security.kubernetes.io/enforce-version": "latest"},
                                    {"dctenant.io/pruning": "true"}])
def test_dctenant_namespace_labels_are_protected(
        rendered: Any, protect: celharness.Policy, change: dict[str, str | None]) -> None:
    old, new = namespace_edit(rendered, change)
    outcome = protect.admit(operation="UPDATE", obj=new, old=old, username="admin@ndc.ir")
    assert outcome.denials == ("the dctenant.io/*, pod-security.kubernetes.io/* and app.kubernetes.io/managed-by "
                               "labels of namespace "
                               "bale-messaging are managed by dctenant; change quotas/ instead",)
    assert not protect.admit(operation="UPDATE", obj=new, old=old, username=MANAGER).applies


def test_other_namespace_labels_and_annotations_may_change(rendered: Any, protect: celharness.Policy) -> None:
    old, new = namespace_edit(rendered, {"team": "messaging"})
    new["metadata"]["annotations"]["note"] = "hello"
    assert protect.admit(operation="UPDATE", obj=new, old=old, username="admin@ndc.ir").allowed


def test_protection_selects_dctenant_objects_and_binds_cluster_wide(rendered: Any) -> None:
    policy = find(rendered[2]["thr-ab"], "ValidatingAdmissionPolicy", admission.PROTECT_POLICY)
    assert policy["spec"]["matchConstraints"]["objectSelector"] == {"matchLabels": kubernetes.MANAGED_BY}
    binding = find(rendered[2]["thr-ab"], "ValidatingAdmissionPolicyBinding", admission.PROTECT_POLICY)
    assert binding["spec"] == {"policyName": admission.PROTECT_POLICY, "validationActions": ["Deny"]}
    assert admission.manager(system_namespace="dctenant-system") == MANAGER
