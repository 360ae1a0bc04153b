"""The planner on hand-made manifests: what is created, updated (and which fields), pruned or orphaned."""

from __future__ import annotations

from typing import Any

from dctenant.domain import changes
from dctenant.engine import diffing

MANAGED = {"app.kubernetes.io/managed-by": "dctenant"}


def ns(name: str, **labels: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": {**MANAGED, **labels}}}


def quota(namespace: str, cpu: str = "4", **extra: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ResourceQuota",
            "metadata": {"name": "dctenant-quota", "namespace": namespace, "labels": dict(MANAGED)},
            "spec": {"hard": {"requests.cpu": cpu, "requests.memory": "1Gi", **extra}}}


def live(manifest: dict[str, Any], **status: Any) -> dict[str, Any]:
    """What a server returns: the object plus its own metadata, defaults and status."""
    meta = {**manifest["metadata"], "uid": "u-1", "resourceVersion": "7", "creationTimestamp": "2026-01-01T00:00:00Z"}
    return {**manifest, "metadata": meta, "status": status or {"phase": "Active"}}


def plan(desired: list[dict[str, Any]], observed: list[dict[str, Any]], **kw: Any) -> changes.Plan:
    return diffing.plan(desired, observed, pool="p1", context="ctx-1", **kw)


def ops(result: changes.Plan) -> list[tuple[str, str]]:
    return [(str(c.op), c.ref) for c in result.changes]


def test_everything_missing_is_created_in_the_desired_order() -> None:
    desired = [ns("a"), quota("a"), ns("b"), quota("b")]
    result = plan(desired, [])
    assert ops(result) == [("create", "Namespace a"), ("create", "ResourceQuota a/dctenant-quota"),
                           ("create", "Namespace b"), ("create", "ResourceQuota b/dctenant-quota")]
    assert result.pending and result.unchanged == 0
    assert result.changes[1].manifest == desired[1]


def test_server_additions_are_not_changes() -> None:
    desired = [ns("a"), quota("a")]
    observed = [live(ns("a")), live(quota("a"), hard={"requests.cpu": "4"}, used={"requests.cpu": "1"})]
    observed[0]["metadata"]["labels"]["kubernetes.io/metadata.name"] = "a"  # added by the API server
    observed[0]["spec"] = {"finalizers": ["kubernetes"]}
    del observed[1]["apiVersion"], observed[1]["kind"]  # items of a list answer carry neither
    observed[1].update(apiVersion="v1", kind="ResourceQuota")
    result = plan(desired, observed)
    assert result.changes == () and result.unchanged == 2 and not result.pending


def test_quantities_written_differently_are_equal() -> None:
    desired = [quota("a", cpu="1500m", **{"requests.storage": "1024Mi"})]
    observed = [live(quota("a", cpu="1.5", **{"requests.storage": "1Gi"}))]
    assert plan(desired, observed).changes == ()


def test_a_changed_field_is_an_update_naming_that_field() -> None:
    result = plan([ns("a"), quota("a", cpu="8")], [live(ns("a")), live(quota("a", cpu="4"))])
    (change,) = result.changes
    assert change.op is changes.ChangeOp.UPDATE and change.ref == "ResourceQuota a/dctenant-quota"
    assert change.fields == (changes.FieldDiff(path="spec.hard.requests.cpu", before="4", after="8"),)
    assert result.unchanged == 1


def test_a_missing_label_and_a_changed_list_are_updates() -> None:
    want = ns("a", **{"dctenant.io/tier": "national"})
    policy = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
              "metadata": {"name": "iso", "namespace": "a", "labels": dict(MANAGED)},
              "spec": {"podSelector": {}, "ingress": [{"from": [{"namespaceSelector": {}}]}]}}
    seen = live(policy)
    seen["spec"] = {"podSelector": {}, "ingress": [], "policyTypes": ["Ingress"]}
    result = plan([want, policy], [live(ns("a")), seen])
    assert [(c.ref, [f.path for f in c.fields]) for c in result.changes] == [
        ("Namespace a", ["metadata.labels.dctenant.io/tier"]),
        ("NetworkPolicy a/iso", ["spec.ingress"]),
    ]


def test_a_field_dctenant_applied_but_no_longer_renders_is_an_update() -> None:
    seen = live(quota("a", **{"gold.storageclass.storage.k8s.io/requests.storage": "10Gi"}))
    seen["metadata"]["managedFields"] = [
        {"manager": "dctenant", "operation": "Apply", "fieldsV1": {
            "f:metadata": {"f:labels": {".": {}, "f:app.kubernetes.io/managed-by": {}}},
            "f:spec": {"f:hard": {".": {}, "f:requests.cpu": {}, "f:requests.memory": {},
                                  "f:gold.storageclass.storage.k8s.io/requests.storage": {}}}}},
        {"manager": "kube-controller-manager", "operation": "Update", "fieldsV1": {"f:status": {"f:used": {}}}},
    ]
    (change,) = plan([quota("a")], [seen]).changes
    assert change.fields == (changes.FieldDiff(path="spec.hard.gold.storageclass.storage.k8s.io/requests.storage",
                                               before="10Gi", after=None),)


def test_unmanaged_objects_are_neither_pruned_nor_matched() -> None:
    foreign = live(ns("kube-system"))
    foreign["metadata"]["labels"] = {}
    result = plan([ns("a")], [foreign, {**live(ns("a")), "metadata": {"name": "a", "labels": {}}}])
    assert ops(result) == [("create", "Namespace a")]  # an unlabelled "a" is adopted by applying it


def test_objects_no_longer_desired_are_pruned_but_namespaces_are_orphaned_by_default() -> None:
    observed = [live(ns("a")), live(quota("a")), live(ns("gone")), live(quota("gone"))]
    cluster_role = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
                    "metadata": {"name": "old", "labels": dict(MANAGED)}}
    result = plan([ns("a")], [*observed, live(cluster_role)])
    assert ops(result) == [("prune", "ClusterRole old"), ("prune", "ResourceQuota a/dctenant-quota"),
                           ("orphan", "Namespace gone"), ("orphan", "ResourceQuota gone/dctenant-quota")]
    assert "--prune-namespaces" in result.changes[2].reason
    assert result.changes[3].reason == "in orphaned namespace gone"
    assert [c.ref for c in result.writes] == ["ClusterRole old", "ResourceQuota a/dctenant-quota"]


def test_namespaces_are_pruned_only_when_asked_and_empty() -> None:
    observed = [live(ns("a")), live(ns("busy")), live(quota("busy")), live(ns("idle")), live(quota("idle")),
                live(ns("unknown"))]
    assert diffing.stale_namespaces([ns("a")], observed) == ("busy", "idle", "unknown")
    occupancy = {"busy": changes.Occupancy(pods=3, claims=1), "idle": changes.Occupancy(pods=0, claims=0)}
    result = plan([ns("a")], observed, prune_namespaces=True, occupancy=occupancy)
    assert ops(result) == [("prune", "ResourceQuota idle/dctenant-quota"), ("prune", "Namespace idle"),
                           ("orphan", "Namespace busy"), ("orphan", "ResourceQuota busy/dctenant-quota"),
                           ("orphan", "Namespace unknown")]
    assert result.changes[2].reason == "no longer desired but holds 3 pods and 1 PVC"
    assert "unknown" in result.changes[4].reason
    assert result.counts() == {"create": 0, "update": 0, "prune": 2, "orphan": 3, "held": 0, "released": 0,
                               "unchanged": 1}


def test_a_claim_no_longer_desired_is_orphaned_never_pruned() -> None:
    """The enforcer's state volume: dropping the enforcer from the policy must not delete its data."""
    claim = {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
             "metadata": {"name": "dctenant-enforcer-state", "namespace": "sys", "labels": dict(MANAGED)},
             "spec": {"resources": {"requests": {"storage": "1Gi"}}}}
    job = {"apiVersion": "batch/v1", "kind": "CronJob",
           "metadata": {"name": "dctenant-enforcer", "namespace": "sys", "labels": dict(MANAGED)}}
    for prune_namespaces in (False, True):
        result = plan([ns("sys")], [live(ns("sys")), live(claim), live(job)], prune_namespaces=prune_namespaces,
                      occupancy={"sys": changes.Occupancy(pods=0, claims=1)})
        assert ops(result) == [("prune", "CronJob sys/dctenant-enforcer"),
                               ("orphan", "PersistentVolumeClaim sys/dctenant-enforcer-state")]
        assert "never pruned" in result.changes[1].reason
        assert [c.ref for c in result.writes] == ["CronJob sys/dctenant-enforcer"]
    # Still desired: compared and updated like anything else.
    bigger = {**claim, "spec": {"resources": {"requests": {"storage": "2Gi"}}}}
    assert ops(plan([bigger], [live(claim)])) == [("update", "PersistentVolumeClaim sys/dctenant-enforcer-state")]


def test_objects_already_being_deleted_are_left_alone() -> None:
    terminating = live(ns("gone"))
    terminating["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    result = plan([], [terminating], prune_namespaces=True, occupancy={"gone": changes.Occupancy(pods=0, claims=0)})
    assert result.changes == ()
    assert diffing.stale_namespaces([], [terminating]) == ()


def test_the_plan_serialises_what_the_table_shows() -> None:
    result = plan([quota("a", cpu="8")], [live(quota("a"))])
    assert result.as_dict() == {
        "pool": "p1", "context": "ctx-1",
        "counts": {"create": 0, "update": 1, "prune": 0, "orphan": 0, "held": 0, "released": 0, "unchanged": 0},
        "changes": [{"op": "update", "apiVersion": "v1", "kind": "ResourceQuota", "name": "dctenant-quota",
                     "namespace": "a", "fields": [{"path": "spec.hard.requests.cpu", "before": "4", "after": "8"}]}],
    }


SELF_SERVICE = {"dctenant.io/provisioned-by": "self-service"}


def self_service(manifest: dict[str, Any]) -> dict[str, Any]:
    meta = manifest["metadata"]
    return {**manifest, "metadata": {**meta, "labels": {**meta["labels"], **SELF_SERVICE}}}


def test_self_service_namespaces_are_never_pruned_even_with_prune_namespaces() -> None:
    observed = [live(self_service(ns("bale-x"))), live(self_service(quota("bale-x")))]
    result = plan([], observed, prune_namespaces=True,
                  occupancy={"bale-x": changes.Occupancy(pods=0, claims=0)})
    assert result.changes == ()
    assert diffing.stale_namespaces([], observed) == ()


def test_a_desired_object_is_not_written_over_a_self_service_one() -> None:
    observed = [live(self_service(ns("bale-x"))), live(self_service(quota("bale-x", cpu="1")))]
    result = plan([ns("bale-x"), quota("bale-x", cpu="8")], observed)
    assert ops(result) == [("orphan", "Namespace bale-x"), ("orphan", "ResourceQuota bale-x/dctenant-quota")]
    assert not result.pending
    assert all("self-service" in c.reason for c in result.changes)


def test_staff_objects_beside_self_service_ones_are_still_planned() -> None:
    observed = [live(self_service(ns("bale-x"))), live(ns("bale-old"))]
    result = plan([ns("bale-new")], observed)
    assert ops(result) == [("create", "Namespace bale-new"),
                           ("orphan", "Namespace bale-old")]


SINCE = "2026-11-27T10:00:00Z"


def enforced(manifest: dict[str, Any], action: str = "throttle cpu", **values: str) -> dict[str, Any]:
    """A live object as the enforcer left it: marked, with some held values lowered."""
    seen = live(manifest)
    seen["metadata"]["annotations"] = {changes.ENFORCEMENT: action, changes.ENFORCEMENT_SINCE: SINCE}
    held = changes.HELD_FIELDS[manifest["kind"]]
    target = seen
    for name in held[:-1]:
        target[name] = dict(target[name])
        target = target[name]
    target[held[-1]] = {**target[held[-1]], **values}
    return seen


def applied(*paths: tuple[str, ...], manager: str = "dctenant", operation: str = "Apply") -> dict[str, Any]:
    """A ``managedFields`` entry owning the given leaf paths."""
    fields: dict[str, Any] = {}
    for path in paths:
        node = fields
        for name in path:
            node = node.setdefault(f"f:{name}", {})
    return {"manager": manager, "operation": operation, "fieldsV1": fields}


def test_a_quota_held_by_enforcement_is_not_written_back() -> None:
    result = plan([quota("a", cpu="8")], [enforced(quota("a", cpu="8"), **{"requests.cpu": "2"})])
    (change,) = result.changes
    assert change.op is changes.ChangeOp.HELD and change.manifest is None and change.fields == ()
    assert change.hold == changes.Hold(action="throttle cpu", since=SINCE, fields=(
        changes.FieldDiff(path="spec.hard.requests.cpu", before="2", after="8"),))
    assert change.reason == f"held by enforcement (throttle cpu) since {SINCE}"
    assert not result.pending and result.writes == ()
    assert result.counts()["held"] == 1 and result.counts()["unchanged"] == 0
    assert result.as_dict()["changes"][0]["held"] == {
        "action": "throttle cpu", "since": SINCE, "released": False,
        "fields": [{"path": "spec.hard.requests.cpu", "before": "2", "after": "8"}]}


def test_a_held_quota_is_reported_even_when_its_values_match() -> None:
    (change,) = plan([quota("a")], [enforced(quota("a"), "suspend")]).changes
    assert change.op is changes.ChangeOp.HELD and change.hold is not None and change.hold.fields == ()


def test_other_fields_of_a_held_object_are_updated_with_the_held_map_pinned_to_its_live_values() -> None:
    want = quota("a", cpu="8", pods="100")
    want["metadata"]["labels"] = {**MANAGED, "dctenant.io/tier": "national"}
    seen = enforced(quota("a", cpu="8", pods="100", **{"limits.cpu": "9"}), **{"requests.cpu": "2", "pods": "0"})
    seen["metadata"]["managedFields"] = [
        applied(("spec", "hard", "requests.memory"), ("spec", "hard", "gold")),
        applied(("spec", "hard", "requests.cpu"), ("spec", "hard", "pods"), manager=changes.ENFORCER,
                operation="Update")]
    seen["spec"]["hard"]["gold"] = "5Gi"  # rendered before, no longer: dctenant owns it, so it is pinned too
    result = plan([want], [seen])
    (change,) = result.changes
    assert change.op is changes.ChangeOp.UPDATE and result.pending
    assert change.fields == (changes.FieldDiff(path="metadata.labels.dctenant.io/tier", before=None,
                                               after="national"),)
    assert change.manifest is not None
    # Every rendered or owned key at its live (enforced) value; limits.cpu, neither rendered nor owned, left out.
    assert change.manifest["spec"]["hard"] == {"requests.cpu": "2", "requests.memory": "1Gi", "pods": "0",
                                               "gold": "5Gi"}
    assert want["spec"]["hard"]["requests.cpu"] == "8"  # the desired manifest itself is not changed
    assert change.hold is not None and not change.hold.released
    assert [f.path for f in change.hold.fields] == ["spec.hard.requests.cpu", "spec.hard.pods", "spec.hard.gold"]
    assert not change.force  # no differing field belongs to the enforcer
    assert result.counts()["held"] == 1 and result.counts()["update"] == 1


def test_a_held_bandwidth_config_map_keeps_its_data() -> None:
    config = {"apiVersion": "v1", "kind": "ConfigMap",
              "metadata": {"name": "dctenant-bandwidth", "namespace": "a", "labels": dict(MANAGED)},
              "data": {"maxEgress": "200G", "maxIngress": "100G"}}
    result = plan([config], [enforced(config, "throttle bandwidth/egress", maxEgress="173913M")])
    (change,) = result.changes
    assert change.op is changes.ChangeOp.HELD
    assert change.hold is not None and [f.as_dict() for f in change.hold.fields] == [
        {"path": "data.maxEgress", "before": "173913M", "after": "200G"}]


def test_marks_on_other_kinds_hold_nothing() -> None:
    seen = live(ns("a", **{"dctenant.io/tier": "x"}))
    seen["metadata"]["annotations"] = {changes.ENFORCEMENT: "throttle cpu"}
    (change,) = plan([ns("a", **{"dctenant.io/tier": "y"})], [seen]).changes
    assert change.op is changes.ChangeOp.UPDATE and change.hold is None


def test_release_enforcement_writes_the_rendered_values_back_and_removes_the_marks() -> None:
    seen = enforced(quota("a", cpu="8"), **{"requests.cpu": "2"})
    seen["metadata"]["managedFields"] = [
        applied(("spec", "hard", "requests.cpu"), ("spec", "hard", "requests.memory")),
        applied(("spec", "hard", "requests.cpu"), ("metadata", "annotations", changes.ENFORCEMENT),
                manager=changes.ENFORCER, operation="Update")]
    result = plan([quota("a", cpu="8")], [seen], release_enforcement=True)
    (change,) = result.changes
    assert change.op is changes.ChangeOp.UPDATE and change.manifest == quota("a", cpu="8")
    assert [f.as_dict() for f in change.fields] == [
        {"path": "spec.hard.requests.cpu", "before": "2", "after": "8"},
        {"path": f"metadata.annotations.{changes.ENFORCEMENT}", "before": "throttle cpu", "after": None},
        {"path": f"metadata.annotations.{changes.ENFORCEMENT_SINCE}", "before": SINCE, "after": None}]
    assert change.hold is not None and change.hold.released
    assert change.reason == f"released from enforcement (throttle cpu) since {SINCE}"
    assert change.force  # requests.cpu is the enforcer's: take it back, as nobody else owns it
    assert result.pending and result.counts()["held"] == 0 and result.counts()["released"] == 1
    # A quota marked but already at its rendered values: the release only removes the marks.
    (quiet,) = plan([quota("a")], [enforced(quota("a"))], release_enforcement=True).changes
    assert quiet.op is changes.ChangeOp.UPDATE and [f.path for f in quiet.fields] == [
        f"metadata.annotations.{changes.ENFORCEMENT}", f"metadata.annotations.{changes.ENFORCEMENT_SINCE}"]


def test_fields_the_enforcer_restored_are_taken_back_but_never_anyone_elses() -> None:
    """After an undo the enforcer owns the restored values; a later change in quotas/ takes them back."""
    seen = live(quota("a", cpu="4"))
    seen["metadata"]["managedFields"] = [
        applied(("spec", "hard", "requests.memory")),
        applied(("spec", "hard", "requests.cpu"), manager=changes.ENFORCER, operation="Update")]
    (change,) = plan([quota("a", cpu="8")], [seen]).changes
    assert change.op is changes.ChangeOp.UPDATE and change.force and change.hold is None
    seen["metadata"]["managedFields"].append(applied(("spec", "hard", "requests.cpu"), manager="kubectl-edit",
                                                     operation="Update"))
    (change,) = plan([quota("a", cpu="8")], [seen]).changes
    assert not change.force  # someone else has a say: the conflict is for staff to resolve


# Quantities compare by value only in quantity fields (issue 12): both directions.


def test_quantity_fields_of_every_kind_compare_by_value() -> None:
    limits = {"apiVersion": "v1", "kind": "LimitRange", "metadata": {"name": "l", "namespace": "a", "labels": MANAGED},
              "spec": {"limits": [{"type": "Container", "max": {"memory": "1Gi"}, "defaultRequest": {"cpu": "0.5"}}]}}
    pvc = {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
           "metadata": {"name": "c", "namespace": "a", "labels": MANAGED},
           "spec": {"resources": {"requests": {"storage": "1Gi"}}}}
    job = {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "j", "namespace": "a", "labels": MANAGED},
           "spec": {"jobTemplate": {"spec": {"template": {"spec": {"containers": [
               {"name": "x", "resources": {"limits": {"memory": "512Mi", "cpu": "1"}}}]}}}}}}
    server = json_copy([limits, pvc, job])
    server[0]["spec"]["limits"][0]["max"]["memory"] = "1024Mi"
    server[0]["spec"]["limits"][0]["defaultRequest"]["cpu"] = "500m"
    server[1]["spec"]["resources"]["requests"]["storage"] = "1073741824"
    containers = server[2]["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    containers[0]["resources"]["limits"] = {"memory": "0.5Gi", "cpu": "1000m"}
    assert plan([limits, pvc, job], [live(o) for o in server]).changes == ()


def test_equal_quantities_outside_quantity_fields_are_differences() -> None:
    label = ns("a", **{"dctenant.io/size": "1k"})
    server_label = ns("a", **{"dctenant.io/size": "1000"})
    config = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "m", "namespace": "a", "labels": MANAGED},
              "data": {"egress": "1G"}}
    server_config = json_copy(config)
    server_config["data"]["egress"] = "1000M"
    policy = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
              "metadata": {"name": "p", "namespace": "a", "labels": MANAGED},
              "spec": {"egress": [{"ports": [{"port": 53, "protocol": "UDP"}]}]}}
    server_policy = json_copy(policy)
    server_policy["spec"]["egress"][0]["ports"][0]["port"] = "53"
    result = plan([label, config, policy], [live(server_label), live(server_config), live(server_policy)])
    assert [(c.ref, [(f.path, f.before, f.after) for f in c.fields]) for c in result.changes] == [
        ("Namespace a", [("metadata.labels.dctenant.io/size", "1000", "1k")]),
        ("ConfigMap a/m", [("data.egress", "1000M", "1G")]),
        ("NetworkPolicy a/p", [("spec.egress[0].ports[0].port", "53", 53)])]


def test_a_quota_key_equal_by_value_but_not_a_quantity_field_elsewhere() -> None:
    """The same key name outside ``spec.hard`` (an annotation) compares exactly."""
    want = quota("a")
    want["metadata"]["annotations"] = {"requests.cpu": "1500m"}
    have = quota("a")
    have["metadata"]["annotations"] = {"requests.cpu": "1.5"}
    (change,) = plan([want], [live(have)]).changes
    assert [f.path for f in change.fields] == ["metadata.annotations.requests.cpu"]


def test_quantity_field_paths() -> None:
    assert diffing.quantity_field("ResourceQuota", "spec.hard.requests.nvidia.com/gpu")
    assert not diffing.quantity_field("ResourceQuota", "spec.scopes[0]")
    assert diffing.quantity_field("LimitRange", "spec.limits[3].maxLimitRequestRatio.cpu")
    assert not diffing.quantity_field("LimitRange", "spec.limits[0].type")
    assert diffing.quantity_field("Deployment", "spec.template.spec.initContainers[1].resources.requests.memory")
    assert not diffing.quantity_field("Deployment", "spec.replicas")
    assert not diffing.quantity_field("ConfigMap", "data.requests.cpu")


# Guarded prune: the plan's side.


def test_a_prune_carries_the_observed_version_as_its_precondition() -> None:
    stale = live(quota("gone"))
    stale["metadata"]["resourceVersion"] = "4711"
    (change,) = plan([], [stale]).changes
    assert change.op is changes.ChangeOp.PRUNE and change.version == "4711"
    created = plan([quota("new")], []).changes[0]
    assert created.version == ""  # only deletes are conditional


def test_a_desired_namespace_left_marked_for_pruning_is_unmarked() -> None:
    marked = live(ns("a"))
    marked["metadata"]["labels"][changes.PRUNING] = "true"
    (change,) = plan([ns("a")], [marked]).changes
    assert change.op is changes.ChangeOp.UPDATE
    assert change.fields == (changes.FieldDiff(path="metadata.labels.dctenant.io/pruning", before="true", after=None),)
    assert diffing.pruning_mark_removed(change)


def test_a_kept_namespace_left_marked_is_unmarked_without_a_manifest() -> None:
    marked = live(ns("busy"))
    marked["metadata"]["labels"][changes.PRUNING] = "true"
    occupancy = {"busy": changes.Occupancy(pods=1, claims=0)}
    result = plan([], [marked], prune_namespaces=True, occupancy=occupancy)
    assert [(str(c.op), c.ref) for c in result.changes] == [("update", "Namespace busy"), ("orphan", "Namespace busy")]
    assert result.changes[0].manifest is None and diffing.pruning_mark_removed(result.changes[0])


def test_workloads_and_staff_kinds_keep_a_namespace() -> None:
    observed = [live(ns("a")), live(ns("b")), live(ns("c"))]
    occupancy = {"a": changes.Occupancy(pods=0, claims=0, workloads=1),
                 "b": changes.Occupancy(pods=0, claims=0, others=(("Job", 2),)),
                 "c": changes.Occupancy(pods=0, claims=0, others=(("Job", 0),))}
    result = plan([], observed, prune_namespaces=True, occupancy=occupancy)
    assert ops(result) == [("prune", "Namespace c"), ("orphan", "Namespace a"), ("orphan", "Namespace b")]
    reasons = {c.ref: c.reason for c in result.changes}
    assert reasons["Namespace a"] == "no longer desired but holds 0 pods and 0 PVCs, 1 workload controller"
    assert reasons["Namespace b"] == "no longer desired but holds 0 pods and 0 PVCs, 2 Job"


def json_copy(value: Any) -> Any:
    import json

    return json.loads(json.dumps(value))
