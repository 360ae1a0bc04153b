"""Benchmark: ``diff`` against a live (kmock) cluster holding 1,000 tenants × 10 namespaces, nothing changed.

Run: python -m pytest -p no:kmock tests/benchmarks/bench_diff.py -s   (DCTENANT_BENCH_TENANTS=N to resize)
Target (issue 4): zero writes and exactly one list request per managed kind per pool (13, as
docs/apply.md says); report requests and time.

The emulator's state is stored directly (as if a previous apply had written it), because creating
60,000 objects through kmock's HTTP handler would benchmark kmock, not dctenant. The manifests have
the renderer's shape (Namespace, ResourceQuota, LimitRange, ConfigMap, NetworkPolicy, RoleBinding
per namespace) so that the planner compares realistic objects field by field.
"""

from __future__ import annotations

import os
import pathlib
import time
from typing import Any

from dctenant.clients import kube
from dctenant.ops import applying
from tests.integration import kmock_cluster

TENANTS = int(os.environ.get("DCTENANT_BENCH_TENANTS", "1000"))
NAMESPACES = 10
MANAGED = {"app.kubernetes.io/managed-by": "dctenant"}


def tenant_objects(tenant: str, namespace: str) -> list[dict[str, Any]]:
    labels = {**MANAGED, "dctenant.io/tenant": tenant, "dctenant.io/pool": "bench"}

    def obj(api: str, kind: str, name: str, **body: Any) -> dict[str, Any]:
        return {"apiVersion": api, "kind": kind,
                "metadata": {"name": name, "namespace": namespace, "labels": dict(labels)}, **body}

    return [
        {"apiVersion": "v1", "kind": "Namespace",
         "metadata": {"name": namespace, "labels": {**labels, "dctenant.io/tier": "standard"},
                      "annotations": {"dctenant.io/licence-number": f"L-{tenant}",
                                      "dctenant.io/licence-expires": "2030-01-01"}}},
        obj("v1", "ResourceQuota", "dctenant-quota", spec={"hard": {
            "requests.cpu": "12", "limits.cpu": "24", "requests.memory": "48Gi", "limits.memory": "48Gi",
            "requests.nvidia.com/gpu": "1", "requests.storage": "2Ti", "persistentvolumeclaims": "200",
            "ssd.storageclass.storage.k8s.io/requests.storage": "2Ti", "services.loadbalancers": "2",
            "services.nodeports": "0"}}),
        obj("v1", "LimitRange", "dctenant-limits", spec={"limits": [{
            "type": "Container", "default": {"cpu": "500m", "memory": "512Mi"},
            "defaultRequest": {"cpu": "100m", "memory": "128Mi"}, "max": {"cpu": "6", "memory": "24Gi"}}]}),
        obj("v1", "ConfigMap", "dctenant-bandwidth", data={"egress": "500M", "ingress": "250M"}),
        obj("networking.k8s.io/v1", "NetworkPolicy", "dctenant-isolation", spec={
            "podSelector": {}, "policyTypes": ["Ingress", "Egress"],
            "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"dctenant.io/tenant": tenant}}},
                                  {"namespaceSelector": {"matchLabels": {
                                      "kubernetes.io/metadata.name": "monitoring"}}}]}],
            "egress": [{}]}),
        obj("rbac.authorization.k8s.io/v1", "RoleBinding", "dctenant-tenant-admin",
            roleRef={"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "dctenant:tenant-admin"},
            subjects=[{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": f"{tenant}-owners"}]),
    ]


def estate() -> list[dict[str, Any]]:
    manifests: list[dict[str, Any]] = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "dctenant-system", "labels": dict(MANAGED)}},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
         "metadata": {"name": "dctenant:tenant-admin", "labels": dict(MANAGED)},
         "rules": [{"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["*"]}]},
    ]
    for t in range(TENANTS):
        for n in range(NAMESPACES):
            manifests.extend(tenant_objects(f"t{t:04d}", f"t{t:04d}-ns{n}"))
    return manifests


def test_diff_of_an_unchanged_estate(tmp_path: pathlib.Path) -> None:
    desired = estate()
    with kmock_cluster.emulators(["bench"]) as started:
        emulator = started["bench"]
        config = str(kmock_cluster.kubeconfig(tmp_path / "kubeconfig", started))
        t0 = time.perf_counter()
        for manifest in desired:
            emulator.put(manifest)
        loaded = time.perf_counter() - t0
        target = applying.Target(pool="bench", context="bench", desired=desired, system_namespace="dctenant-system")

        t0 = time.perf_counter()
        result = applying.diff([target], kubeconfig=config)
        elapsed = time.perf_counter() - t0
        served = emulator.requests()

    (plan,) = result.plans
    writes = [r for r in served if r[0] != "GET"]
    lists = [path for method, path in served if method == "GET"]
    print(f"\n{TENANTS} tenants x {NAMESPACES} namespaces = {len(desired):,} objects "
          f"(state stored in {loaded:.1f} s)")
    print(f"diff: {elapsed:.2f} s, {len(desired) / elapsed:,.0f} objects/s; requests served: {len(served)} "
          f"({len(lists)} lists for {len(kube.MANAGED)} managed kinds, {len(writes)} writes); "
          f"plan: {plan.counts()}")
    assert writes == []
    assert len(lists) == len(set(lists)) == len(kube.MANAGED) == 13
    assert plan.changes == () and plan.unchanged == len(desired)
    assert result.requests == {"bench": len(served)}
