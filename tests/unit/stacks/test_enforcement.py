"""Objects held by enforcement: the stack declares them with their held map ignored, and says so.

The program asks the pool's cluster which quotas and bandwidth ConfigMaps the enforcer marked
(``stacking.held_objects``); under mocks a fake lookup answers. With ``respectEnforcement`` false
nothing is asked and nothing ignored; a cluster that cannot be read stops the program.
"""

from __future__ import annotations

from typing import Any

import pulumi
import pytest

from dctenant.errors import BackendError
from dctenant.ops import stacking
from tests.unit.stacks import harness

NS = harness.PROJECT
POOL = "thr-ab"
CONTEXT = harness.stack_config(POOL)[f"{NS}:context"]
QUOTA = stacking.HeldObject(kind="ResourceQuota", namespace="bale-messaging", name="dctenant-quota",
                            action="throttle cpu", since="2026-11-27T10:00:00Z")
BANDWIDTH = stacking.HeldObject(kind="ConfigMap", namespace="bale-media", name="dctenant-bandwidth",
                                action="throttle bandwidth/egress", since="2026-11-27T11:00:00Z")
ELSEWHERE = stacking.HeldObject(kind="ResourceQuota", namespace="bale-ml", name="dctenant-quota",
                                action="suspend")  # in thr-pd: not declared by thr-ab's stack


def config(**overrides: str) -> dict[str, str]:
    settings = {**harness.stack_config(POOL), f"{NS}:at": "2026-11-27"}
    settings.update({f"{NS}:{k}": v for k, v in overrides.items()})
    return settings


class Lookup:
    """A fake cluster: reports ``held`` and records the contexts it was asked about."""

    def __init__(self, *held: stacking.HeldObject) -> None:
        self.held = held
        self.asked: list[str] = []

    def __call__(self, context: str) -> tuple[stacking.HeldObject, ...]:
        self.asked.append(context)
        return self.held


def ignored(run: harness.Run) -> dict[harness.Key, tuple[str, ...]]:
    return {harness.manifest_key(r.inputs): r.ignore_changes for r in run.kubernetes if r.ignore_changes}


def test_held_objects_are_declared_with_their_held_map_ignored() -> None:
    lookup = Lookup(QUOTA, BANDWIDTH, ELSEWHERE)
    run = harness.run(POOL, config(), lookup=lookup)
    assert lookup.asked == [CONTEXT]  # through the pool's own kubeconfig context
    assert ignored(run) == {QUOTA.key: ("spec.hard",), BANDWIDTH.key: ("data",)}
    assert len(run.kubernetes) > 2  # every other object is declared without ignoreChanges
    quota = next(r for r in run.kubernetes if harness.manifest_key(r.inputs) == QUOTA.key)
    assert quota.inputs["spec"]["hard"]  # still declared with the rendered values (ignored, not dropped)
    assert run.outputs["held"] == [
        {"kind": "ResourceQuota", "namespace": "bale-messaging", "name": "dctenant-quota",
         "action": "throttle cpu", "since": "2026-11-27T10:00:00Z", "ignored": ["spec.hard"]},
        {"kind": "ConfigMap", "namespace": "bale-media", "name": "dctenant-bandwidth",
         "action": "throttle bandwidth/egress", "since": "2026-11-27T11:00:00Z", "ignored": ["data"]},
    ]


def test_inputs_still_equal_render() -> None:
    """Holding changes options, never inputs: the stack still declares exactly what render writes."""
    plain = harness.run(POOL, config())
    held = harness.run(POOL, config(), lookup=Lookup(QUOTA, BANDWIDTH))
    assert not ignored(plain) and plain.outputs["held"] == []
    assert held.objects() == plain.objects()


def test_respect_enforcement_false_asks_nothing_and_ignores_nothing() -> None:
    lookup = Lookup(QUOTA, BANDWIDTH)
    run = harness.run(POOL, config(respectEnforcement="false"), lookup=lookup)
    assert lookup.asked == []
    assert ignored(run) == {}
    assert run.outputs["held"] == []


def test_unreachable_cluster_stops_the_program() -> None:
    def unreachable(context: str) -> Any:
        raise BackendError(f"cannot reach the cluster of context {context} at https://10.0.0.1:6443: refused")

    with pytest.raises(pulumi.RunError) as caught:
        harness.run(POOL, config(), lookup=unreachable)
    message = str(caught.value)
    assert f"pool {POOL} (context {CONTEXT})" in message
    assert "cannot reach the cluster" in message
    assert "pulumi config set respectEnforcement false" in message
    run = harness.run(POOL, config(respectEnforcement="false"), lookup=unreachable)  # a release needs no lookup
    assert run.kubernetes and not ignored(run)


def test_held_objects_reads_the_marks(monkeypatch: pytest.MonkeyPatch) -> None:
    """One list per held kind, with the managed-by selector; unmarked objects and other kinds are not held."""
    from dctenant.clients import kube

    marked = {"dctenant.io/enforcement": "suspend", "dctenant.io/enforcement-since": "2026-11-27T10:00:00Z"}
    answers = {
        "ResourceQuota": [
            {"kind": "ResourceQuota", "metadata": {"name": "dctenant-quota", "namespace": "b", "annotations": marked}},
            {"kind": "ResourceQuota", "metadata": {"name": "dctenant-quota", "namespace": "a"}},
        ],
        "ConfigMap": [{"kind": "ConfigMap", "metadata": {"name": "dctenant-bandwidth", "namespace": "a",
                                                         "annotations": {"dctenant.io/enforcement": "throttle x"}}}],
    }

    class Cluster:
        def __init__(self) -> None:
            self.listed: list[str] = []
            self.closed = False

        def list_managed(self, what: kube.Kind) -> list[dict[str, Any]]:
            self.listed.append(what.kind)
            return answers[what.kind]

        def close(self) -> None:
            self.closed = True

    cluster = Cluster()
    contexts: list[str] = []

    def connect(*, context: str) -> Cluster:
        contexts.append(context)
        return cluster

    monkeypatch.setattr(kube, "connect", connect)
    found = stacking.held_objects("ndc-thr-ab")
    assert contexts == ["ndc-thr-ab"] and cluster.listed == ["ResourceQuota", "ConfigMap"] and cluster.closed
    assert [(h.key, h.action, h.since) for h in found] == [
        (("ConfigMap", "a", "dctenant-bandwidth"), "throttle x", ""),
        (("ResourceQuota", "b", "dctenant-quota"), "suspend", "2026-11-27T10:00:00Z"),
    ]
