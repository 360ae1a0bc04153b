"""Carry out enforcement decisions on a tenant's namespaces in one cluster, and undo them exactly.

Each action records what it replaces before changing it (in ``replaced``, persisted with the
enforcer's state), so that undoing it puts back the very values it found: replica counts, quota
limits, the bandwidth parameters and pod-template annotations. Saving is first-write-wins, so a
repeated or overlapping action never overwrites the original with an already-lowered value.

* ``notify``: an Event on each namespace (the webhook is sent by the caller, once per cycle).
* ``throttle``: bandwidth — lower the namespace's per-pod maximum in the ``dctenant-bandwidth``
  ConfigMap by the factor the tenant is over, and annotate Deployments' and StatefulSets' pod
  templates down to it (a rollout then shapes the new pods); compute and storage — set the
  ResourceQuota's ``hard`` to its current ``used``, so the tenant cannot grow.
* ``scale-down``: halve the replicas (rounded up); ``suspend``: quota ``pods: 0`` and replicas 0.

Undoing ``suspend`` while ``scale-down`` is still in force leaves the halved counts; undoing either
while the other's stronger effect is held by another track leaves replicas alone.

The quota and the bandwidth ConfigMap are also rendered by ``dctenant apply``, so the patch that
changes one also marks it (``changes.ENFORCEMENT``: what is in force on it, read from ``replaced``;
``changes.ENFORCEMENT_SINCE``: when the first of those began), and the planner holds a marked
object's values instead of writing the envelope back. The undo that leaves nothing in force on an
object removes both marks in the same patch that restores its values. Workloads carry no mark:
``apply`` does not manage them.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Collection, Mapping, MutableMapping
from decimal import Decimal
from typing import Any

from dctenant.clients import kube
from dctenant.domain import changes, quantities, resources, usage
from dctenant.render import admission, kubernetes

REASON = "DctenantEnforcement"
MIN_BANDWIDTH = Decimal(1000)  # the kubelet's minimum, as in the admission policy
STEP = Decimal(10**6)
ANNOTATIONS = {resources.EGRESS: admission.EGRESS_ANNOTATION, resources.INGRESS: admission.INGRESS_ANNOTATION}
PARAMS = {resources.EGRESS: admission.MAX_EGRESS, resources.INGRESS: admission.MAX_INGRESS}
Replaced = MutableMapping[str, Any]


def perform(cluster: kube.Cluster, decision: usage.Decision, *, namespace: str, replaced: Replaced,
            held: Collection[str], now: dt.datetime | None = None) -> str:
    """Carry out ``decision.action`` in one namespace; returns what was done, in words.

    ``now`` is the time a new mark records as the start of enforcement (default: the clock).
    """
    action, resource = decision.action, decision.resource
    saved: Replaced = replaced.setdefault(namespace, {})
    since = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    done: str
    if action == "notify":
        done = "event posted"
    elif action == "throttle":
        done = _throttle(cluster, decision, namespace=namespace, saved=saved, since=since)
    elif action == "scale-down":
        done = _replicas(cluster, namespace=namespace, saved=saved, halve=True)
    elif action == "suspend":
        done = _suspend(cluster, namespace=namespace, saved=saved, since=since)
    elif action == usage.UNDO + "throttle":
        done = _unthrottle(cluster, resource, namespace=namespace, saved=saved)
    elif action == usage.UNDO + "scale-down":
        done = "replicas stay at zero (suspended)" if "suspend" in held else _restore_replicas(
            cluster, namespace=namespace, saved=saved, halve=False)
    elif action == usage.UNDO + "suspend":
        done = _unsuspend(cluster, namespace=namespace, saved=saved, held=held)
    else:
        raise ValueError(f"unknown action {action}")
    if not saved:
        replaced.pop(namespace, None)
    cluster.event(namespace=namespace, reason=REASON, message=f"{action}: {decision.reason}",
                  warning=not action.startswith(usage.UNDO))
    return done


def in_force(saved: Mapping[str, Any], kind: str) -> str:
    """What ``saved`` says is in force on the namespace's quota or bandwidth ConfigMap, as the mark's value.

    ``"suspend, throttle cpu, throttle storage/ssd-standard"`` for the quota; ``""`` when nothing is.
    """
    record = "config" if kind == "ConfigMap" else "quota"
    parts = ["suspend"] if kind == "ResourceQuota" and "pods" in saved else []
    parts += [f"throttle {r}" for r, kept in sorted((saved.get("throttle") or {}).items()) if record in kept]
    return ", ".join(parts)


def _marks(saved: Mapping[str, Any], kind: str, *, live: Mapping[str, Any] | None = None,
           since: str = "") -> dict[str, Any]:
    """The ``metadata`` of a patch that brings the enforcer's marks in line with ``saved``.

    With something in force, the mark names it; the start is kept from ``live`` when the object
    was already marked, else ``since``. With nothing in force, both marks are removed.
    """
    value = in_force(saved, kind)
    if not value:
        return {"annotations": {changes.ENFORCEMENT: None, changes.ENFORCEMENT_SINCE: None}}
    notes = ((live or {}).get("metadata") or {}).get("annotations") or {}
    marks = {changes.ENFORCEMENT: value}
    if live is not None and not notes.get(changes.ENFORCEMENT_SINCE):
        marks[changes.ENFORCEMENT_SINCE] = since
    return {"annotations": marks}


def _throttle(cluster: kube.Cluster, decision: usage.Decision, *, namespace: str, saved: Replaced,
              since: str) -> str:
    resource = decision.resource
    kept = saved.setdefault("throttle", {})
    if resource in kept:
        return "already throttled"
    if resource in ANNOTATIONS:
        return _throttle_bandwidth(cluster, decision, namespace=namespace, saved=saved, since=since)
    quota = cluster.get(kube.KINDS["ResourceQuota"], name=kubernetes.QUOTA, namespace=namespace) or {}
    hard = (quota.get("spec") or {}).get("hard") or {}
    used = (quota.get("status") or {}).get("used") or {}
    keys = resources.quota_keys(resource)
    kept[resource] = {"quota": {k: hard.get(k) for k in keys}}
    new = {k: used.get(k, "0") for k in keys}
    cluster.patch(kube.KINDS["ResourceQuota"], name=kubernetes.QUOTA, namespace=namespace, patch={
        "metadata": _marks(saved, "ResourceQuota", live=quota, since=since), "spec": {"hard": new}})
    return "quota hard set to used: " + ", ".join(f"{k}={v}" for k, v in new.items())


def _throttle_bandwidth(cluster: kube.Cluster, decision: usage.Decision, *, namespace: str, saved: Replaced,
                        since: str) -> str:
    resource = decision.resource
    kept = saved["throttle"]
    param, annotation = PARAMS[resource], ANNOTATIONS[resource]
    factor = Decimal(1)
    if decision.usage and decision.envelope is not None and decision.usage > 0:
        factor = min(Decimal(1), decision.envelope / decision.usage)
    config = cluster.get(kube.KINDS["ConfigMap"], name=kubernetes.BANDWIDTH, namespace=namespace) or {}
    current = (config.get("data") or {}).get(param)
    top = quantities.Quantity.parse(current) if current else MIN_BANDWIDTH
    # Down to a whole Mbit/s, so the parameter and annotations stay readable (150347M, not 150347628086).
    lowered = max(MIN_BANDWIDTH, quantities.floor_to_step(top * factor, STEP))
    text = quantities.Quantity.format(lowered)
    record: dict[str, Any] = {"config": {param: current}, "templates": {}}
    kept[resource] = record
    cluster.patch(kube.KINDS["ConfigMap"], name=kubernetes.BANDWIDTH, namespace=namespace, patch={
        "metadata": _marks(saved, "ConfigMap", live=config, since=since), "data": {param: text}})
    annotated = 0
    for what in kube.WORKLOADS:
        for obj in cluster.list_in(what, namespace=namespace):
            name = obj["metadata"]["name"]
            notes = ((obj.get("spec") or {}).get("template") or {}).get("metadata", {}).get("annotations") or {}
            old = notes.get(annotation)
            if old is not None and _parses(old) and quantities.Quantity.parse(old) <= lowered:
                continue
            record["templates"][f"{what.kind}/{name}"] = old
            cluster.patch(what, name=name, namespace=namespace,
                          patch={"spec": {"template": {"metadata": {"annotations": {annotation: text}}}}})
            annotated += 1
    return f"{param} {current} → {text}; {annotated} pod template(s) annotated"


def _unthrottle(cluster: kube.Cluster, resource: str, *, namespace: str, saved: Replaced) -> str:
    kept = saved.get("throttle") or {}
    record = kept.pop(resource, None)
    if not kept:
        saved.pop("throttle", None)
    if record is None:
        return "nothing to restore"
    if "quota" in record:
        cluster.patch(kube.KINDS["ResourceQuota"], name=kubernetes.QUOTA, namespace=namespace,
                      patch={"metadata": _marks(saved, "ResourceQuota"), "spec": {"hard": record["quota"]}})
        return "quota hard restored"
    cluster.patch(kube.KINDS["ConfigMap"], name=kubernetes.BANDWIDTH, namespace=namespace,
                  patch={"metadata": _marks(saved, "ConfigMap"), "data": record["config"]})
    for ref, old in record["templates"].items():
        kind_name, name = ref.split("/", 1)
        try:
            cluster.patch(kube.KINDS[kind_name], name=name, namespace=namespace, patch={"spec": {"template": {
                "metadata": {"annotations": {ANNOTATIONS[resource]: old}}}}})
        except kube.ApiError as exc:
            if exc.status != 404:  # a workload deleted since needs nothing back
                raise
    return f"bandwidth parameter and {len(record['templates'])} pod template(s) restored"


def _replicas(cluster: kube.Cluster, *, namespace: str, saved: Replaced, halve: bool) -> str:
    """Save every workload's replicas (first time only), then set them to half or zero."""
    kept: dict[str, int] = saved.setdefault("replicas", {})
    changed = 0
    for what in kube.WORKLOADS:
        for obj in cluster.list_in(what, namespace=namespace):
            ref = f"{what.kind}/{obj['metadata']['name']}"
            current = int((obj.get("spec") or {}).get("replicas", 1))
            kept.setdefault(ref, current)
            target = math.ceil(kept[ref] / 2) if halve else 0
            if current != target:
                cluster.patch(what, name=obj["metadata"]["name"], namespace=namespace,
                              patch={"spec": {"replicas": target}})
                changed += 1
    return f"{changed} workload(s) scaled to {'half' if halve else 'zero'}"


def _restore_replicas(cluster: kube.Cluster, *, namespace: str, saved: Replaced, halve: bool) -> str:
    kept: dict[str, int] = saved.get("replicas") or {}
    for ref, count in kept.items():
        kind_name, name = ref.split("/", 1)
        target = math.ceil(count / 2) if halve else count
        try:
            cluster.patch(kube.KINDS[kind_name], name=name, namespace=namespace, patch={"spec": {"replicas": target}})
        except kube.ApiError as exc:
            if exc.status != 404:
                raise
    if not halve:
        saved.pop("replicas", None)
    return f"{len(kept)} workload(s) restored to {'half of ' if halve else ''}their previous replicas"


def _suspend(cluster: kube.Cluster, *, namespace: str, saved: Replaced, since: str) -> str:
    quota = cluster.get(kube.KINDS["ResourceQuota"], name=kubernetes.QUOTA, namespace=namespace) or {}
    saved.setdefault("pods", ((quota.get("spec") or {}).get("hard") or {}).get("pods"))
    if quota:
        cluster.patch(kube.KINDS["ResourceQuota"], name=kubernetes.QUOTA, namespace=namespace, patch={
            "metadata": _marks(saved, "ResourceQuota", live=quota, since=since), "spec": {"hard": {"pods": "0"}}})
    return "quota pods: 0; " + _replicas(cluster, namespace=namespace, saved=saved, halve=False)


def _unsuspend(cluster: kube.Cluster, *, namespace: str, saved: Replaced, held: Collection[str]) -> str:
    if "suspend" in held:
        return "another track keeps the tenant suspended"
    if "pods" in saved:
        pods = saved.pop("pods")
        cluster.patch(kube.KINDS["ResourceQuota"], name=kubernetes.QUOTA, namespace=namespace,
                      patch={"metadata": _marks(saved, "ResourceQuota"), "spec": {"hard": {"pods": pods}}})
    return "quota pods restored; " + _restore_replicas(cluster, namespace=namespace, saved=saved,
                                                      halve="scale-down" in held)


def _parses(text: str) -> bool:
    try:
        quantities.Quantity.parse(text)
    except quantities.QuantityError:
        return False
    return True
