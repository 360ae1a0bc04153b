"""``dctenant diff`` / ``apply`` against kmock emulators over real HTTP, through the real ``kubernetes`` client.

Two emulators play two pools' clusters (contexts ``ndc-thr-ab`` and ``ndc-thr-pd`` of the example
data centre) behind a generated kubeconfig; the example ``quotas/`` is rendered by the real renderer.

What kmock 0.8 emulates, and so what these tests prove: create, read, list, merge-style patch and
delete of objects over HTTP; the requests actually sent (counted per method and path); 404/409/500
answers. ``kmock_cluster`` adds, in the test emulator only: creation by server-side apply (as a
real API server does; the product has no POST fallback) and ``resourceVersion`` checks. What is
not emulated, and so what these tests do not prove:

* Server-side apply semantics. An apply patch is merged into an existing object as a plain dict:
  field ownership, conflicts (409 and ``--force-conflicts``) and the removal of fields dctenant no
  longer applies are not exercised here. The planner's handling of ``managedFields`` is covered by
  unit tests with hand-made objects instead.
* Label selectors: kmock ignores ``labelSelector`` and lists every object of a kind; the planner
  filters on the ``managed-by`` label itself, so the result is the same.
* Namespace deletion is immediate (no Terminating phase, no cascade): dctenant deletes a pruned
  namespace's managed objects itself before the namespace, which is also correct on a real server.

The lease's compare-and-swap, the guarded prune and their races are in ``test_apply_fencing.py``.
"""

from __future__ import annotations

import datetime as dt
import json
import pathlib
import socket
from collections.abc import Iterator
from typing import Any

import pytest

from dctenant.cli.main import main
from dctenant.ops import applying
from tests.integration import kmock_cluster

pytestmark = pytest.mark.integration

ROOT = pathlib.Path(__file__).resolve().parents[2]
EXAMPLE = str(ROOT / "quotas")
AT = "2026-11-27"
CONTEXTS = {"thr-ab": "ndc-thr-ab", "thr-pd": "ndc-thr-pd"}


@pytest.fixture
def clusters(tmp_path: pathlib.Path) -> Iterator[tuple[dict[str, kmock_cluster.Emulator], str]]:
    with kmock_cluster.emulators(list(CONTEXTS.values())) as started:
        by_pool = {pool: started[context] for pool, context in CONTEXTS.items()}
        yield by_pool, str(kmock_cluster.kubeconfig(tmp_path / "kubeconfig", started))


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """Run the CLI through its real entry point (the error boundary included)."""
    capsys.readouterr()
    with pytest.raises(SystemExit) as ended:
        main(list(args))
    out, err = capsys.readouterr()
    return int(ended.value.code or 0), out, err


def desired(pool: str) -> tuple[dict[str, Any], ...]:
    (target,) = applying.targets(EXAMPLE, at=dt.date.fromisoformat(AT), pools=[pool])
    return tuple(dict(m) for m in target.desired)


def keys(manifests: Any) -> set[tuple[str, str | None, str]]:
    return {(m["kind"], m["metadata"].get("namespace"), m["metadata"]["name"]) for m in manifests}


def live(emulator: kmock_cluster.Emulator) -> set[tuple[str, str | None, str]]:
    from dctenant.clients import kube

    return {(kind.kind, ns, name) for kind in kube.MANAGED for (ns, name) in emulator.objects(kind.kind)}


def test_first_apply_creates_everything_and_the_second_writes_nothing(clusters: Any, capsys: Any) -> None:
    emulators, kubeconfig = clusters
    ab = emulators["thr-ab"]
    code, out, _ = run(capsys, "diff", EXAMPLE, "--at", AT, "--pool", "thr-ab", "--kubeconfig", kubeconfig,
                       "--exit-code", "-o", "json")
    assert code == 3
    plan = json.loads(out)["pools"][0]
    assert plan["counts"]["create"] == len(desired("thr-ab"))
    assert ab.writes() == []  # diff never writes

    code, out, err = run(capsys, "apply", EXAMPLE, "--at", AT, "--pool", "thr-ab", "--kubeconfig", kubeconfig)
    assert code == 0, err
    assert live(ab) == keys(desired("thr-ab"))
    assert {method for method, _ in ab.writes()} == {"PATCH"}  # created by server-side apply, never POST
    assert len(ab.writes()) == len(desired("thr-ab"))
    assert "applied" in out
    lease = ab.objects("Lease")[("dctenant-system", "dctenant-apply")]
    assert not lease["spec"].get("holderIdentity")  # released

    before = len(ab.requests())
    code, out, err = run(capsys, "apply", EXAMPLE, "--at", AT, "--pool", "thr-ab", "--kubeconfig", kubeconfig)
    assert code == 0, err
    second = ab.requests()[before:]
    assert [r for r in second if r[0] != "GET" and "/leases" not in r[1]] == []
    lists = [path for method, path in second if method == "GET" and "/leases" not in path]
    assert len(lists) == len(set(lists))  # at most one list per kind (plus one namespace read for the lease)
    code, _, _ = run(capsys, "diff", EXAMPLE, "--at", AT, "--pool", "thr-ab", "--kubeconfig", kubeconfig,
                     "--exit-code")
    assert code == 0


def test_diff_reads_each_pool_with_13_list_requests_as_the_docs_say(clusters: Any, capsys: Any) -> None:
    emulators, kubeconfig = clusters
    ab = emulators["thr-ab"]
    result = applying.diff(applying.targets(EXAMPLE, at=dt.date.fromisoformat(AT), pools=["thr-ab"]),
                           kubeconfig=kubeconfig)
    served = ab.requests()
    # Counted by hand from clients.kube.MANAGED: Namespace, ClusterRole, ValidatingAdmissionPolicy,
    # ValidatingAdmissionPolicyBinding, ResourceQuota, LimitRange, NetworkPolicy, RoleBinding,
    # ConfigMap, ServiceAccount, ClusterRoleBinding, PersistentVolumeClaim, CronJob.
    assert len(served) == 13 and {m for m, _ in served} == {"GET"} and len(set(served)) == 13
    assert result.requests == {"thr-ab": 13}
    assert "**13 list\nrequests per pool**" in (ROOT / "docs" / "apply.md").read_text(encoding="utf-8")


def test_a_changed_quota_updates_only_that_object(clusters: Any, capsys: Any) -> None:
    emulators, kubeconfig = clusters
    ab = emulators["thr-ab"]
    assert run(capsys, "apply", EXAMPLE, "--at", AT, "-p", "thr-ab", "--kubeconfig", kubeconfig)[0] == 0
    namespace, quota = next(k for k in ab.objects("ResourceQuota"))
    edited = json.loads(json.dumps(ab.objects("ResourceQuota")[(namespace, quota)]))
    edited["spec"]["hard"]["requests.cpu"] = "999"
    ab.put(edited)

    code, out, _ = run(capsys, "diff", EXAMPLE, "--at", AT, "-p", "thr-ab", "--kubeconfig", kubeconfig,
                       "-o", "json")
    assert code == 0
    changes = json.loads(out)["pools"][0]["changes"]
    assert [(c["op"], c["kind"], c["namespace"]) for c in changes] == [("update", "ResourceQuota", namespace)]
    assert [f["path"] for f in changes[0]["fields"]] == ["spec.hard.requests.cpu"]
    assert changes[0]["fields"][0]["before"] == "999"

    before = len(ab.requests())
    assert run(capsys, "apply", EXAMPLE, "--at", AT, "-p", "thr-ab", "--kubeconfig", kubeconfig)[0] == 0
    writes = [r for r in ab.requests()[before:] if r[0] != "GET" and "/leases" not in r[1]]
    assert writes == [("PATCH", f"/api/v1/namespaces/{namespace}/resourcequotas/{quota}")]
    assert ab.objects("ResourceQuota")[(namespace, quota)]["spec"]["hard"]["requests.cpu"] != "999"


def test_a_removed_namespace_with_pods_is_kept_and_an_empty_one_is_pruned(clusters: Any, capsys: Any) -> None:
    emulators, kubeconfig = clusters
    ab = emulators["thr-ab"]
    assert run(capsys, "apply", EXAMPLE, "--at", AT, "-p", "thr-ab", "--kubeconfig", kubeconfig)[0] == 0
    everything = desired("thr-ab")
    tenant_namespaces = [m["metadata"]["name"] for m in everything
                         if m["kind"] == "Namespace" and "dctenant.io/tenant" in m["metadata"]["labels"]]
    busy, idle = tenant_namespaces[:2]
    ab.put({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "worker-0", "namespace": busy}})
    gone = {busy, idle}
    kept = [m for m in everything if m["metadata"].get("namespace") not in gone and m["metadata"]["name"] not in gone]
    target = applying.Target(pool="thr-ab", context=CONTEXTS["thr-ab"], desired=tuple(kept),
                             system_namespace="dctenant-system")

    dry = applying.diff([target], kubeconfig=kubeconfig)  # without --prune-namespaces: both orphaned
    assert {c.name for c in dry.plans[0].changes if c.kind == "Namespace" and c.op == "orphan"} == gone
    assert not dry.pending

    result = applying.apply([target], kubeconfig=kubeconfig, prune_namespaces=True)
    assert result.ok
    plan = result.outcomes[0].plan
    orphaned = {c.ref for c in plan.changes if c.op == "orphan"}
    assert f"Namespace {busy}" in orphaned
    assert all(busy in (c.namespace, c.name) for c in plan.changes if c.op == "orphan")
    reason = next(c.reason for c in plan.changes if c.ref == f"Namespace {busy}")
    assert "1 pod and 0 PVCs" in reason
    assert (None, busy) in ab.objects("Namespace")
    assert any(ns == busy for ns, _ in ab.objects("ResourceQuota"))  # its quota still constrains the pods
    assert (None, idle) not in ab.objects("Namespace")
    assert not any(ns == idle for kind in ("ResourceQuota", "LimitRange", "NetworkPolicy", "RoleBinding", "ConfigMap")
                   for ns, _ in ab.objects(kind))
    prunes = [c for c in plan.changes if c.op == "prune"]
    assert prunes[-1].ref == f"Namespace {idle}"  # the namespace goes last, after its contents


def test_a_lease_held_by_another_apply_stops_with_its_holder(clusters: Any, capsys: Any) -> None:
    emulators, kubeconfig = clusters
    ab = emulators["thr-ab"]
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    ab.put({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "dctenant-system"}})
    ab.put({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
            "metadata": {"name": "dctenant-apply", "namespace": "dctenant-system"},
            "spec": {"holderIdentity": "alice@ops-laptop (pid 4242)", "leaseDurationSeconds": 120,
                     "acquireTime": now, "renewTime": now}})
    code, _, err = run(capsys, "apply", EXAMPLE, "--at", AT, "-p", "thr-ab", "--kubeconfig", kubeconfig)
    assert code == 1
    assert "alice@ops-laptop (pid 4242)" in err and "dctenant-system/dctenant-apply" in err
    assert "Traceback" not in err
    assert ab.writes(leases=True) == []

    # The same lease, expired (its holder died): taken over, and the apply goes ahead.
    stale = (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=10)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    lease = ab.objects("Lease")[("dctenant-system", "dctenant-apply")]
    ab.put({**lease, "spec": {**lease["spec"], "renewTime": stale}})
    code, _, err = run(capsys, "apply", EXAMPLE, "--at", AT, "-p", "thr-ab", "--kubeconfig", kubeconfig)
    assert code == 0, err
    assert ab.objects("Lease")[("dctenant-system", "dctenant-apply")]["spec"]["leaseTransitions"] == 1


def test_an_api_failure_half_way_is_reported_and_the_next_apply_finishes(clusters: Any, capsys: Any) -> None:
    emulators, kubeconfig = clusters
    ab = emulators["thr-ab"]
    ab.fail(lambda r: str(r.method.value).upper() == "PATCH" and "/resourcequotas/" in r.url.path, times=1)
    code, out, err = run(capsys, "apply", EXAMPLE, "--at", AT, "-p", "thr-ab", "--kubeconfig", kubeconfig)
    assert code == 1
    assert "failed at ResourceQuota" in err and "injected failure" in err
    assert "not applied: ResourceQuota" in err
    assert "run it again" in err
    applied = live(ab)
    assert applied and applied < keys(desired("thr-ab"))
    assert not ab.objects("Lease")[("dctenant-system", "dctenant-apply")]["spec"].get("holderIdentity")

    code, out, err = run(capsys, "apply", EXAMPLE, "--at", AT, "-p", "thr-ab", "--kubeconfig", kubeconfig,
                         "-o", "json")
    assert code == 0, err
    assert json.loads(out)["pools"][0]["done"] == len(keys(desired("thr-ab")) - applied)
    assert live(ab) == keys(desired("thr-ab"))


def test_two_pools_go_to_their_own_contexts(clusters: Any, capsys: Any) -> None:
    emulators, kubeconfig = clusters
    code, _, err = run(capsys, "apply", EXAMPLE, "--at", AT, "-p", "thr-ab", "-p", "thr-pd",
                       "--kubeconfig", kubeconfig)
    assert code == 0, err
    for pool, emulator in emulators.items():
        assert live(emulator) == keys(desired(pool))
        labels = {ns["metadata"]["labels"].get("dctenant.io/pool") for ns in emulator.objects("Namespace").values()}
        assert labels - {None} == {pool}


def test_unreachable_cluster_and_missing_context_are_clear_errors(tmp_path: pathlib.Path, capsys: Any) -> None:
    with socket.socket() as s:  # a port that was free a moment ago: nothing listens on it
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = tmp_path / "kubeconfig"
    config.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: ndc-thr-ab\n"
        f"clusters: [{{name: c, cluster: {{server: 'http://127.0.0.1:{port}'}}}}]\n"
        "users: [{name: u, user: {token: very-secret-token}}]\n"
        "contexts: [{name: ndc-thr-ab, context: {cluster: c, user: u}}]\n", encoding="utf-8")
    code, out, err = run(capsys, "diff", EXAMPLE, "--at", AT, "-p", "thr-ab", "--kubeconfig", str(config))
    assert code == 1
    assert "cannot reach the cluster of context ndc-thr-ab" in err and f"127.0.0.1:{port}" in err
    assert "Traceback" not in err and "very-secret-token" not in out + err

    code, out, err = run(capsys, "apply", EXAMPLE, "--at", AT, "-p", "thr-pd", "--kubeconfig", str(config))
    assert code == 1
    assert "no context 'ndc-thr-pd'" in err and "very-secret-token" not in out + err
