"""Every object rendered for the whole example validates against Kubernetes' OpenAPI schemas.

``kubernetes-validate`` bundles the official schemas; ``strict`` rejects unknown fields, which is
what catches a misspelt field that the API server would silently drop (or, with server-side apply's
field validation, reject). Checked for 1.30, the oldest release with ValidatingAdmissionPolicy v1,
and for the newest release the installed package ships.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
from decimal import Decimal

import kubernetes_validate
import pytest

from dctenant.domain import policies
from dctenant.loaders import loading
from dctenant.ops import planning
from dctenant.render import enforcer, kubernetes
from tests.conftest import EXAMPLE

NEWEST = ".".join(kubernetes_validate.latest_version().split(".")[:2])
VERSIONS = ("1.30", NEWEST)


@pytest.fixture(scope="module")
def manifests() -> list[kubernetes.Manifest]:
    model = loading.load(EXAMPLE)
    rendered = kubernetes.render(model, planning.allocate(model, at=dt.date(2026, 11, 27)))
    return [o for objs in rendered.values() for o in objs]


@pytest.mark.parametrize("version", VERSIONS)
def test_every_rendered_object_validates(manifests: list[kubernetes.Manifest], version: str) -> None:
    # Per pool: 16 cluster-wide objects (system namespace, tenant-admin role, 7 admission policies and
    # their 7 bindings) and the in-cluster enforcer's 6; per tenant namespace (26 in the example): the
    # Namespace, quota, limits, two ConfigMaps, NetworkPolicy and two RoleBindings (owners, enforcer).
    assert len(manifests) == 4 * 16 + 4 * 6 + 26 * 8
    assert {o["kind"] for o in manifests} == {
        "Namespace", "ResourceQuota", "LimitRange", "ConfigMap", "NetworkPolicy", "RoleBinding", "ClusterRole",
        "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding", "ServiceAccount",
        "PersistentVolumeClaim", "CronJob"}
    for obj in manifests:
        kubernetes_validate.validate(obj, version, strict=True)


@pytest.mark.parametrize("version", VERSIONS)
def test_the_validator_does_catch_a_wrong_field(manifests: list[kubernetes.Manifest], version: str) -> None:
    """A control: the schemas really are strict for the kinds rendered (here a misspelt CEL field)."""
    policy = next(o for o in manifests if o["kind"] == "ValidatingAdmissionPolicy")
    broken = {**policy, "spec": {**policy["spec"], "validation": policy["spec"]["validations"]}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, version, strict=True)


def test_newest_schema_version_is_recent() -> None:
    assert tuple(int(x) for x in NEWEST.split(".")) >= (1, 30)


@pytest.mark.parametrize("version", VERSIONS)
def test_every_enforcer_variant_validates(version: str) -> None:
    """The settings the example does not use: a ledger Secret, a storage class, no environment Secret."""
    settings = policies.Enforcer(prometheus_url="https://thanos.example:10902", ledger_secret=policies.SecretRef(
        name="dctenant-ledger", key="url"), storage_class="ssd-standard", state_size=Decimal("1.5") * 2**30)
    objs = enforcer.objects(policy=dataclasses.replace(policies.Namespaces(), enforcer=settings), pool="p",
                            context="c", labels=kubernetes.MANAGED_BY, sources={"policy.yaml": "x"},
                            quota=kubernetes.QUOTA, bandwidth=kubernetes.BANDWIDTH)
    assert len(objs) == 6
    for obj in objs:
        kubernetes_validate.validate(obj, version, strict=True)


@pytest.mark.parametrize("version", VERSIONS)
def test_the_validator_does_catch_a_wrong_cron_job_field(manifests: list[kubernetes.Manifest], version: str) -> None:
    """A control for the enforcer's kinds: a misspelt security field deep in the CronJob is an error."""
    job = next(o for o in manifests if o["kind"] == "CronJob")
    kubernetes_validate.validate(job, version, strict=True)
    broken = copy.deepcopy(job)
    broken["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["securityContext"]["runAsNonroot"] = True
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, version, strict=True)
