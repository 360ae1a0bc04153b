"""The enforcer's marks: each action on the quota or bandwidth ConfigMap marks it, the last undo unmarks it."""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from dctenant.clients import kube
from dctenant.domain import changes, resources, usage
from dctenant.ops import acting

T0 = dt.datetime(2026, 11, 27, 10, 0, tzinfo=dt.UTC)


def merge(target: dict[str, Any], patch: Mapping[str, Any]) -> None:
    """RFC 7386 JSON merge patch, in place."""
    for name, value in patch.items():
        if value is None:
            target.pop(name, None)
        elif isinstance(value, Mapping):
            merge(target.setdefault(name, {}), value)
        else:
            target[name] = value


class Store(kube.Cluster):
    """A namespace holding the quota, the bandwidth ConfigMap and nothing else; patches are merged."""

    def __init__(self) -> None:
        super().__init__(api=None, context="test", server="test")
        self.objects: dict[str, dict[str, Any]] = {
            "resourcequotas": {"spec": {"hard": {"requests.cpu": "10", "limits.cpu": "20", "pods": "100"}},
                               "status": {"used": {"requests.cpu": "4", "limits.cpu": "8"}}},
            "configmaps": {"data": {"maxEgress": "10G", "maxIngress": "10G"}}}
        self.original = copy.deepcopy(self.objects)

    def call(self, method: str, path: str, *, query: Mapping[str, str] | None = None,
             body: Mapping[str, Any] | None = None, content_type: str = "application/json") -> dict[str, Any]:
        parts = path.split("/")
        plural = parts[-2] if parts[-2] in self.objects else parts[-1]
        if plural not in self.objects:
            return {"items": []} if method == "GET" else {}
        if method == "PATCH":
            assert body is not None and query == {"fieldManager": changes.ENFORCER}
            merge(self.objects[plural], body)
        return copy.deepcopy(self.objects[plural])

    def marks(self, plural: str) -> dict[str, str]:
        return dict((self.objects[plural].get("metadata") or {}).get("annotations") or {})


def act(cluster: Store, replaced: dict[str, Any], resource: str, action: str, now: dt.datetime,
        held: tuple[str, ...] = ()) -> None:
    decision = usage.Decision(tenant="bale", pool="thr-ab", resource=resource, state=usage.State.BREACH,
                              usage=Decimal(12 * 10**9), envelope=Decimal(10 * 10**9), action=action, reason="test")
    acting.perform(cluster, decision, namespace="bale-media", replaced=replaced, held=held, now=now)


def test_marks_follow_what_is_in_force_and_keep_their_start() -> None:
    cluster, replaced = Store(), {}
    act(cluster, replaced, resources.CPU, "throttle", T0)
    assert cluster.marks("resourcequotas") == {changes.ENFORCEMENT: "throttle cpu",
                                               changes.ENFORCEMENT_SINCE: "2026-11-27T10:00:00Z"}
    assert cluster.marks("configmaps") == {}  # a compute throttle leaves the bandwidth parameters alone
    act(cluster, replaced, resources.CPU, "suspend", T0 + dt.timedelta(minutes=30))
    assert cluster.marks("resourcequotas") == {changes.ENFORCEMENT: "suspend, throttle cpu",
                                               changes.ENFORCEMENT_SINCE: "2026-11-27T10:00:00Z"}
    act(cluster, replaced, resources.EGRESS, "throttle", T0 + dt.timedelta(minutes=40))
    assert cluster.marks("configmaps") == {changes.ENFORCEMENT: "throttle bandwidth/egress",
                                           changes.ENFORCEMENT_SINCE: "2026-11-27T10:40:00Z"}

    act(cluster, replaced, resources.CPU, "undo-suspend", T0 + dt.timedelta(hours=1))
    assert cluster.marks("resourcequotas") == {changes.ENFORCEMENT: "throttle cpu",
                                               changes.ENFORCEMENT_SINCE: "2026-11-27T10:00:00Z"}
    act(cluster, replaced, resources.CPU, "undo-throttle", T0 + dt.timedelta(hours=2))
    assert cluster.marks("resourcequotas") == {}
    act(cluster, replaced, resources.EGRESS, "undo-throttle", T0 + dt.timedelta(hours=2))
    assert cluster.marks("configmaps") == {}
    assert not replaced
    for plural in ("resourcequotas", "configmaps"):  # every value exactly as found, and no empty leftovers
        assert {k: v for k, v in cluster.objects[plural].items() if k != "metadata"} == cluster.original[plural]
        assert not (cluster.objects[plural].get("metadata") or {}).get("annotations")


def test_a_suspension_held_by_another_track_keeps_its_mark() -> None:
    cluster, replaced = Store(), {}
    act(cluster, replaced, resources.CPU, "suspend", T0)
    act(cluster, replaced, resources.CPU, "undo-suspend", T0, held=("suspend",))
    assert cluster.marks("resourcequotas")[changes.ENFORCEMENT] == "suspend"
    assert cluster.objects["resourcequotas"]["spec"]["hard"]["pods"] == "0"
