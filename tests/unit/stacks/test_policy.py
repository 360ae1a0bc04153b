"""The CrossGuard checks, invoked directly: the example passes; quotas over capacity, unlabelled namespaces fail."""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Mapping
from typing import Any

import pytest
from pulumi_policy import (
    PolicyCustomTimeouts,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    StackValidationArgs,
)

from dctenant.loaders import loading
from dctenant.ops import planning
from dctenant.render import kubernetes
from tests.conftest import EXAMPLE, REPO, QuotasCopy
from tests.unit.stacks import harness

AT = dt.date(2026, 11, 27)
MODEL = loading.load(EXAMPLE)
ALLOCATION = planning.allocate(MODEL, at=AT)
TYPES = {"Namespace": "kubernetes:core/v1:Namespace", "ResourceQuota": "kubernetes:core/v1:ResourceQuota"}


def _options() -> PolicyResourceOptions:
    return PolicyResourceOptions(protect=True, ignore_changes=[], delete_before_replace=None, aliases=[],
                                 additional_secret_outputs=[], custom_timeouts=PolicyCustomTimeouts(0, 0, 0))


def _resource(manifest: Mapping[str, Any]) -> PolicyResource:
    type_ = TYPES.get(manifest["kind"], f"kubernetes:x/v1:{manifest['kind']}")
    return PolicyResource(resource_type=type_, props=manifest, urn=f"urn:{harness.manifest_key(manifest)}",
                          name=manifest["metadata"]["name"], opts=_options(), provider=None, parent=None,
                          dependencies=[], property_dependencies={})


def stack_violations(manifests: list[dict[str, Any]], config: Mapping[str, Any] | None = None) -> list[str]:
    import dctenant_policy

    found: list[str] = []
    args = StackValidationArgs(resources=[_resource(m) for m in manifests], config=config or {})
    dctenant_policy.validate_quotas(args, lambda message, urn=None: found.append(message))
    return found


def namespace_violations(manifest: Mapping[str, Any]) -> list[str]:
    import dctenant_policy

    found: list[str] = []
    args = ResourceValidationArgs(resource_type=TYPES.get(manifest["kind"], manifest["kind"]), props=manifest,
                                  urn="urn:x", name=manifest["metadata"]["name"], opts=_options(), provider=None)
    dctenant_policy.validate_namespace(args, lambda message, urn=None: found.append(message))
    return found


def pool_manifests(pool: str) -> list[dict[str, Any]]:
    return copy.deepcopy(list(kubernetes.render_pool(MODEL, ALLOCATION, pool=pool)))


@pytest.mark.parametrize("pool", MODEL.datacentre.pool_names)
def test_the_example_passes(pool: str) -> None:
    manifests = pool_manifests(pool)
    assert stack_violations(manifests) == []
    namespaces = [m for m in manifests if m["kind"] == "Namespace"]
    assert len(namespaces) > 1
    for ns in namespaces:
        assert namespace_violations(ns) == []


def test_the_declared_stack_passes() -> None:
    """What the program declares under mocks (the policy sees those properties) passes too."""
    run = harness.run("thr-ab", {**harness.stack_config("thr-ab"), f"{harness.PROJECT}:at": AT.isoformat()})
    declared = [harness.normalise(r.inputs) for r in run.kubernetes]
    assert stack_violations(declared) == []
    assert all(namespace_violations(m) == [] for m in declared if m["kind"] == "Namespace")


def test_quotas_over_allocatable_are_a_violation() -> None:
    pool = "thr-ab"
    manifests = pool_manifests(pool)
    allocatable = {r.key: r.allocatable for r in ALLOCATION.pools[pool].resources}
    quota = next(m for m in manifests if m["kind"] == "ResourceQuota")
    # Every other quota stays as it is; this one alone takes the whole pool's CPU.
    quota["spec"]["hard"]["requests.cpu"] = str(allocatable["cpu"])
    (found,) = stack_violations(manifests)
    assert found.startswith("pool thr-ab: ResourceQuotas request") and "of cpu in total" in found


def test_a_quota_on_a_class_the_pool_lacks_is_a_violation() -> None:
    manifests = pool_manifests("isf-1")  # no NVMe in Isfahan
    quota = next(m for m in manifests if m["kind"] == "ResourceQuota")
    quota["spec"]["hard"]["nvme-replicated.storageclass.storage.k8s.io/requests.storage"] = "1Gi"
    (found,) = stack_violations(manifests)
    assert "storage/nvme-replicated" in found and "allocatable 0" in found


def test_limits_and_counts_are_not_capacity() -> None:
    """limits.* (overcommitted by the limits ratio) and object counts are not checked against capacity."""
    manifests = pool_manifests("thr-ab")
    for m in manifests:
        if m["kind"] == "ResourceQuota":
            m["spec"]["hard"].update({"limits.cpu": "1000000", "pods": "1000000", "requests.storage": "100Ei"})
    assert stack_violations(manifests) == []


def test_a_quota_without_a_pool_label_is_a_violation() -> None:
    manifests = pool_manifests("thr-ab")
    quota = next(m for m in manifests if m["kind"] == "ResourceQuota")
    del quota["metadata"]["labels"][kubernetes.POOL_LABEL]
    (found,) = stack_violations(manifests)
    assert f"no known {kubernetes.POOL_LABEL} label" in found


@pytest.mark.parametrize("labels", [None, {}, {kubernetes.TENANT_LABEL: ""}, {"app.kubernetes.io/managed-by": "x"}])
def test_a_namespace_without_tenant_label_is_a_violation(labels: dict[str, str] | None) -> None:
    namespace: dict[str, Any] = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "rogue"}}
    if labels is not None:
        namespace["metadata"]["labels"] = labels
    (found, *pod_security) = namespace_violations(namespace)
    assert "rogue" in found and kubernetes.TENANT_LABEL in found
    assert len(pod_security) == 6  # enforce, audit and warn: each without a level and without a version


def test_the_system_namespace_needs_no_tenant_label() -> None:
    system = MODEL.policy.kubernetes.system_namespace
    labels = kubernetes.pod_security_labels("restricted", version="v1.30")
    assert namespace_violations({"kind": "Namespace", "metadata": {"name": system, "labels": labels}}) == []
    # It still needs its Pod Security labels: it runs the enforcer.
    assert len(namespace_violations({"kind": "Namespace", "metadata": {"name": system}})) == 6


def test_other_kinds_are_not_namespaces() -> None:
    assert namespace_violations({"kind": "ConfigMap", "metadata": {"name": "x"}}) == []


def test_the_quotas_path_comes_from_config(qcopy: QuotasCopy) -> None:
    """With a data centre of half the CPU, the example's quotas no longer fit."""
    qcopy.edit("datacentre.yaml", 'cpu: "16000"', 'cpu: "1600"')
    manifests = pool_manifests("thr-ab")
    found = stack_violations(manifests, config={"quotas": str(qcopy.root)})
    assert any("of cpu in total" in f for f in found)


def test_the_pack_wraps_the_functions() -> None:
    """``__main__.py`` (not imported: a PolicyPack starts serving) names both callbacks."""
    text = (REPO / "stacks" / "policy" / "__main__.py").read_text(encoding="utf-8")
    compile(text, "__main__.py", "exec")
    assert "dctenant_policy.validate_quotas" in text and "dctenant_policy.validate_namespace" in text
    assert "dctenant_policy.validate_isolation" in text


def isolation_violations(manifests: list[dict[str, Any]]) -> list[str]:
    import dctenant_policy

    found: list[str] = []
    args = StackValidationArgs(resources=[_resource(m) for m in manifests], config={})
    dctenant_policy.validate_isolation(args, lambda message, urn=None: found.append(message))
    return found


def without(manifests: list[dict[str, Any]], kind: str, name: str, namespace: str | None = None
            ) -> list[dict[str, Any]]:
    out = [m for m in manifests if not (m["kind"] == kind and m["metadata"]["name"] == name
                                        and m["metadata"].get("namespace") == namespace)]
    assert len(out) == len(manifests) - 1, (kind, name, namespace)
    return out


def edited(manifests: list[dict[str, Any]], kind: str, name: str, namespace: str | None,
           change: Any) -> list[dict[str, Any]]:
    out = copy.deepcopy(manifests)
    (target,) = [m for m in out if m["kind"] == kind and m["metadata"]["name"] == name
                 and m["metadata"].get("namespace") == namespace]
    change(target)
    return out


@pytest.mark.parametrize("pool", MODEL.datacentre.pool_names)
def test_the_example_keeps_its_isolation(pool: str) -> None:
    assert isolation_violations(pool_manifests(pool)) == []


@pytest.mark.parametrize(("kind", "name"), [("ResourceQuota", "dctenant-quota"), ("LimitRange", "dctenant-limits"),
                                            ("NetworkPolicy", "dctenant-isolation"),
                                            ("ConfigMap", "dctenant-bandwidth"), ("ConfigMap", "dctenant-admission")])
def test_a_deleted_protective_object_is_a_violation(kind: str, name: str) -> None:
    found = isolation_violations(without(pool_manifests("thr-ab"), kind, name, "bale-messaging"))
    assert found == [f"{kind} bale-messaging/{name} is missing: the namespace keeps running without it"]


@pytest.mark.parametrize("name", ["dctenant-pod-placement", "dctenant-protect-quotas", "dctenant-pruning"])
def test_a_deleted_admission_policy_or_binding_is_a_violation(name: str) -> None:
    for kind in ("ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"):
        found = isolation_violations(without(pool_manifests("thr-ab"), kind, name))
        assert found == [f"{kind} {name} is missing: tenant namespaces would admit what it refuses"]


def test_a_broadened_tenant_admin_role_is_a_violation() -> None:
    manifests = edited(pool_manifests("thr-ab"), "ClusterRole", "dctenant:tenant-admin", None,
                       lambda r: r["rules"].append({"apiGroups": [""], "resources": ["endpoints"],
                                                    "verbs": ["create"]}))
    assert isolation_violations(manifests) == [
        "ClusterRole dctenant:tenant-admin grants more than dctenant renders: create core/endpoints"]
    # Narrowing it is not a violation (less access is never less isolation).
    narrowed = edited(pool_manifests("thr-ab"), "ClusterRole", "dctenant:tenant-admin", None,
                      lambda r: r["rules"].pop(0))
    assert isolation_violations(narrowed) == []


def test_a_removed_quota_key_is_a_violation() -> None:
    manifests = edited(pool_manifests("thr-ab"), "ResourceQuota", "dctenant-quota", "bale-messaging",
                       lambda q: (q["spec"]["hard"].pop("pods"), q["spec"]["hard"].pop("requests.ephemeral-storage")))
    assert isolation_violations(manifests) == [
        "ResourceQuota bale-messaging/dctenant-quota lacks pods, requests.ephemeral-storage: what it does not list "
        "is unlimited"]


def test_a_quota_labelled_with_another_pool_or_tenant_is_a_violation() -> None:
    manifests = edited(pool_manifests("thr-ab"), "ResourceQuota", "dctenant-quota", "bale-messaging",
                       lambda q: q["metadata"]["labels"].update({"dctenant.io/pool": "thr-pd",
                                                                 "dctenant.io/tenant": "eitaa"}))
    assert isolation_violations(manifests) == [
        "ResourceQuota bale-messaging/dctenant-quota is labelled dctenant.io/tenant='eitaa'; quotas/ declares 'bale'",
        "ResourceQuota bale-messaging/dctenant-quota is labelled dctenant.io/pool='thr-pd'; quotas/ declares "
        "'thr-ab'"]


def test_inflated_limits_are_a_violation() -> None:
    # bale-messaging: requests.cpu 2875903m, limitsRatio cpu 2 → limits.cpu at most 5751806m (the boundary).
    at_bound = edited(pool_manifests("thr-ab"), "ResourceQuota", "dctenant-quota", "bale-messaging",
                      lambda q: q["spec"]["hard"].update({"limits.cpu": "5751806m"}))
    assert isolation_violations(at_bound) == []
    over = edited(pool_manifests("thr-ab"), "ResourceQuota", "dctenant-quota", "bale-messaging",
                  lambda q: q["spec"]["hard"].update({"limits.cpu": "5751807m", "limits.memory": "11Ti"}))
    assert isolation_violations(over) == [
        "ResourceQuota bale-messaging/dctenant-quota: limits.cpu 5751807m is above requests.cpu 2875903m × 2",
        "ResourceQuota bale-messaging/dctenant-quota: limits.memory 11Ti is above requests.memory 10470844Mi × 1"]


@pytest.mark.parametrize(("label", "value", "message"), [
    ("pod-security.kubernetes.io/enforce", "privileged",
     "Namespace bale-messaging: Pod Security enforce level is 'privileged'; tenants get restricted or baseline "
     "(privileged lets a pod take over its node)"),
    ("pod-security.kubernetes.io/warn-version", "latest",
     "Namespace bale-messaging: Pod Security warn version is 'latest'; pin it (e.g. v1.30)"),
    ("dctenant.io/tenant", "eitaa",
     "Namespace bale-messaging is labelled dctenant.io/tenant='eitaa'; quotas/ declares 'bale'"),
    ("dctenant.io/pool", "thr-pd",
     "Namespace bale-messaging is labelled dctenant.io/pool='thr-pd'; quotas/ declares 'thr-ab'"),
])
def test_namespace_labels_are_checked_against_quotas(label: str, value: str, message: str) -> None:
    (namespace,) = [m for m in pool_manifests("thr-ab") if m["kind"] == "Namespace"
                    and m["metadata"]["name"] == "bale-messaging"]
    namespace["metadata"]["labels"][label] = value
    assert namespace_violations(namespace) == [message]


def test_a_namespace_without_pod_security_labels_is_a_violation() -> None:
    (namespace,) = [m for m in pool_manifests("thr-ab") if m["kind"] == "Namespace"
                    and m["metadata"]["name"] == "bale-messaging"]
    for mode in ("enforce", "audit", "warn"):
        namespace["metadata"]["labels"].pop(f"pod-security.kubernetes.io/{mode}")
    assert len(namespace_violations(namespace)) == 3
