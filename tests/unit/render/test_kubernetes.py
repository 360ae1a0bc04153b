"""The rendered objects of the shipped example: golden files, determinism, quota math, isolation, RBAC.

Golden files live in tests/data/golden/<pool>/<file>.yaml. After an intended change of the
rendered output, regenerate them and review the diff:

    DCTENANT_UPDATE_GOLDEN=1 python -m pytest tests/unit/render/test_kubernetes.py
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import random
import re
from decimal import Decimal

import pytest

from dctenant.domain import allocations, quotas, resources
from dctenant.domain.quantities import Quantity
from dctenant.loaders import loading
from dctenant.ops import planning, rendering
from dctenant.render import enforcer, kubernetes
from tests import golden
from tests.conftest import EXAMPLE, REPO

AT = dt.date(2026, 11, 27)
GOLDEN = REPO / "tests" / "data" / "golden"
GOLDEN_FILES = ("thr-ab/_cluster.yaml", "thr-ab/bale-messaging.yaml", "isf-1/wispi-messaging.yaml",
                "isf-1/_enforcer.yaml")
DNS1123_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
SUSPENDED = ("chapar", "gap", "wispi")  # revoked, expired beyond grace, suspended on 2026-11-27
Rendered = dict[str, tuple[kubernetes.Manifest, ...]]


@pytest.fixture(scope="module")
def model() -> quotas.Quotas:
    return loading.load(EXAMPLE)


@pytest.fixture(scope="module")
def allocation(model: quotas.Quotas) -> allocations.Allocation:
    return planning.allocate(model, at=AT)


@pytest.fixture(scope="module")
def rendered(model: quotas.Quotas, allocation: allocations.Allocation) -> Rendered:
    return kubernetes.render(model, allocation)


def namespaced(rendered: Rendered, kind: str, name: str | None = None) -> dict[str, kubernetes.Manifest]:
    """Objects of one kind (and name, where a namespace holds several) by their namespace, across all pools."""
    name = name or {"ConfigMap": kubernetes.BANDWIDTH, "RoleBinding": kubernetes.ROLE_BINDING}.get(kind)
    return {o["metadata"]["namespace"]: o for objs in rendered.values() for o in objs
            if o["kind"] == kind and "namespace" in o["metadata"] and name in (None, o["metadata"]["name"])}


# Object counts per tier, as written in quotas/policy.yaml (startups may not create LoadBalancers).
COUNTS = {
    "national": {"pods": "5000", "services": "200", "services.loadbalancers": "4", "services.nodeports": "0",
                 "secrets": "1000", "configmaps": "1000", "persistentvolumeclaims": "500"},
    "standard": {"pods": "2000", "services": "100", "services.loadbalancers": "2", "services.nodeports": "0",
                 "secrets": "500", "configmaps": "500", "persistentvolumeclaims": "200"},
    "startup": {"pods": "500", "services": "50", "services.loadbalancers": "0", "services.nodeports": "0",
                "secrets": "200", "configmaps": "200", "persistentvolumeclaims": "50"},
}
EPHEMERAL = {"national": "500Gi", "standard": "200Gi", "startup": "50Gi"}


def amount(text: str) -> Decimal:
    return Quantity.parse(text)


@pytest.mark.parametrize("rel", GOLDEN_FILES)
def test_golden_files(model: quotas.Quotas, allocation: allocations.Allocation, rel: str) -> None:
    text = kubernetes.to_yaml(rendering.files(model, allocation)[rel])
    path = GOLDEN / rel
    golden.check(path, text)


def all_yaml(rendered: Rendered) -> str:
    return "".join(kubernetes.to_yaml(objs) for objs in rendered.values())


def test_rendering_twice_gives_the_same_bytes(model: quotas.Quotas, allocation: allocations.Allocation,
                                              rendered: Rendered) -> None:
    assert all_yaml(kubernetes.render(model, allocation)) == all_yaml(rendered)
    assert "&id" not in all_yaml(rendered)  # no YAML anchors: every object stands alone


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_input_order_does_not_matter(model: quotas.Quotas, rendered: Rendered, seed: int) -> None:
    rnd = random.Random(seed)
    tenants = [dataclasses.replace(t, namespaces=tuple(rnd.sample(t.namespaces, len(t.namespaces))),
                                   owners=dataclasses.replace(t.owners, groups=tuple(reversed(t.owners.groups)),
                                                              users=tuple(reversed(t.owners.users))))
               for t in model.tenants]
    rnd.shuffle(tenants)
    classes = list(model.datacentre.storage_classes)
    rnd.shuffle(classes)
    shuffled = dataclasses.replace(model, tenants=tuple(tenants), datacentre=dataclasses.replace(
        model.datacentre, storage_classes=tuple(classes)))
    assert all_yaml(kubernetes.render(shuffled, planning.allocate(shuffled, at=AT))) == all_yaml(rendered)


def test_order_cluster_objects_then_namespaces_by_name(rendered: Rendered) -> None:
    for pool, objs in rendered.items():
        kinds = [o["kind"] for o in objs[:16]]
        # Two policies of admission (bandwidth, protection) with their bindings, then the five tenant guards:
        # every policy before any binding of it.
        assert kinds == ["Namespace", "ClusterRole", "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicy",
                         "ValidatingAdmissionPolicyBinding", "ValidatingAdmissionPolicyBinding",
                         *["ValidatingAdmissionPolicy"] * 5, *["ValidatingAdmissionPolicyBinding"] * 5], pool
        assert all("namespace" not in o["metadata"] for o in objs[:16])
        # The in-cluster enforcer comes last, so it starts only once every quota it may lower exists.
        enforcer_objects = [o for o in objs if o["metadata"]["labels"].get(enforcer.COMPONENT_LABEL) == "enforcer"]
        assert [o["kind"] for o in enforcer_objects] == [
            "ServiceAccount", "ClusterRole", "ConfigMap", "ConfigMap", "PersistentVolumeClaim", "CronJob"]
        assert list(objs[-len(enforcer_objects):]) == enforcer_objects
        rest = objs[16:-len(enforcer_objects)]
        starts = [i for i, o in enumerate(rest) if o["kind"] == "Namespace"]
        names = [rest[i]["metadata"]["name"] for i in starts]
        assert names == sorted(names) and starts[0] == 0
        for i, start in enumerate(starts):
            group = rest[start:starts[i + 1] if i + 1 < len(starts) else len(rest)]
            assert [o["kind"] for o in group] == ["Namespace", "ResourceQuota", "LimitRange", "ConfigMap", "ConfigMap",
                                                  "NetworkPolicy", "RoleBinding", "RoleBinding"]
            assert all(o["metadata"]["namespace"] == group[0]["metadata"]["name"] for o in group[1:])


def test_every_object_is_labelled_and_named_for_kubernetes(rendered: Rendered) -> None:
    for pool, objs in rendered.items():
        for o in objs:
            labels = o["metadata"]["labels"]
            assert labels["app.kubernetes.io/managed-by"] == "dctenant"
            assert labels["dctenant.io/pool"] == pool
            name = o["metadata"]["name"]
            if o["kind"] in ("ClusterRole", "ClusterRoleBinding"):
                # A path segment: RBAC's system-style name.
                assert name in ("dctenant:tenant-admin", "dctenant:enforcer"), name
            else:
                assert DNS1123_LABEL.fullmatch(name) and len(name) <= 63, name
            for value in labels.values():
                assert re.fullmatch(r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?", value) and len(value) <= 63


def test_namespaces_carry_tenant_pool_tier_and_licence(model: quotas.Quotas, rendered: Rendered) -> None:
    namespaces = {o["metadata"]["name"]: o for objs in rendered.values() for o in objs if o["kind"] == "Namespace"}
    declared = {ns.name: t for t in model.tenants for ns in t.namespaces}
    assert set(namespaces) == {*declared, "dctenant-system"}
    for name, tenant in declared.items():
        meta = namespaces[name]["metadata"]
        assert meta["labels"]["dctenant.io/tenant"] == tenant.id
        assert meta["labels"]["dctenant.io/tier"] == tenant.tier
        assert meta["annotations"] == {
            "dctenant.io/licence-number": tenant.licence.number,
            "dctenant.io/licence-expires": tenant.licence.expires.isoformat(),
            "dctenant.io/display-name-en": tenant.display_name.en,
            "dctenant.io/display-name-fa": tenant.display_name.fa,
        }
    assert "dctenant.io/tenant" not in namespaces["dctenant-system"]["metadata"]["labels"]


def test_quota_uses_granted_values_and_the_limits_ratio(model: quotas.Quotas, allocation: allocations.Allocation,
                                                        rendered: Rendered) -> None:
    quotas_by_ns = namespaced(rendered, "ResourceQuota")
    scaled = [g for g in allocation.namespaces if g.scaled and allocation.tenants[g.tenant].state != "suspended"]
    assert {g.namespace for g in scaled} == {"bale-messaging", "bale-media", "navak-ml"}
    for grant in allocation.namespaces:
        if allocation.tenants[grant.tenant].state == "suspended":
            continue
        hard = quotas_by_ns[grant.namespace]["spec"]["hard"]
        granted = grant.granted
        assert amount(hard["requests.cpu"]) == granted["cpu"]
        assert amount(hard["limits.cpu"]) == 2 * granted["cpu"]
        assert amount(hard["requests.memory"]) == amount(hard["limits.memory"]) == granted["memory"]
        assert amount(hard["requests.nvidia.com/gpu"]) == granted.get(resources.GPU, 0)
        tier = next(t.tier for t in model.tenants if t.id == grant.tenant)
        assert {k: hard[k] for k in COUNTS[tier]} == COUNTS[tier], grant.namespace
        assert hard["requests.ephemeral-storage"] == hard["limits.ephemeral-storage"] == EPHEMERAL[tier]
    bale = quotas_by_ns["bale-messaging"]["spec"]["hard"]
    assert bale["requests.cpu"] == "2875903m" and bale["limits.cpu"] == "5751806m"  # scaled from 3000


def test_quota_has_every_storage_class_with_zero_where_none(model: quotas.Quotas, allocation: allocations.Allocation,
                                                            rendered: Rendered) -> None:
    classes = [c.name for c in model.datacentre.storage_classes]
    quotas_by_ns = namespaced(rendered, "ResourceQuota")
    for grant in allocation.namespaces:
        hard = quotas_by_ns[grant.namespace]["spec"]["hard"]
        per_class = {c: amount(hard[f"{c}.storageclass.storage.k8s.io/requests.storage"]) for c in classes}
        for c in classes:
            assert per_class[c] == grant.granted.get(resources.storage(c), 0) * (
                allocation.tenants[grant.tenant].state != "suspended")
        assert amount(hard["requests.storage"]) == sum(per_class.values())
    bale_push = quotas_by_ns["bale-push"]["spec"]["hard"]
    assert bale_push["ssd-standard.storageclass.storage.k8s.io/requests.storage"] == "0"
    assert bale_push["hdd-archive.storageclass.storage.k8s.io/requests.storage"] == "0"
    assert bale_push["requests.storage"] == bale_push["nvme-replicated.storageclass.storage.k8s.io/requests.storage"]


def test_suspended_tenants_keep_their_namespaces_with_zero_quota(allocation: allocations.Allocation,
                                                                 rendered: Rendered) -> None:
    assert {t for t, a in allocation.tenants.items() if a.state == "suspended"} == set(SUSPENDED)
    quotas_by_ns = namespaced(rendered, "ResourceQuota")
    bandwidth = namespaced(rendered, "ConfigMap")
    limits = namespaced(rendered, "LimitRange")
    suspended = [g.namespace for g in allocation.namespaces if g.tenant in SUSPENDED]
    assert len(suspended) == 4
    for ns in suspended:
        hard = quotas_by_ns[ns]["spec"]["hard"]
        assert set(hard.values()) == {"0"} and hard["pods"] == "0"
        assert bandwidth[ns]["data"] == {"maxEgress": "0", "maxIngress": "0"}
        for limit in limits[ns]["spec"]["limits"]:
            assert set(limit["max"].values()) == {"0"}


def test_limit_range_defaults_and_per_pod_maximum(rendered: Rendered) -> None:
    limits = namespaced(rendered, "LimitRange")["bale-messaging"]["spec"]["limits"]
    # Half of 2875.903 cores (floored) and of 10470844Mi; half of the national tier's 500Gi ephemeral storage.
    top = {"cpu": "1437951m", "memory": "5235422Mi", "ephemeral-storage": "250Gi"}
    assert limits == [
        {"type": "Container", "default": {"cpu": "500m", "memory": "512Mi", "ephemeral-storage": "1Gi"},
         "defaultRequest": {"cpu": "100m", "memory": "128Mi", "ephemeral-storage": "256Mi"},
         "max": top, "min": {"cpu": "10m", "memory": "16Mi"}},
        {"type": "Pod", "max": top},
    ]


def test_limit_range_defaults_are_lowered_to_a_small_maximum(model: quotas.Quotas,
                                                             allocation: allocations.Allocation) -> None:
    policy = dataclasses.replace(model.policy.kubernetes, max_per_pod=Decimal("0.00001"))
    grant = next(g for g in allocation.namespaces if g.namespace == "peyk-bots")  # 12.5 cores, 64Gi
    (container, pod) = kubernetes.limit_ranges(grant.granted, policy=policy)
    # 64Gi × 0.00001, floored to a byte; no ephemeral storage given, so its maximum is 0.
    assert container["max"] == {"cpu": "0", "memory": "687194", "ephemeral-storage": "0"}
    assert container["default"] == container["defaultRequest"] == container["max"] == pod["max"]
    # The minimum is lowered with the defaults, or the API server would refuse min > defaultRequest.
    assert container["min"] == {"cpu": "0", "memory": "687194"}


def test_bandwidth_params_are_the_per_pod_share_in_bits_per_second(rendered: Rendered) -> None:
    params = namespaced(rendered, "ConfigMap")
    assert params["bale-messaging"]["data"] == {"maxEgress": "86543M", "maxIngress": "56646500k"}
    assert params["peyk-bots"]["data"] == {"maxEgress": "250M", "maxIngress": "100M"}


def test_network_policy_admits_only_the_tenant_and_monitoring(allocation: allocations.Allocation,
                                                              rendered: Rendered) -> None:
    policies = namespaced(rendered, "NetworkPolicy")
    for grant in allocation.namespaces:
        spec = policies[grant.namespace]["spec"]
        own = {"namespaceSelector": {"matchLabels": {"dctenant.io/tenant": grant.tenant}}}
        assert spec["podSelector"] == {} and spec["policyTypes"] == ["Ingress", "Egress"]
        assert spec["ingress"] == [{"from": [
            own, {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}]}]
        dns, tenant, internet = spec["egress"]
        assert {p["port"] for p in dns["ports"]} == {53} and {p["protocol"] for p in dns["ports"]} == {"UDP", "TCP"}
        assert dns["to"][0]["podSelector"] == {"matchLabels": {"k8s-app": "kube-dns"}}
        assert tenant == {"to": [own]}
        assert internet == {"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}, {"ipBlock": {"cidr": "::/0"}}]}


def test_role_binding_subjects_are_the_owners(model: quotas.Quotas, rendered: Rendered) -> None:
    bindings = namespaced(rendered, "RoleBinding")
    for tenant in model.tenants:
        for ns in tenant.namespaces:
            binding = bindings[ns.name]
            assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                                          "name": "dctenant:tenant-admin"}
            subjects = {(s["kind"], s["name"]) for s in binding["subjects"]}
            assert subjects == {("Group", g) for g in tenant.owners.groups} | {("User", u) for u in tenant.owners.users}
            assert all(s["apiGroup"] == "rbac.authorization.k8s.io" for s in binding["subjects"])


def test_tenant_admin_cannot_edit_its_limits(rendered: Rendered) -> None:
    role = next(o for o in rendered["thr-ab"] if o["kind"] == "ClusterRole")
    writes = {"create", "update", "patch", "delete", "deletecollection"}

    def verbs(group: str, resource: str) -> set[str]:
        return {v for r in role["rules"] if group in r["apiGroups"] and resource in r["resources"] for v in r["verbs"]}

    for group, resource in (("", "resourcequotas"), ("", "limitranges"), ("networking.k8s.io", "networkpolicies"),
                            ("", "namespaces")):
        assert verbs(group, resource) == {"get", "list", "watch"}, resource
    assert not any(r["apiGroups"] == ["rbac.authorization.k8s.io"] for r in role["rules"])
    for group, resource in (("apps", "deployments"), ("", "pods"), ("", "services"), ("batch", "cronjobs"),
                            ("", "persistentvolumeclaims"), ("networking.k8s.io", "ingresses")):
        assert writes <= verbs(group, resource), resource
