"""``dctenant enforce`` against a real Prometheus scraping the workload simulator, acting on kmock.

One Prometheus and one simulator serve the whole module (starting them and waiting for the rate
window to fill costs a few seconds). The simulator runs the example's pool ``thr-ab`` at half of
every envelope, except: bale's egress is 15% over its envelope and eitaa's ssd-standard storage
10% over. The example's licences add the rest, as of 2026-11-27: gap expired beyond grace and
chapar revoked (both suspended), rubika expiring and soroush in grace (notices).

The policy is the example's with ``sustainedFor: 0s``, ``gracePeriod: 0s`` and ``recoveryWindow: 0s``
so that the graduated actions can be walked in a few cycles: notify, then throttle, one step a
cycle, and undone as soon as usage is back below the warning threshold; ``warningAt`` is 75% so
that the warning threshold of a memory envelope is a whole number of bytes (tested exactly at it).
The same simulator serves a few namespaces outside quotas/ that exercise each PromQL defect of
issue 16 (``CASES``). Prometheus is stopped last, so the missing-data test runs at the end of the
module. Sustained windows, restarts and shared endpoints get their own Prometheus further down.

kmock does not emulate controllers: scaling a Deployment changes its ``spec.replicas`` and nothing
else, and a Pod template annotation does not roll pods; what is checked is what the enforcer wrote.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import pathlib
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from dctenant.cli.main import main
from dctenant.clients import kube, ledger_db, prometheus
from dctenant.domain import changes
from dctenant.loaders import loading
from dctenant.ops import applying, planning
from tests.integration import kmock_cluster, prometheus_harness, simulator

pytestmark = pytest.mark.integration

ROOT = pathlib.Path(__file__).resolve().parents[2]
AT = "2026-11-27"
POOL = "thr-ab"
CONTEXT = "ndc-thr-ab"
RATE_WINDOW = "5s"
OVER = {("bale", POOL, "bandwidth/egress"): Decimal("1.15"), ("eitaa", POOL, "storage/ssd-standard"): Decimal("1.1")}


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    root = tmp_path_factory.mktemp("enforce") / "quotas"
    shutil.copytree(ROOT / "quotas", root)
    policy = root / "policy.yaml"
    text = policy.read_text(encoding="utf-8")
    for old, new in (("sustainedFor: 10m", "sustainedFor: 0s"), ("gracePeriod: 30m", "gracePeriod: 0s"),
                     ("recoveryWindow: 15m", "recoveryWindow: 0s"), ("warningAt: 80%", "warningAt: 75%")):
        assert text.count(old) == 1
        text = text.replace(old, new)
    policy.write_text(text, encoding="utf-8")
    return root


GiB = 2**30
CASES = (
    # A ReadWriteMany claim mounted on two nodes (reported twice) and a claim written past its request.
    simulator.NamespaceLoad(namespace="case-rwx", claims=(
        simulator.Claim(name="shared", storage_class="ssd-standard", requested=100 * GiB, used=80 * GiB, nodes=2),
        simulator.Claim(name="grown", storage_class="ssd-standard", requested=10 * GiB, used=30 * GiB))),
    # The sandbox (container="POD", 64 MiB) beside a 1 GiB container, and a hostNetwork pod's 1 Tbps.
    simulator.NamespaceLoad(namespace="case-pod", dockershim=True, pods=(
        simulator.Pod(name="app", memory=GiB, egress=8e6),
        simulator.Pod(name="agent", egress=1e12, host_network=True))),
    # Effective GPU requests: max(init 4, app 1) + max(init 1, app 2) = 6.
    simulator.NamespaceLoad(namespace="case-gpu", pods=(simulator.Pod(name="a", gpus=1, init_gpus=4),
                                                        simulator.Pod(name="b", gpus=2, init_gpus=1))),
    simulator.NamespaceLoad(namespace="case-classless", claims=(
        simulator.Claim(name="plain", storage_class="", requested=GiB, used=GiB),)),
    # kube-state-metrics shows the pods running, cAdvisor has nothing for the namespace.
    simulator.NamespaceLoad(namespace="case-gap", cadvisor=False, pods=(simulator.Pod(name="a", memory=GiB, gpus=1),)),
    simulator.NamespaceLoad(namespace="case-unlisted", pods=(simulator.Pod(name="a", egress=1e9, listed=False),)),
)


def loads(example: pathlib.Path, overrides: Any = None) -> tuple[simulator.NamespaceLoad, ...]:
    model = loading.load(example)
    allocation = planning.allocate(model, at=dt.date.fromisoformat(AT))
    tenants = simulator.loads_for(model, allocation, pools=[POOL], overrides=OVER if overrides is None else overrides)
    return (*tenants, *CASES)


@pytest.fixture(scope="module")
def workload(example: pathlib.Path) -> Iterator[simulator.Simulator]:
    sim = simulator.Simulator(loads(example)).start()
    try:
        yield sim
    finally:
        sim.stop()


@pytest.fixture(scope="module")
def metrics(workload: simulator.Simulator) -> Iterator[prometheus_harness.Prometheus]:
    prom = prometheus_harness.Prometheus(workload.address).start()
    try:
        prom.wait_until("up == 1", count=3)
        # rate() over the window is exact only once the window is covered by samples.
        prom.wait_until('count_over_time(up{job="kube-state-metrics"}[10s]) >= 7', timeout=30)
        yield prom
    finally:
        prom.cleanup()


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    with pytest.raises(SystemExit) as ended:
        main(list(args))
    out, err = capsys.readouterr()
    return int(ended.value.code or 0), out, err


def enforce(capsys: Any, example: pathlib.Path, prom: prometheus_harness.Prometheus,
            *extra: str) -> tuple[int, Any, str]:
    code, out, err = run(capsys, "enforce", str(example), "--pool", POOL, "--prometheus", prom.url, "--at", AT,
                         "--rate-window", RATE_WINDOW, "--once", "-o", "json", *extra)
    return code, json.loads(out) if out.strip() else None, err


def flagged(result: Any) -> dict[tuple[str, str], tuple[str, str]]:
    return {(d["tenant"], d["resource"]): (d["state"], d["action"]) for d in result["decisions"] if d["state"] != "ok"}


def test_dry_run_flags_exactly_the_breaches_and_licences(capsys: Any, example: pathlib.Path,
                                                         metrics: prometheus_harness.Prometheus,
                                                         tmp_path: pathlib.Path) -> None:
    state = tmp_path / "state.json"
    code, result, err = enforce(capsys, example, metrics, "--state", str(state), "--exit-code")
    assert code == 3, err  # breaches, and no missing data
    assert result["mode"] == "dry-run" and result["queries"] == 9 and result["missing"] == []
    assert flagged(result) == {
        ("bale", "bandwidth/egress"): ("breach", "notify"),
        ("eitaa", "storage/ssd-standard"): ("breach", "notify"),
        ("chapar", "licence"): ("suspended", "suspend"),
        ("gap", "licence"): ("suspended", "suspend"),
        ("rubika", "licence"): ("warning", "notify"),
        ("soroush", "licence"): ("warning", "notify"),
    }
    by_key = {(d["tenant"], d["resource"]): d for d in result["decisions"]}
    egress = by_key["bale", "bandwidth/egress"]
    assert re.fullmatch(r"bale egress [0-9.]+ Gbps > [0-9.]+ Gbps envelope for 0 s \(window 0 s\)", egress["reason"])
    ratio = Decimal(egress["usage"]) / Decimal(egress["envelope"])
    assert Decimal("1.13") < ratio < Decimal("1.17")  # the hostNetwork pod's 1 Tbps is not counted
    assert by_key["gap", "licence"]["reason"].startswith("gap licence CRA-MSG-1402-0009 expired on 2026-10-31")
    assert all(d["usage"] is not None for d in result["decisions"] if d["resource"] != "licence")
    assert not state.exists()  # a dry run writes nothing


@pytest.fixture
def cluster(tmp_path: pathlib.Path, example: pathlib.Path,
            capsys: Any) -> Iterator[tuple[kmock_cluster.Emulator, str]]:
    with kmock_cluster.emulators([CONTEXT]) as started:
        emulator = started[CONTEXT]
        for what in kube.KINDS.values():
            emulator.handler.resources[kmock_cluster.resource(what)] = {
                "kind": what.kind, "namespaced": what.namespaced, "verbs": ["get", "list", "create", "patch"]}
        config = str(kmock_cluster.kubeconfig(tmp_path / "kubeconfig", started))
        assert run(capsys, "apply", str(example), "--at", AT, "--pool", POOL, "--kubeconfig", config)[0] == 0
        for (namespace, _name), quota in emulator.objects("ResourceQuota").items():
            used = {k: "1" if k.endswith("storage") else "2" for k in quota["spec"]["hard"]}
            if namespace == "gap-messaging":  # as applied while its licence was still in order
                quota["spec"]["hard"]["pods"] = "50"
            emulator.put({**quota, "status": {"hard": quota["spec"]["hard"], "used": used}})
            emulator.put({"apiVersion": "apps/v1", "kind": "Deployment",
                          "metadata": {"name": "api", "namespace": namespace},
                          "spec": {"replicas": 3, "template": {"metadata": {"annotations": {
                              "kubernetes.io/egress-bandwidth": "400G", "kubernetes.io/ingress-bandwidth": "10G"}}}}})
            emulator.put({"apiVersion": "apps/v1", "kind": "StatefulSet",
                          "metadata": {"name": "db", "namespace": namespace}, "spec": {"replicas": 5}})
        yield emulator, config


def test_act_escalates_one_step_a_cycle_and_undoes_a_suspension(
        capsys: Any, example: pathlib.Path, metrics: prometheus_harness.Prometheus,
        cluster: tuple[kmock_cluster.Emulator, str], tmp_path: pathlib.Path) -> None:
    emulator, config = cluster
    state, audit = tmp_path / "state.json", tmp_path / "ledger_db.db"
    common = ("--act", "--kubeconfig", config, "--state", str(state), "--ledger", str(audit))
    before = len(emulator.requests())
    config_map = emulator.objects("ConfigMap")[("bale-media", "dctenant-bandwidth")]["data"]["maxEgress"]

    code, first, err = enforce(capsys, example, metrics, *common)
    assert code == 0, err
    assert first["mode"] == "act"
    assert {(a["namespace"], a["action"]) for a in first["actions"]} == {
        ("bale-messaging", "notify"), ("bale-media", "notify"), ("eitaa-messaging", "notify"),
        ("eitaa-media", "notify"), ("chapar-messaging", "suspend"), ("gap-messaging", "suspend"),
        ("rubika-messaging", "notify"), ("rubika-media", "notify"), ("soroush-messaging", "notify"),
        ("soroush-media", "notify")}
    assert all(not a.get("error") for a in first["actions"])
    for namespace in ("gap-messaging", "chapar-messaging"):
        assert emulator.objects("ResourceQuota")[(namespace, "dctenant-quota")]["spec"]["hard"]["pods"] == "0"
        assert emulator.objects("Deployment")[(namespace, "api")]["spec"]["replicas"] == 0
        assert emulator.objects("StatefulSet")[(namespace, "db")]["spec"]["replicas"] == 0
    events = emulator.objects("Event")
    assert {ns for ns, _ in events} == {a["namespace"] for a in first["actions"]}
    written = {re.search(r"/namespaces/([^/]+)/", path)[1]  # type: ignore[index]
               for method, path in emulator.requests()[before:] if method in ("PATCH", "POST")}
    assert written == {a["namespace"] for a in first["actions"]}  # nobody else was touched

    code, second, err = enforce(capsys, example, metrics, *common)
    assert code == 0, err
    assert {(a["namespace"], a["action"]) for a in second["actions"]} == {
        ("bale-messaging", "throttle"), ("bale-media", "throttle"), ("eitaa-messaging", "throttle"),
        ("eitaa-media", "throttle")}
    lowered = emulator.objects("ConfigMap")[("bale-media", "dctenant-bandwidth")]["data"]["maxEgress"]
    # envelope / usage: the simulator runs bale at 1.15 x its envelope (ratio 0.870), but a 5 s rate()
    # over 1 s scrapes reads a few percent high or low on a loaded machine (0.832 seen in CI).
    assert Decimal("0.78") < _quantity(lowered) / _quantity(config_map) < Decimal("0.92")
    template = emulator.objects("Deployment")[("bale-media", "api")]["spec"]["template"]["metadata"]["annotations"]
    assert template["kubernetes.io/egress-bandwidth"] == lowered
    assert template["kubernetes.io/ingress-bandwidth"] == "10G"  # only egress is over
    hard = emulator.objects("ResourceQuota")[("eitaa-media", "dctenant-quota")]["spec"]["hard"]
    assert hard["ssd-standard.storageclass.storage.k8s.io/requests.storage"] == "1"  # = used
    assert hard["requests.cpu"] != "2"  # cpu is within its envelope: untouched
    saved = json.loads(state.read_text())
    assert saved["replaced"]["gap-messaging"]["replicas"] == {"Deployment/api": 3, "StatefulSet/db": 5}

    # Gap's licence as of a day within its grace: the suspension is lifted and replicas come back exactly.
    code, third, err = enforce(capsys, example, metrics, *common[:-4], "--state", str(state), "--ledger", str(audit),
                               "--at", "2026-11-05")
    assert code == 0, err
    assert ("gap-messaging", "undo-suspend") in {(a["namespace"], a["action"]) for a in third["actions"]}
    assert emulator.objects("Deployment")[("gap-messaging", "api")]["spec"]["replicas"] == 3
    assert emulator.objects("StatefulSet")[("gap-messaging", "db")]["spec"]["replicas"] == 5
    assert emulator.objects("ResourceQuota")[("gap-messaging", "dctenant-quota")]["spec"]["hard"]["pods"] == "50"
    assert emulator.objects("Deployment")[("chapar-messaging", "api")]["spec"]["replicas"] == 0  # still revoked

    journal = ledger_db.open_ledger(str(audit))
    try:
        kinds = [e.kind for e in journal.events()]
    finally:
        journal.close()
    assert {"enforcement-decision", "action-taken", "action-undone"} <= set(kinds)
    undone = [a for a in third["actions"] if a["action"].startswith("undo-")]
    assert kinds.count("action-taken") == len(first["actions"]) + len(second["actions"]) + len(
        third["actions"]) - len(undone)
    assert kinds.count("action-undone") == len(undone)


def test_apply_holds_what_the_enforcer_changed_until_it_is_undone(
        capsys: Any, example: pathlib.Path, metrics: prometheus_harness.Prometheus,
        workload: simulator.Simulator, cluster: tuple[kmock_cluster.Emulator, str], tmp_path: pathlib.Path) -> None:
    """enforce --act throttles bale (bandwidth) and eitaa (storage quota) and suspends gap and chapar;
    ``apply`` then keeps those values and says so, and once the throttles are undone finds nothing to do."""
    emulator, config = cluster
    state, audit = tmp_path / "state.json", tmp_path / "ledger_db.db"
    common = ("--act", "--kubeconfig", config, "--state", str(state), "--ledger", str(audit))
    apply_args = ("apply", str(example), "--at", AT, "--pool", POOL, "--kubeconfig", config, "--ledger", str(audit))
    diff_args = ("diff", str(example), "--at", AT, "--pool", POOL, "--kubeconfig", config, "--exit-code")
    for _ in range(2):  # notify, then throttle
        code, _, err = enforce(capsys, example, metrics, *common)
        assert code == 0, err
    bandwidth = ("bale-media", "dctenant-bandwidth")
    storage = ("eitaa-media", "dctenant-quota")
    suspended = ("gap-messaging", "dctenant-quota")
    throttled = dict(emulator.objects("ConfigMap")[bandwidth]["data"])
    lowered = dict(emulator.objects("ResourceQuota")[storage]["spec"]["hard"])
    marks = emulator.objects("ConfigMap")[bandwidth]["metadata"]["annotations"]
    assert marks[changes.ENFORCEMENT] == "throttle bandwidth/egress"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", marks[changes.ENFORCEMENT_SINCE])
    quota_marks = emulator.objects("ResourceQuota")[storage]["metadata"]["annotations"]
    assert quota_marks[changes.ENFORCEMENT] == "throttle storage/ssd-standard"
    assert emulator.objects("ResourceQuota")[suspended]["metadata"]["annotations"][changes.ENFORCEMENT] == "suspend"

    code, out, err = run(capsys, *diff_args, "-o", "json")
    assert code == 0, err  # held objects are not pending
    plan = json.loads(out)["pools"][0]
    held = {(c["kind"], c["namespace"]): c for c in plan["changes"] if c["op"] == "held"}
    assert {("ConfigMap", "bale-media"), ("ConfigMap", "bale-messaging"), ("ResourceQuota", "eitaa-media"),
            ("ResourceQuota", "eitaa-messaging"), ("ResourceQuota", "gap-messaging"),
            ("ResourceQuota", "chapar-messaging")} <= set(held)
    assert plan["counts"]["held"] == len(held) and plan["counts"]["update"] == 0
    egress = held["ConfigMap", "bale-media"]
    assert egress["held"]["action"] == "throttle bandwidth/egress"
    assert egress["held"]["since"] == marks[changes.ENFORCEMENT_SINCE]
    assert egress["reason"].startswith("held by enforcement (throttle bandwidth/egress) since ")
    assert [(f["path"], f["before"]) for f in egress["held"]["fields"]] == [("data.maxEgress", throttled["maxEgress"])]
    code, out, _ = run(capsys, *diff_args[:-1])
    assert "held by enforcement" in out and "kept (quotas/:" in " ".join(out.split())

    before = len(emulator.writes())
    code, out, err = run(capsys, *apply_args)
    assert code == 0, err
    assert emulator.writes()[before:] == []  # nothing but the lease: the enforcement stays in force
    assert emulator.objects("ConfigMap")[bandwidth]["data"] == throttled
    assert emulator.objects("ResourceQuota")[storage]["spec"]["hard"] == lowered
    assert emulator.objects("ResourceQuota")[suspended]["spec"]["hard"]["pods"] == "0"

    # bale and eitaa back to half their envelopes: once Prometheus sees it, the throttles are undone.
    workload.set_loads(loads(example, overrides={}))
    try:
        undone: set[tuple[str, str]] = set()
        deadline = time.monotonic() + 40
        while {("bale", "bandwidth/egress"), ("eitaa", "storage/ssd-standard")} - undone:
            assert time.monotonic() < deadline, "the throttles were not undone"
            code, dry, err = enforce(capsys, example, metrics, "--state", str(state))
            assert code == 0, err
            if any(d["state"] == "breach" and d["action"] != "undo-throttle" for d in dry["decisions"]
                   if d["resource"] != "licence"):
                time.sleep(0.5)  # the rate window still holds the old traffic: acting now would escalate
                continue
            code, cycle, err = enforce(capsys, example, metrics, *common)
            assert code == 0, err
            assert {a["action"] for a in cycle["actions"]} <= {"undo-throttle"}
            undone |= {(a["tenant"], a["resource"]) for a in cycle["actions"]}
    finally:
        workload.set_loads(loads(example))
    assert emulator.objects("ConfigMap")[bandwidth]["data"] != throttled  # restored
    assert changes.ENFORCEMENT not in (emulator.objects("ConfigMap")[bandwidth]["metadata"].get("annotations") or {})
    assert changes.ENFORCEMENT_SINCE not in (
        emulator.objects("ResourceQuota")[storage]["metadata"].get("annotations") or {})

    code, out, err = run(capsys, *diff_args, "-o", "json")
    assert code == 0, err
    plan = json.loads(out)["pools"][0]
    assert [c for c in plan["changes"] if c["op"] != "held"] == []
    assert {c["namespace"] for c in plan["changes"]} == {"gap-messaging", "chapar-messaging"}  # still suspended
    before = len(emulator.writes())
    assert run(capsys, *apply_args)[0] == 0
    assert emulator.writes()[before:] == []

    # Staff may release a suspension deliberately: the rendered quota is written back, the marks go,
    # and the ledger says so.
    code, out, err = run(capsys, *apply_args, "--release-enforcement", "-o", "json")
    assert code == 0, err
    assert json.loads(out)["pools"][0]["counts"]["released"] == 2
    (target,) = applying.targets(str(example), at=dt.date.fromisoformat(AT), pools=[POOL])
    rendered = next(m for m in target.desired if m["kind"] == "ResourceQuota"
                    and m["metadata"]["namespace"] == suspended[0])
    quota = emulator.objects("ResourceQuota")[suspended]
    assert {k: quota["spec"]["hard"][k] for k in rendered["spec"]["hard"]} == rendered["spec"]["hard"]
    assert changes.ENFORCEMENT not in (quota["metadata"].get("annotations") or {})
    code, _, err = run(capsys, *diff_args)
    assert code == 0, err
    journal = ledger_db.open_ledger(str(audit))
    try:
        released = [e for e in journal.events() if e.kind == "enforcement-released"]
    finally:
        journal.close()
    assert {e.subject["namespace"] for e in released} == {"gap-messaging", "chapar-messaging"}
    assert all(e.before["action"] == "suspend" for e in released)


def test_each_promql_defect_reads_as_kubernetes_means_it(example: pathlib.Path,
                                                         metrics: prometheus_harness.Prometheus) -> None:
    """RWX once, per-claim max, no sandbox, hostNetwork out, GPU init containers, and unknown where data is missing."""
    model = loading.load(example)
    s = prometheus.settings(metrics.url, rate_window=RATE_WINDOW)
    names = {c.namespace: POOL for c in CASES}
    point = prometheus.Prometheus(s).history(names, where=prometheus.scope(s, model.datacentre, [POOL]),
                                             now=dt.datetime.now(dt.UTC), window=0).latest
    assert point.amount("case-rwx", "storage/ssd-standard") == 130 * GiB  # max(100, 80) + max(10, 30)
    assert point.amount("case-pod", "memory") == GiB  # not + 64 MiB of the pause container
    egress = point.amount("case-pod", "bandwidth/egress")
    assert egress is not None and Decimal("7e6") < egress < Decimal("9e6")  # 8 Mbps once, hostNetwork's 1 Tbps out
    assert point.amount("case-gpu", "nvidia.com/gpu") == 6
    assert point.amount("case-classless", "storage/ssd-standard") is None
    assert point.missing("case-classless", "storage/ssd-standard") == "a claim in case-classless has no storage class"
    for measure in ("cpu", "memory", "bandwidth/egress", "bandwidth/ingress"):
        assert point.amount("case-gap", measure) is None
        assert "cAdvisor has no container series" in point.missing("case-gap", measure)
    assert point.amount("case-gap", "nvidia.com/gpu") == 1  # kube-state-metrics' own measure stays known
    assert point.amount("case-unlisted", "bandwidth/egress") is None
    assert "no kube_pod_info" in point.missing("case-unlisted", "bandwidth/egress")
    assert point.amount("case-unlisted", "memory") == 0


def _igap_memory(example: pathlib.Path, workload: simulator.Simulator, metrics: prometheus_harness.Prometheus,
                 value: int) -> None:
    """igap's one namespace in thr-ab uses exactly ``value`` bytes, in one pod, once Prometheus has scraped it."""
    changed = []
    for load in loads(example):
        pods = tuple(dataclasses.replace(p, memory=float(value) if i == 0 else 0.0) for i, p in enumerate(load.pods))
        changed.append(dataclasses.replace(load, pods=pods) if load.namespace == "igap-messaging" else load)
    workload.set_loads(changed)
    query = 'sum(container_memory_working_set_bytes{namespace="igap-messaging",container="app"})'
    deadline = time.monotonic() + 20
    while float(metrics.query(query)["data"]["result"][0]["value"][1]) != value:
        assert time.monotonic() < deadline, "Prometheus did not scrape the new working set"
        time.sleep(0.2)
    time.sleep(1.2)  # a cycle is evaluated at its whole second, up to one second before it runs


def test_thresholds_exactly_at_warning_breach_and_recovery(
        capsys: Any, example: pathlib.Path, metrics: prometheus_harness.Prometheus, workload: simulator.Simulator,
        tmp_path: pathlib.Path) -> None:
    """warningAt (75%) is reached at exactly 75%, breachAt (100%) is exceeded only above 100%, and actions
    are undone only strictly below 75%, read through a real Prometheus (memory is an exact gauge)."""
    model = loading.load(example)
    envelope = planning.allocate(model, at=dt.date.fromisoformat(AT)).tenants["igap"].shares[POOL].envelope["memory"]
    warning = envelope * 3 / 4
    assert warning == int(warning)
    state = tmp_path / "state.json"

    def igap(value: Decimal, *extra: str) -> tuple[str, str]:
        _igap_memory(example, workload, metrics, int(value))
        code, result, err = enforce(capsys, example, metrics, "--state", str(state), *extra)
        assert code in (0, 3), err
        d = next(d for d in result["decisions"] if (d["tenant"], d["resource"]) == ("igap", "memory"))
        assert Decimal(d["usage"]) == value
        return d["state"], d["action"]

    try:
        assert igap(warning - 1) == ("ok", "none")
        assert igap(warning) == ("warning", "notify")
        assert igap(envelope) == ("warning", "notify")  # exactly at breachAt: not a breach
        assert igap(envelope + 1) == ("breach", "notify")
        # A throttle in force (as an acting enforcer would have saved it): undone strictly below 75% only.
        state.write_text(json.dumps({"version": 2, "replaced": {}, "tracks": [
            {"tenant": "igap", "pool": POOL, "resource": "memory", "warned": True,
             "taken": ["notify", "throttle"], "actedAt": "2026-11-27T10:00:00+00:00"}]}))
        assert igap(warning) == ("breach", "none")
        assert igap(warning - 1) == ("ok", "undo-throttle")
    finally:
        workload.set_loads(loads(example))


def test_prometheus_down_means_unknown_no_action_and_exit_1(
        capsys: Any, example: pathlib.Path, metrics: prometheus_harness.Prometheus,
        cluster: tuple[kmock_cluster.Emulator, str], tmp_path: pathlib.Path) -> None:
    emulator, config = cluster
    state = tmp_path / "state.json"
    common = ("--act", "--kubeconfig", config, "--state", str(state), "--ledger", str(tmp_path / "ledger_db.db"))
    code, _, err = enforce(capsys, example, metrics, *common)
    assert code == 0, err
    writes = len(emulator.writes())
    metrics.stop()  # the module's last test: Prometheus is gone from here on

    code, result, err = enforce(capsys, example, metrics, *common, "--exit-code", "--timeout", "2")
    assert code == 1
    assert result["actions"] == []
    assert len(emulator.writes()) == writes
    resources = [d for d in result["decisions"] if d["resource"] != "licence"]
    assert resources and all(d["state"] == "unknown" and d["usage"] is None for d in resources)
    assert f"missing data: Prometheus at {metrics.url} is unreachable" in " ".join(err.split())
    saved = json.loads(state.read_text())
    assert any(t["taken"] for t in saved["tracks"])  # nothing was undone for lack of data


def _quantity(text: str) -> Decimal:
    from dctenant.domain import quantities

    return quantities.Quantity.parse(text)


# Sustained windows from Prometheus' history, restarts, and one endpoint for two pools -------------


def _policy(root: pathlib.Path, **changes: str) -> pathlib.Path:
    """A copy of the example whose enforcement policy has ``changes`` (``sustainedFor="20s"``)."""
    target = root / "quotas"
    shutil.copytree(ROOT / "quotas", target)
    policy = target / "policy.yaml"
    text = policy.read_text(encoding="utf-8")
    for key, value in changes.items():
        text, count = re.subn(rf"(\n    {key}: )\S+", rf"\g<1>{value}", text)
        assert count == 1, key
    policy.write_text(text, encoding="utf-8")
    return target


def _dctenant() -> list[str]:
    script = pathlib.Path(sys.executable).with_name("dctenant")
    return [str(script)] if script.exists() else [sys.executable, "-m", "dctenant.cli.main"]


def _with_igap(model_root: pathlib.Path, factor: float) -> tuple[simulator.NamespaceLoad, ...]:
    """The example's pool thr-ab at half of every envelope, igap's memory at ``factor`` × its envelope."""
    model = loading.load(model_root)
    allocation = planning.allocate(model, at=dt.date.fromisoformat(AT))
    return simulator.loads_for(model, allocation, pools=[POOL],
                               overrides={("igap", POOL, "memory"): Decimal(str(factor))})


def test_a_breach_older_than_the_window_is_reported_by_a_fresh_dry_run(tmp_path: pathlib.Path) -> None:
    """History backfilled with promtool: igap's memory 20% over its envelope for the last 20 minutes, under it
    before. The example's own policy (sustainedFor 10m) and no state at all: one dry-run --once in a new
    process reports the breach and the action it would take."""
    now = time.time()
    under, over = _with_igap(ROOT / "quotas", 0.5), _with_igap(ROOT / "quotas", 1.2)
    history = simulator.openmetrics([(now - 2400, now - 1200, under), (now - 1200, now + 30, over)], step=15,
                                    cluster=prometheus_harness.CLUSTER)
    prom = prometheus_harness.Prometheus()
    try:
        prom.backfill(history)
        prom.start()
        prom.wait_until('up{job="kube-state-metrics"}', count=1, timeout=60)
        done = subprocess.run(
            [*_dctenant(), "enforce", str(ROOT / "quotas"), "--pool", POOL, "--prometheus", prom.url, "--at", AT,
             "--once", "--rate-window", "1m", "--step", "1m", "--state", str(tmp_path / "none.json"), "-o", "json"],
            capture_output=True, text=True, timeout=120, check=False,
            env={**os.environ, "XDG_STATE_HOME": str(tmp_path)})
        assert done.returncode == 0, done.stderr
        result = json.loads(done.stdout)
        igap = next(d for d in result["decisions"] if (d["tenant"], d["resource"]) == ("igap", "memory"))
        assert (igap["state"], igap["action"]) == ("breach", "notify"), igap
        assert igap["reason"].endswith("envelope for 15 min (window 10 min)")  # as far back as the history asked
        assert not (tmp_path / "none.json").exists()
    finally:
        prom.cleanup()


def _cycles(process: subprocess.Popen[str], found: list[dict[str, Any]]) -> threading.Thread:
    """Collect the JSON cycles a looping enforcer prints, as they come."""
    def read() -> None:
        decoder, text = json.JSONDecoder(), ""
        assert process.stdout is not None
        for line in process.stdout:
            text += line
            while text.strip():
                try:
                    obj, end = decoder.raw_decode(text.lstrip())
                except ValueError:
                    break
                found.append(obj)
                text = text.lstrip()[end:]

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    return reader


def test_a_restarted_enforcer_breaches_on_time(tmp_path: pathlib.Path) -> None:
    """sustainedFor 20s: an enforcer killed 10 s into igap's breach and started again reports the breach
    20 s after it began (not 20 s after its own start, as a clock kept in memory would)."""
    root = _policy(tmp_path, sustainedFor="20s", recoveryWindow="20s", gracePeriod="0s")
    sim = simulator.Simulator(_with_igap(root, 0.5)).start()
    prom = prometheus_harness.Prometheus(sim.address).start()
    processes: list[subprocess.Popen[str]] = []
    readers: list[threading.Thread] = []
    try:
        prom.wait_until('count_over_time(up{job="kube-state-metrics"}[40s]) >= 30', timeout=60)
        args = [*_dctenant(), "enforce", str(root), "--pool", POOL, "--prometheus", prom.url, "--at", AT,
                "--interval", "1s", "--rate-window", "5s", "--step", "1s", "--state", str(tmp_path / "s.json"),
                "-o", "json"]

        def start() -> list[dict[str, Any]]:
            found: list[dict[str, Any]] = []
            processes.append(subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                                              env={**os.environ, "XDG_STATE_HOME": str(tmp_path)}))
            readers.append(_cycles(processes[-1], found))
            return found

        def igap(cycle: dict[str, Any]) -> str:
            return str(next(d["state"] for d in cycle["decisions"]
                            if (d["tenant"], d["resource"]) == ("igap", "memory")))

        first = start()
        began = dt.datetime.now(dt.UTC)
        sim.set_loads(_with_igap(root, 1.2))
        time.sleep(10)
        processes[0].send_signal(signal.SIGKILL)
        processes[0].wait(timeout=10)
        assert first and {igap(c) for c in first if dt.datetime.fromisoformat(c["at"]) > began + dt.timedelta(
            seconds=2)} == {"warning"}  # over, not yet sustained, when it died
        restarted = dt.datetime.now(dt.UTC)
        second = start()
        deadline = time.monotonic() + 40
        while not any(igap(c) == "breach" for c in second):
            assert time.monotonic() < deadline, "the restarted enforcer never reported the breach"
            time.sleep(0.2)
        at = min(dt.datetime.fromisoformat(c["at"]) for c in second if igap(c) == "breach")
        assert began + dt.timedelta(seconds=20) <= at <= began + dt.timedelta(seconds=26), (began, restarted, at)
        assert at < restarted + dt.timedelta(seconds=20)
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
            process.wait(timeout=10)
        for reader in readers:
            reader.join(timeout=10)
        for process in processes:
            if process.stdout is not None:
                process.stdout.close()
        prom.cleanup()
        sim.stop()


def test_two_pools_on_one_endpoint_read_only_their_own_series(capsys: Any, example: pathlib.Path) -> None:
    """Two simulators behind one Prometheus, told apart by the cluster label. thr-pd's cluster also runs an
    unmanaged namespace named like igap's thr-ab namespace, with 100 times igap's memory envelope, and a
    copy of bale's namespaces with 10 Tbps of egress: thr-ab's decisions must not see them."""
    model = loading.load(example)
    allocation = planning.allocate(model, at=dt.date.fromisoformat(AT))
    envelope = allocation.tenants["igap"].shares[POOL].envelope["memory"]
    ab = simulator.Simulator(loads(example)).start()
    rogue = (simulator.NamespaceLoad(namespace="igap-messaging", pods=(simulator.Pod(name="x", memory=float(
                 envelope * 100)),)),
             simulator.NamespaceLoad(namespace="bale-media", pods=(simulator.Pod(name="x", egress=1e13),)))
    pd = simulator.Simulator((*simulator.loads_for(model, allocation, pools=["thr-pd"]), *rogue)).start()
    prom = prometheus_harness.Prometheus({"thr-ab": ab.address, "thr-pd": pd.address}).start()
    try:
        prom.wait_until("up == 1", count=6)
        prom.wait_until('count_over_time(up{job="kube-state-metrics",cluster="thr-pd"}[10s]) >= 7', timeout=30)
        code, result, err = enforce(capsys, example, prom)
        assert code == 0, err
        assert result["missing"] == []
        assert flagged(result) == {
            ("bale", "bandwidth/egress"): ("breach", "notify"), ("eitaa", "storage/ssd-standard"): ("breach", "notify"),
            ("chapar", "licence"): ("suspended", "suspend"), ("gap", "licence"): ("suspended", "suspend"),
            ("rubika", "licence"): ("warning", "notify"), ("soroush", "licence"): ("warning", "notify")}
        egress = next(d for d in result["decisions"] if (d["tenant"], d["resource"]) == ("bale", "bandwidth/egress"))
        assert Decimal("1.1") < Decimal(egress["usage"]) / Decimal(egress["envelope"]) < Decimal("1.2")
        code, other, err = run(capsys, "enforce", str(example), "--pool", "thr-pd", "--prometheus", prom.url,
                               "--at", AT, "--rate-window", RATE_WINDOW, "--once", "-o", "json")
        assert code == 0, err
        decisions = json.loads(other)["decisions"]
        assert {d["pool"] for d in decisions} == {"thr-pd"}
        assert all(d["state"] != "breach" for d in decisions)
        assert {d["state"] for d in decisions if d["resource"] != "licence"} <= {"ok", "warning"}
    finally:
        prom.cleanup()
        ab.stop()
        pd.stop()
