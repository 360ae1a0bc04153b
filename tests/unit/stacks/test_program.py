"""The stack program under Pulumi's mocks: each pool's stack declares exactly what ``dctenant render`` writes.

For every pool of the shipped example, with the shipped ``Pulumi.<pool>.yaml``: the same objects
(kind, namespace, name) as the rendered files, each with inputs equal to its rendered manifest,
all through the pool's one provider, namespaces retained on delete, ``protect`` from the config,
and the stack outputs. ``test_differences_are_reported`` proves the comparison can fail.
"""

from __future__ import annotations

import copy
import datetime as dt
import pathlib
import subprocess
import sys
from decimal import Decimal
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from dctenant.cli.main import cli
from dctenant.loaders import loading
from dctenant.ops import planning, rendering, stacking
from dctenant.render import kubernetes, prometheus_rules
from tests.conftest import EXAMPLE, REPO, QuotasCopy
from tests.unit.stacks import harness

AT = "2026-11-27"
MODEL = loading.load(EXAMPLE)
POOLS = MODEL.datacentre.pool_names
NS = harness.PROJECT

DASHBOARD = "dctenant-dashboard-"


def config(pool: str, **overrides: str) -> dict[str, str]:
    settings = {**harness.stack_config(pool), f"{NS}:at": AT}
    settings.update({f"{NS}:{k}": v for k, v in overrides.items()})
    return settings


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    """``dctenant render`` of the example, written once for the module."""
    out = tmp_path_factory.mktemp("render")
    result = CliRunner().invoke(cli, ["render", str(EXAMPLE), "--at", AT, "--out", str(out)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture(scope="module")
def runs() -> dict[str, harness.Run]:
    """Each pool's stack, run once under mocks with its shipped settings (the runtime is reset after)."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        harness.clean_environment(monkeypatch)
        try:
            return {pool: harness.run(pool, config(pool)) for pool in POOLS}
        finally:
            harness.reset_runtime()


def test_one_stack_file_per_pool_with_its_context() -> None:
    files = {p.name.removeprefix("Pulumi.").removesuffix(".yaml")
             for p in harness.PROJECT_DIR.glob("Pulumi.*.yaml")}
    assert files == set(POOLS)
    identifiers = set()
    for pool in POOLS:
        settings = harness.stack_config(pool)
        assert settings[f"{NS}:context"] == MODEL.datacentre.pool(pool).context
        assert pathlib.Path(harness.PROJECT_DIR, settings[f"{NS}:quotas"]).resolve() == EXAMPLE.resolve()
        assert settings[f"{NS}:protect"] == "true"  # the example's pools are all production
        identifiers.add(settings[f"{NS}:clusterIdentifier"])
    assert len(identifiers) == len(POOLS)


@pytest.mark.parametrize("pool", POOLS)
def test_objects_equal_the_rendered_files(pool: str, runs: dict[str, harness.Run], rendered: pathlib.Path) -> None:
    declared = runs[pool].objects()
    written = harness.rendered_files(rendered, pool)
    assert written, "render wrote nothing for the pool"
    assert set(declared) == {harness.manifest_key(m) for m in written}
    assert harness.differences(declared, written) == []


@pytest.mark.parametrize("pool", POOLS)
def test_objects_equal_render_pool(pool: str, runs: dict[str, harness.Run]) -> None:
    allocation = planning.allocate(MODEL, at=dt.date.fromisoformat(AT))
    manifests = kubernetes.render_pool(MODEL, allocation, pool=pool)
    rules = rendering.rule_files(MODEL, allocation)[f"{pool}/{prometheus_rules.RULE_OBJECT_FILE}"]
    dashboards = rendering.dashboard_files(MODEL)[f"{pool}/{rendering.DASHBOARDS_FILE}"]
    assert len(dashboards) == 3
    assert harness.differences(runs[pool].objects(), manifests + rules + dashboards) == []


def test_differences_are_reported(runs: dict[str, harness.Run], rendered: pathlib.Path) -> None:
    """The comparison is not vacuous: an altered, a missing and an extra object are each reported."""
    pool = POOLS[0]
    declared = runs[pool].objects()
    written = harness.rendered_files(rendered, pool)
    assert harness.differences(declared, written) == []
    altered = copy.deepcopy(written)
    quota = next(m for m in altered if m["kind"] == "ResourceQuota")
    quota["spec"]["hard"]["requests.cpu"] = "1"
    port = next(m for m in altered if m["kind"] == "NetworkPolicy")
    port["spec"]["egress"][0]["ports"][0]["port"] = "53"  # a string where an integer is declared
    found = harness.differences(declared, altered)
    assert len(found) == 2
    assert any(".spec.hard.requests.cpu" in d and "!= '1'" in d for d in found)
    assert any(".spec.egress[0].ports[0].port: 53 != '53'" in d for d in found)
    dropped = harness.differences(declared, written[1:])
    assert dropped == [f"unexpected {harness.manifest_key(written[0])}"]
    extra = {**written[-1], "metadata": {**written[-1]["metadata"], "name": "not-declared"}}
    assert harness.differences(declared, [*written, extra]) == [f"missing {harness.manifest_key(extra)}"]


@pytest.mark.parametrize("pool", POOLS)
def test_one_provider_with_context_and_cluster_identifier(pool: str, runs: dict[str, harness.Run]) -> None:
    run = runs[pool]
    (provider,) = run.one(harness.PROVIDER_TYPE)
    settings = harness.stack_config(pool)
    assert provider.inputs == {"context": settings[f"{NS}:context"],
                               "clusterIdentifier": settings[f"{NS}:clusterIdentifier"]}
    reference = f"{provider.urn}::{provider.id}"
    assert run.kubernetes
    for r in run.kubernetes:
        assert r.provider == reference, r.name


@pytest.mark.parametrize("pool", POOLS)
def test_namespaces_retained_and_everything_protected(pool: str, runs: dict[str, harness.Run]) -> None:
    for r in runs[pool].kubernetes:
        # A namespace (with its pods) outlives the stack, and so do the objects that limit and isolate it.
        tenant = kubernetes.TENANT_LABEL in r.inputs["metadata"].get("labels", {})
        protective = tenant and r.inputs["kind"] in ("ResourceQuota", "LimitRange", "NetworkPolicy", "ConfigMap")
        assert r.retain_on_delete == (r.inputs["kind"] in ("Namespace", "PersistentVolumeClaim") or protective), \
            r.name
        assert r.protect, r.name


def test_protect_follows_config() -> None:
    pool = POOLS[0]
    run = harness.run(pool, config(pool, protect="false"))
    assert run.kubernetes
    assert not any(r.protect for r in run.kubernetes)
    assert all(r.retain_on_delete for r in run.kubernetes if r.inputs["kind"] == "Namespace")


@pytest.mark.parametrize("pool", POOLS)
def test_components_group_the_objects(pool: str, runs: dict[str, harness.Run]) -> None:
    run = runs[pool]
    urns = run.by_urn()
    (cluster,) = run.one("dctenant:datacentre:Cluster")
    (monitoring,) = run.one("dctenant:datacentre:Monitoring")
    tenants = {r.name: r for r in run.one("dctenant:datacentre:TenantNamespaces")}
    for r in run.kubernetes:
        tenant = r.inputs["metadata"].get("labels", {}).get(kubernetes.TENANT_LABEL)
        if tenant:
            assert urns[r.parent] is tenants[tenant], r.name
        else:
            watched = r.inputs["kind"] == "PrometheusRule" or r.inputs["metadata"]["name"].startswith(DASHBOARD)
            assert urns[r.parent] is (monitoring if watched else cluster), r.name
    kinds = {r.inputs["kind"] for r in run.kubernetes if urns[r.parent] is cluster}
    assert kinds == {"Namespace", "ClusterRole", "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding",
                     "ServiceAccount", "ConfigMap", "PersistentVolumeClaim", "CronJob"}
    (job,) = [r for r in run.kubernetes if r.inputs["kind"] == "CronJob"]
    assert job.type == "kubernetes:batch/v1:CronJob"
    (rule,) = [r for r in run.kubernetes if urns[r.parent] is monitoring and r.inputs["kind"] == "PrometheusRule"]
    assert rule.type == "kubernetes:monitoring.coreos.com/v1:PrometheusRule"
    boards = [r for r in run.kubernetes if urns[r.parent] is monitoring and r.inputs["kind"] == "ConfigMap"]
    assert sorted(r.inputs["metadata"]["name"] for r in boards) == [
        f"{DASHBOARD}capacity", f"{DASHBOARD}tenant", f"{DASHBOARD}traffic"]
    assert all(r.inputs["metadata"]["labels"]["grafana_dashboard"] == "1" for r in boards)
    assert all(r.inputs["metadata"]["labels"][kubernetes.POOL_LABEL] == pool for r in boards)


def test_without_the_operator_the_rules_file_is_a_config_map(rendered: pathlib.Path) -> None:
    pool = "isf-1"
    run = harness.run(pool, config(pool, prometheusOperator="false"))
    urns = run.by_urn()
    (monitoring,) = run.one("dctenant:datacentre:Monitoring")
    (config_map,) = [r for r in run.kubernetes
                     if urns[r.parent] is monitoring and not r.inputs["metadata"]["name"].startswith(DASHBOARD)]
    assert not [r for r in run.kubernetes if r.inputs["kind"] == "PrometheusRule"]
    assert config_map.inputs["kind"] == "ConfigMap"
    assert config_map.inputs["metadata"]["namespace"] == MODEL.policy.kubernetes.monitoring_namespace
    assert config_map.provider.startswith(run.one(harness.PROVIDER_TYPE)[0].urn) and config_map.protect
    (text,) = config_map.inputs["data"].values()
    assert text == (rendered / pool / "_prometheus-rules.yaml").read_text(encoding="utf-8")


@pytest.mark.parametrize("pool", POOLS)
def test_dependencies(pool: str, runs: dict[str, harness.Run]) -> None:
    """Objects wait for their namespace; owners' access waits for the limits; a binding for its policy."""
    run = runs[pool]
    urn = {harness.manifest_key(r.inputs): r.urn for r in run.kubernetes}
    for r in run.kubernetes:
        kind, namespace = r.inputs["kind"], r.inputs["metadata"].get("namespace", "")
        if namespace and namespace != MODEL.policy.kubernetes.monitoring_namespace:  # the only one not declared
            assert urn[("Namespace", "", namespace)] in r.dependencies, r.name
        if kind == "RoleBinding":
            others = {u for (k, ns, _), u in urn.items() if ns == namespace and k != "RoleBinding"}
            assert others <= set(r.dependencies), r.name
            # No tenant access before the admission policies that limit it (a first `pulumi up`).
            admission = {u for (k, _, _), u in urn.items() if k.startswith("ValidatingAdmissionPolicy")}
            assert len(admission) == 14 and admission <= set(r.dependencies), r.name
        if kind == "ValidatingAdmissionPolicyBinding":
            assert urn[("ValidatingAdmissionPolicy", "", r.inputs["spec"]["policyName"])] in r.dependencies
        if kind == "CronJob":  # the enforcer runs only once its account, RBAC, files and volume exist
            needed = {u for (k, ns, _), u in urn.items()
                      if (ns == namespace and k not in ("Namespace", "CronJob")) or k == "ClusterRole"}
            assert len(needed) >= 5 and needed <= set(r.dependencies), r.name


@pytest.mark.parametrize("pool", POOLS)
def test_outputs(pool: str, runs: dict[str, harness.Run]) -> None:
    outputs = runs[pool].outputs
    allocation = planning.allocate(MODEL, at=dt.date.fromisoformat(AT))
    assert outputs == {**stacking.describe(MODEL, allocation, pool=pool).outputs(), "held": []}
    assert set(outputs["pool"]["resources"]) == {r.key for r in allocation.pools[pool].resources}
    for key, line in outputs["pool"]["resources"].items():
        resource = next(r for r in allocation.pools[pool].resources if r.key == key)
        assert Decimal(line["capacity"]) == resource.capacity, key
        assert Decimal(line["allocated"]) == resource.allocated <= Decimal(line["allocatable"]), key
    for ns in allocation.namespaces:
        if ns.pool == pool:
            assert ns.namespace in outputs["tenants"][ns.tenant]["namespaces"]
    for tenant, data in outputs["tenants"].items():
        share = allocation.tenants[tenant].shares[pool]
        assert set(data["envelope"]) == set(share.envelope)


def test_quotas_from_the_environment_win(qcopy: QuotasCopy, monkeypatch: pytest.MonkeyPatch) -> None:
    """``dctenant stack PATH`` passes PATH as $DCTENANT_QUOTAS; the program reads that directory."""
    (qcopy.root / "tenants" / "bale.yaml").unlink()
    monkeypatch.setenv("DCTENANT_QUOTAS", str(qcopy.root))
    run = harness.run("thr-ab", config("thr-ab"))
    tenants = {r.name for r in run.one("dctenant:datacentre:TenantNamespaces")}
    assert tenants and "bale" not in tenants
    assert not any(r.inputs["metadata"].get("labels", {}).get(kubernetes.TENANT_LABEL) == "bale"
                   for r in run.kubernetes)


def test_pool_defaults_to_the_stack_name_and_must_exist() -> None:
    settings = config("isf-1")
    run = harness.run("isf-1", settings)
    assert run.outputs["pool"]["name"] == "isf-1"
    from dctenant.errors import UserError

    with pytest.raises(UserError, match='did you mean "isf-1"'):
        harness.run("isf-2", settings)


def test_importing_the_program_creates_nothing() -> None:
    """Outside a Pulumi run, declaring a resource fails; importing the modules must not."""
    code = ("import sys; sys.path.insert(0, sys.argv[1]); "
            "import dctenant_stack.program, dctenant_stack.components; print('ok')")
    done = subprocess.run([sys.executable, "-W", "error", "-c", code, str(harness.PROJECT_DIR)],
                          capture_output=True, text=True, check=False, cwd=REPO)
    assert (done.returncode, done.stdout.strip()) == (0, "ok"), done.stderr


def test_main_is_thin() -> None:
    text = (harness.PROJECT_DIR / "__main__.py").read_text(encoding="utf-8")
    code = [ln for ln in text.splitlines() if ln.strip() and not ln.startswith(('"""', "#"))]
    assert code == ["from dctenant_stack import program", "program.main()"]


def test_unknown_kinds_and_unnamed_objects_are_refused() -> None:
    from dctenant_stack import components

    with pytest.raises(components.UnknownKindError, match="apps/v1 Deployment"):
        components.resource_class({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "x"}})
    with pytest.raises(ValueError, match=r"metadata\.name"):
        components.arguments({"apiVersion": "v1", "kind": "Namespace", "metadata": {"generateName": "x-"}})
    args: dict[str, Any] = components.arguments(
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": {"name": "r"},
         "roleRef": {"apiGroup": "g"}, "subjects": []})
    assert set(args) == {"metadata", "role_ref", "subjects"}


def test_pulumi_yaml_declares_the_settings() -> None:
    project = yaml.safe_load((harness.PROJECT_DIR / "Pulumi.yaml").read_text(encoding="utf-8"))
    assert project["name"] == NS
    assert project["runtime"]["name"] == "python"
    assert set(project["config"]) == {"context", "clusterIdentifier", "quotas", "protect", "prometheusOperator",
                                      "respectEnforcement", "pool", "at"}
    assert project["config"]["respectEnforcement"] == {"type": "boolean", "default": True,
                                                       "description": project["config"]["respectEnforcement"][
                                                           "description"]}
