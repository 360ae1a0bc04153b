"""The in-cluster enforcer: rendered only when configured, runs the reviewed quotas, may do only what acting does.

The RBAC test replays every action of ``ops.acting`` against a cluster that records its requests
and checks each against the rendered ClusterRole, and that no granted rule goes unused: least
privilege derived from the code, not from a list kept by hand.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import pathlib
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import pytest
import yaml

from dctenant.clients import kube
from dctenant.domain import policies, quotas, resources, usage
from dctenant.errors import UserError
from dctenant.loaders import loading
from dctenant.ops import acting, planning
from dctenant.render import enforcer, kubernetes
from tests.conftest import EXAMPLE

AT = dt.date(2026, 11, 27)
MODEL = loading.load(EXAMPLE)
URL = "http://prometheus-operated.monitoring.svc:9090"


def render(settings: policies.Enforcer, *, sources: Mapping[str, str] | None = None) -> tuple[dict[str, Any], ...]:
    policy = dataclasses.replace(policies.Namespaces(), enforcer=settings)
    return enforcer.objects(policy=policy, pool="thr-ab", context="ndc-thr-ab", labels=kubernetes.MANAGED_BY,
                            sources=MODEL.sources if sources is None else sources,
                            quota=kubernetes.QUOTA, bandwidth=kubernetes.BANDWIDTH)


def by_kind(objs: tuple[dict[str, Any], ...]) -> dict[str, dict[str, Any]]:
    return {o["kind"] if o["kind"] != "ConfigMap" else o["metadata"]["name"]: o for o in objs}


def container(objs: tuple[dict[str, Any], ...]) -> dict[str, Any]:
    job = by_kind(objs)["CronJob"]
    (found,) = job["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    return dict(found)


def test_nothing_without_a_prometheus_url() -> None:
    assert render(policies.Enforcer()) == ()
    model = dataclasses.replace(MODEL, policy=dataclasses.replace(
        MODEL.policy, kubernetes=dataclasses.replace(MODEL.policy.kubernetes, enforcer=policies.Enforcer())))
    rendered = kubernetes.render_pool(model, planning.allocate(model, at=AT), pool="thr-ab")
    assert not [o for o in rendered if o["metadata"]["labels"].get(enforcer.COMPONENT_LABEL)]
    assert not [o for o in rendered if o["kind"] in ("CronJob", "ServiceAccount", "PersistentVolumeClaim")]


def test_the_example_pool_gets_the_enforcer() -> None:
    objs = kubernetes.render_pool(MODEL, planning.allocate(MODEL, at=AT), pool="isf-1")
    mine = by_kind(tuple(o for o in objs if o["metadata"]["labels"].get(enforcer.COMPONENT_LABEL) == "enforcer"))
    system = MODEL.policy.kubernetes.system_namespace
    assert set(mine) == {"ServiceAccount", "ClusterRole", "dctenant-quotas",
                         "dctenant-enforcer", "PersistentVolumeClaim", "CronJob"}
    for name, obj in mine.items():
        assert obj["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "dctenant", name
        assert obj["metadata"]["labels"]["dctenant.io/pool"] == "isf-1", name
        assert obj["metadata"].get("namespace", system) == system, name
    # The account is the one the protect-quotas admission policy trusts.
    assert mine["ServiceAccount"]["metadata"]["name"] == "dctenant"
    protect = next(o for o in objs if o["metadata"]["name"] == "dctenant-protect-quotas"
                   and o["kind"] == "ValidatingAdmissionPolicy")
    assert f"system:serviceaccount:{system}:dctenant" in yaml.safe_dump(protect)
    # The role is bound only in tenant namespaces (label-selected by dctenant: every namespace it renders
    # with a tenant label), never cluster-wide: the enforcer cannot write in kube-system or its own namespace.
    assert not any(o["kind"] == "ClusterRoleBinding" for o in objs)
    bindings = [o for o in objs if o["kind"] == "RoleBinding" and o["metadata"]["name"] == "dctenant-enforcer"]
    tenant_namespaces = [o["metadata"]["name"] for o in objs
                         if o["kind"] == "Namespace" and "dctenant.io/tenant" in o["metadata"]["labels"]]
    assert sorted(b["metadata"]["namespace"] for b in bindings) == sorted(tenant_namespaces) and tenant_namespaces
    for binding in bindings:
        assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "dctenant", "namespace": system}]
        assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                                      "name": mine["ClusterRole"]["metadata"]["name"]}
    assert mine["CronJob"]["spec"]["jobTemplate"]["spec"]["template"]["spec"]["serviceAccountName"] == "dctenant"


def test_cron_job_command_schedule_and_hardening() -> None:
    objs = render(policies.Enforcer(prometheus_url=URL, schedule="*/10 * * * *", image="registry.local/dctenant:1"))
    job = by_kind(objs)["CronJob"]
    assert job["spec"]["concurrencyPolicy"] == "Forbid"
    assert job["spec"]["schedule"] == "*/10 * * * *"
    pod = job["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert pod["restartPolicy"] == "Never"
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    main = container(objs)
    assert main["image"] == "registry.local/dctenant:1"
    assert main["securityContext"] == {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]},
                                       "readOnlyRootFilesystem": True, "runAsNonRoot": True}
    assert set(main["resources"]) == {"requests", "limits"}
    assert main["command"] == [
        "dctenant", "enforce", "/quotas", "--pool", "thr-ab", "--once", "--act", "--prometheus", URL,
        "--kubeconfig", "/etc/dctenant/kubeconfig", "--state", "/state/enforcer.json",
        "--ledger", "sqlite:////state/ledger.db", "--output", "json"]
    assert "envFrom" not in main
    mounts = {m["name"]: m for m in main["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert set(mounts) == set(volumes) == {"quotas", "settings", "state", "tmp"}
    assert volumes["state"]["persistentVolumeClaim"]["claimName"] == by_kind(objs)["PersistentVolumeClaim"][
        "metadata"]["name"]
    assert mounts["quotas"]["readOnly"] and mounts["settings"]["readOnly"]
    claim = by_kind(objs)["PersistentVolumeClaim"]
    assert claim["spec"] == {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}


def test_ledger_secret_storage_class_and_environment_secret() -> None:
    objs = render(policies.Enforcer(prometheus_url=URL, ledger_secret=policies.SecretRef(name="ledger", key="url"),
                                    storage_class="ssd-standard", state_size=Decimal(5 * 2**30),
                                    environment_secret="dctenant-enforcer"))
    main = container(objs)
    assert "--ledger" not in main["command"]
    assert {"name": "DCTENANT_LEDGER", "valueFrom": {"secretKeyRef": {"name": "ledger", "key": "url"}}} in main["env"]
    assert main["envFrom"] == [{"secretRef": {"name": "dctenant-enforcer", "optional": True}}]
    claim = by_kind(objs)["PersistentVolumeClaim"]["spec"]
    assert claim["storageClassName"] == "ssd-standard" and claim["resources"]["requests"]["storage"] == "5Gi"
    explicit = container(render(policies.Enforcer(prometheus_url=URL, ledger="postgresql://db.local/ledger")))
    assert explicit["command"][explicit["command"].index("--ledger") + 1] == "postgresql://db.local/ledger"


def test_the_mounted_quotas_are_the_files_as_written(tmp_path: pathlib.Path) -> None:
    """Lay the ConfigMap out as the kubelet does (its ``items``) and load it: the same quotas, byte for byte."""
    objs = render(policies.Enforcer(prometheus_url=URL))
    data = by_kind(objs)["dctenant-quotas"]["data"]
    pod = by_kind(objs)["CronJob"]["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    (volume,) = [v for v in pod["volumes"] if v["name"] == "quotas"]
    assert volume["configMap"]["name"] == "dctenant-quotas"
    items = volume["configMap"]["items"]
    assert {i["key"] for i in items} == set(data)
    for item in items:
        target = tmp_path / item["path"]
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(data[item["key"]], encoding="utf-8")
    on_disk = sorted(p.relative_to(EXAMPLE).as_posix() for p in EXAMPLE.rglob("*.yaml"))
    assert sorted(i["path"] for i in items) == on_disk
    for rel in on_disk:
        assert (tmp_path / rel).read_bytes() == (EXAMPLE / rel).read_bytes(), rel
    mounted = loading.load(tmp_path)
    assert mounted == MODEL


def test_quotas_over_one_mebibyte_are_refused() -> None:
    big = {"datacentre.yaml": "x", "policy.yaml": "y", "tenants/huge.yaml": "#" * enforcer.CONFIG_MAP_LIMIT}
    with pytest.raises(UserError, match="over the 1 MiB limit of the dctenant-quotas ConfigMap"):
        render(policies.Enforcer(prometheus_url=URL), sources=big)
    # Just under the limit is fine (keys count too).
    room = enforcer.CONFIG_MAP_LIMIT - sum(len(k) + 1 for k in ("datacentre.yaml", "policy.yaml")) - len(
        "tenants.huge.yaml")
    fits = {"datacentre.yaml": "x", "policy.yaml": "y", "tenants/huge.yaml": "#" * room}
    assert render(policies.Enforcer(prometheus_url=URL), sources=fits)


def test_files_that_cannot_be_keys_and_models_built_in_code_are_refused() -> None:
    with pytest.raises(UserError, match="cannot be a key"):
        render(policies.Enforcer(prometheus_url=URL), sources={"tenants/a b.yaml": "x"})
    with pytest.raises(UserError, match="quotas files as loaded"):
        render(policies.Enforcer(prometheus_url=URL), sources={})


def test_the_kubeconfig_reaches_the_pool_context_with_the_pod_token(tmp_path: pathlib.Path) -> None:
    objs = render(policies.Enforcer(prometheus_url=URL))
    text = by_kind(objs)["dctenant-enforcer"]["data"]["kubeconfig"]
    config = yaml.safe_load(text)
    assert config["current-context"] == "ndc-thr-ab"
    # Point the pod's token and CA at temporary files, and load it with the real client.
    (tmp_path / "token").write_text("pod-token", encoding="utf-8")
    (tmp_path / "ca.crt").write_text("", encoding="utf-8")
    local = text.replace(enforcer.TOKEN, str(tmp_path / "token")).replace(enforcer.CA, str(tmp_path / "ca.crt"))
    (tmp_path / "kubeconfig").write_text(local, encoding="utf-8")
    cluster = kube.connect(context="ndc-thr-ab", kubeconfig=str(tmp_path / "kubeconfig"))
    try:
        assert cluster.server == "https://kubernetes.default.svc"
        assert cluster._api.configuration.api_key == {"BearerToken": "Bearer pod-token"}
        assert cluster._api.configuration.ssl_ca_cert == str(tmp_path / "ca.crt")
    finally:
        cluster.close()


class Recorder(kube.Cluster):
    """A cluster that answers enforcement's reads with one of each object and records every request."""

    def __init__(self) -> None:
        super().__init__(api=None, context="test", server="test")
        self.seen: list[tuple[str, str]] = []

    def call(self, method: str, path: str, *, query: Mapping[str, str] | None = None,
             body: Mapping[str, Any] | None = None, content_type: str = "application/json") -> dict[str, Any]:
        self.seen.append((method, path))
        if method != "GET":
            return {}
        if path.endswith("/resourcequotas/dctenant-quota"):
            return {"spec": {"hard": {"requests.cpu": "10", "limits.cpu": "20", "pods": "100"}},
                    "status": {"used": {"requests.cpu": "4", "limits.cpu": "8"}}}
        if path.endswith("/configmaps/dctenant-bandwidth"):
            return {"data": {"maxEgress": "10G", "maxIngress": "10G"}}
        return {"items": [{"metadata": {"name": "web"}, "spec": {"replicas": 4, "template": {"metadata": {}}}}]}


def request_verb(method: str, path: str) -> tuple[str, str, str, str | None]:
    """(API group, resource, verb, name) of a request path, as the RBAC authorizer sees it."""
    match = re.fullmatch(
        r"/(?:api/v1|apis/(?P<group>[^/]+)/[^/]+)/namespaces/[^/]+/(?P<res>[^/]+)(?:/(?P<name>[^/]+))?", path)
    assert match, path
    name = match["name"]
    verb = {"GET": "get" if name else "list", "PATCH": "patch", "POST": "create", "PUT": "update",
            "DELETE": "delete"}[method]
    return match["group"] or "", match["res"], verb, name


def allowed(rules: list[dict[str, Any]], group: str, resource: str, verb: str, name: str | None) -> int | None:
    for index, rule in enumerate(rules):
        if group in rule["apiGroups"] and resource in rule["resources"] and verb in rule["verbs"] and (
                "resourceNames" not in rule or name in rule["resourceNames"]):
            return index
    return None


def test_the_cluster_role_grants_exactly_what_acting_calls() -> None:
    role = by_kind(render(policies.Enforcer(prometheus_url=URL)))["ClusterRole"]
    rules = role["rules"]
    cluster = Recorder()
    replaced: dict[str, Any] = {}

    def decide(resource: str, action: str) -> usage.Decision:
        return usage.Decision(tenant="bale", pool="thr-ab", resource=resource, state=usage.State.BREACH,
                              usage=Decimal(12 * 10**9), envelope=Decimal(10 * 10**9), action=action, reason="test")

    steps = [(resources.EGRESS, "notify"), (resources.EGRESS, "throttle"), (resources.CPU, "throttle"),
             (resources.CPU, "scale-down"), (resources.CPU, "suspend"), (resources.CPU, "undo-suspend"),
             (resources.CPU, "undo-scale-down"), (resources.CPU, "undo-throttle"),
             (resources.EGRESS, "undo-throttle")]
    for resource, action in steps:
        acting.perform(cluster, decide(resource, action), namespace="bale-media", replaced=replaced, held=())
    assert not replaced  # every action was undone: the replay went through every code path
    used = set()
    for method, path in cluster.seen:
        group, resource, verb, name = request_verb(method, path)
        index = allowed(rules, group, resource, verb, name)
        assert index is not None, f"{method} {path} is not granted by {role['metadata']['name']}"
        used.add((index, verb, resource))
    granted = {(i, verb, res) for i, rule in enumerate(rules) for verb in rule["verbs"] for res in rule["resources"]}
    assert used == granted, f"granted but never used: {sorted(granted - used)}"


def test_an_escalation_would_be_caught() -> None:
    """A control for the test above: a request outside the role (delete a quota, read a secret) is refused."""
    rules = by_kind(render(policies.Enforcer(prometheus_url=URL)))["ClusterRole"]["rules"]
    assert allowed(rules, *request_verb("DELETE", "/api/v1/namespaces/a/resourcequotas/dctenant-quota")) is None
    assert allowed(rules, *request_verb("GET", "/api/v1/namespaces/a/configmaps/other")) is None
    assert allowed(rules, *request_verb("GET", "/api/v1/namespaces/a/secrets/x")) is None
    assert allowed(rules, *request_verb("PATCH", "/apis/apps/v1/namespaces/a/daemonsets/x")) is None


def test_rendering_is_deterministic_for_a_shuffled_model() -> None:
    shuffled = quotas.Quotas(datacentre=MODEL.datacentre, policy=MODEL.policy, tenants=MODEL.tenants[::-1],
                             sources=dict(reversed(list(MODEL.sources.items()))))
    allocation = planning.allocate(MODEL, at=AT)
    first = kubernetes.to_yaml(kubernetes.render_pool(MODEL, allocation, pool="thr-ab"))
    assert kubernetes.to_yaml(kubernetes.render_pool(shuffled, allocation, pool="thr-ab")) == first
