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
    (found,) = namespace_violations(namespace)
    assert "rogue" in found and kubernetes.TENANT_LABEL in found


def test_the_system_namespace_needs_no_tenant_label() -> None:
    system = MODEL.policy.kubernetes.system_namespace
    assert namespace_violations({"kind": "Namespace", "metadata": {"name": system}}) == []


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
