"""domain.changes and domain.usage as values: their words, JSON forms and unknown-is-not-zero rules.

Expected texts and dicts are written out by hand from the docstrings' rules (docs/apply.md and
docs/enforcement.md describe the same forms).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from dctenant.domain import changes, usage
from dctenant.domain.changes import ChangeOp


def test_only_orphans_and_held_objects_write_nothing() -> None:
    assert [op.writes for op in ChangeOp] == [True, True, True, False, False]


@pytest.mark.parametrize(("occupancy", "empty", "text"), [
    (changes.Occupancy(pods=0, claims=0), True, "0 pods and 0 PVCs"),
    (changes.Occupancy(pods=1, claims=1), False, "1 pod and 1 PVC"),
    (changes.Occupancy(pods=0, claims=2, workloads=1), False, "0 pods and 2 PVCs, 1 workload controller"),
    (changes.Occupancy(pods=0, claims=0, workloads=2), False, "0 pods and 0 PVCs, 2 workload controllers"),
    (changes.Occupancy(pods=0, claims=0, others=(("CronJob", 0), ("Secret", 3))), False,
     "0 pods and 0 PVCs, 3 Secret"),
    (changes.Occupancy(pods=0, claims=0, others=(("CronJob", 0),)), True, "0 pods and 0 PVCs"),
    (changes.Occupancy(pods=3, claims=0), False, "3 pods and 0 PVCs"),
])
def test_occupancy_in_words(occupancy: changes.Occupancy, empty: bool, text: str) -> None:
    assert occupancy.empty is empty
    assert str(occupancy) == text


def test_a_hold_says_who_holds_what_since_when() -> None:
    diff = changes.FieldDiff(path="spec.hard.cpu", before="2", after="4")
    held = changes.Hold(action="throttle", since="2026-11-27T10:00:00Z", fields=(diff,))
    assert held.reason == "held by enforcement (throttle) since 2026-11-27T10:00:00Z"
    assert held.as_dict() == {"action": "throttle", "since": "2026-11-27T10:00:00Z", "released": False,
                              "fields": [{"path": "spec.hard.cpu", "before": "2", "after": "4"}]}
    released = changes.Hold(action="suspend", released=True)
    assert released.reason == "released from enforcement (suspend) since an unknown time"
    assert released.as_dict() == {"action": "suspend", "since": None, "released": True, "fields": []}


def test_a_change_names_its_object_and_writes_only_what_it_has() -> None:
    bare = changes.Change(op=ChangeOp.CREATE, api_version="v1", kind="Namespace", name="bale-a")
    assert bare.ref == "Namespace bale-a"
    assert bare.as_dict() == {"op": "create", "apiVersion": "v1", "kind": "Namespace", "name": "bale-a"}
    full = changes.Change(op=ChangeOp.UPDATE, api_version="v1", kind="ResourceQuota", name="q", namespace="bale-a",
                          fields=(changes.FieldDiff(path="spec.hard.cpu", before="2", after=None),), reason="why",
                          hold=changes.Hold(action="throttle"), force=True)
    assert full.ref == "ResourceQuota bale-a/q"
    assert full.as_dict() == {
        "op": "update", "apiVersion": "v1", "kind": "ResourceQuota", "name": "q", "namespace": "bale-a",
        "fields": [{"path": "spec.hard.cpu", "before": "2", "after": None}], "reason": "why",
        "held": {"action": "throttle", "since": None, "released": False, "fields": []}, "force": True}


def test_a_plan_counts_its_changes() -> None:
    def change(op: ChangeOp, name: str, hold: changes.Hold | None = None) -> changes.Change:
        return changes.Change(op=op, api_version="v1", kind="ConfigMap", name=name, namespace="n", hold=hold)

    held = change(ChangeOp.HELD, "h", changes.Hold(action="throttle"))
    kept = change(ChangeOp.UPDATE, "u", changes.Hold(action="throttle"))
    freed = change(ChangeOp.UPDATE, "r", changes.Hold(action="suspend", released=True))
    orphan = change(ChangeOp.ORPHAN, "o")
    plan = changes.Plan(pool="p", context="ctx", changes=(held, kept, freed, orphan, change(ChangeOp.PRUNE, "x")),
                        unchanged=7)
    assert plan.writes == (kept, freed, plan.changes[4])
    assert plan.pending is True
    assert plan.held == (held, kept) and plan.released == (freed,)
    assert plan.counts() == {"create": 0, "update": 2, "prune": 1, "orphan": 1, "held": 2, "released": 1,
                             "unchanged": 7}
    assert plan.as_dict() == {"pool": "p", "context": "ctx", "counts": plan.counts(),
                              "changes": [c.as_dict() for c in plan.changes]}
    idle = changes.Plan(pool="p", context="ctx", changes=(held, orphan))
    assert idle.pending is False and idle.writes == ()


NOW = dt.datetime(2026, 11, 27, 10, 0, tzinfo=dt.UTC)


def test_the_measure_of_a_resource() -> None:
    assert [usage.measure(k) for k in ("cpu", "storage/ssd", "bandwidth/egress")] == [
        "cpu", "storage", "bandwidth/egress"]


def test_an_amount_is_known_only_when_nothing_says_otherwise() -> None:
    seen = usage.Usage(at=NOW, amounts={"a": {"cpu": Decimal(2)}}, seen=frozenset({"a", "b"}),
                       down={"memory": "node-exporter is down"}, gaps={("b", "storage"): "no value"})
    assert seen.amount("a", "cpu") == Decimal(2)
    assert seen.amount("b", "cpu") == Decimal(0)  # seen by kube-state-metrics, no series: nothing used
    assert seen.missing("a", "memory") == "node-exporter is down" and seen.amount("a", "memory") is None
    assert seen.missing("b", "storage/ssd") == "no value" and seen.amount("b", "storage/ssd") is None
    assert seen.missing("a", "storage/ssd") == ""
    assert seen.missing("c", "cpu") == (
        "namespace c has no kube_resourcequota series (not seen by kube-state-metrics)")
    broken = usage.Usage(at=NOW, amounts={"a": {"cpu": Decimal(2)}}, seen=frozenset({"a"}), error="unreachable")
    assert broken.missing("a", "cpu") == "unreachable" and broken.amount("a", "cpu") is None


def test_a_series_reads_its_latest_point() -> None:
    first = usage.Usage(at=NOW, queries=3)
    last = usage.Usage(at=NOW + dt.timedelta(minutes=1), queries=5)
    series = usage.Series.of(first, last, step=30)
    assert series == usage.Series(points=(first, last), step=30)
    assert series.latest is last and series.queries == 5
    assert usage.Series.of(first).step == 60


def test_a_decision_as_json() -> None:
    decision = usage.Decision(tenant="t", pool="p", resource="cpu", state=usage.State.BREACH, usage=Decimal("2.50"),
                              envelope=None, action="", reason="r")
    assert decision.as_dict() == {"tenant": "t", "pool": "p", "resource": "cpu", "state": "breach", "usage": "2.5",
                                  "envelope": None, "action": "none", "reason": "r", "level": 0}


def test_a_track_round_trips_and_reads_old_files() -> None:
    track = usage.Track(warned=True, taken=("notify", "throttle"), acted_at=NOW)
    assert track.as_dict() == {"warned": True, "taken": ["notify", "throttle"], "actedAt": "2026-11-27T10:00:00+00:00"}
    assert usage.Track.from_dict(track.as_dict()) == track
    assert usage.Track().idle and not track.idle
    assert usage.Track().as_dict() == {"warned": False, "taken": [], "actedAt": None}
    # A naive time is read as UTC; a version-1 file's timers are ignored; absent and empty mean none.
    old = usage.Track.from_dict({"warned": 1, "taken": None, "actedAt": "2026-11-27T10:00:00", "overSince": "x"})
    assert old == usage.Track(warned=True, taken=(), acted_at=NOW)
    assert usage.Track.from_dict({"actedAt": ""}) == usage.Track()
    assert usage.Track.from_dict({"actedAt": 5}) == usage.Track()
    assert usage.Track.from_dict({}) == usage.Track()


def test_memory_and_verdict() -> None:
    memory = usage.Memory(tracks={("t", "p", "cpu"): usage.Track(taken=("notify",)),
                                  ("t", "p", "licence"): usage.Track(taken=("suspend",)),
                                  ("t", "q", "cpu"): usage.Track(taken=("throttle",)),
                                  ("u", "p", "cpu"): usage.Track(taken=("scale-down",))})
    assert memory.held("t", "p") == frozenset({"notify", "suspend"})
    assert memory.track(("t", "q", "cpu")).taken == ("throttle",) and memory.track(("x", "p", "cpu")).idle

    def decision(state: usage.State) -> usage.Decision:
        return usage.Decision(tenant="t", pool="p", resource="cpu", state=state, usage=None, envelope=None,
                              action="", reason="")

    mixed = usage.Verdict(decisions=(decision(usage.State.OK), decision(usage.State.BREACH)), memory=memory)
    assert mixed.breach and not mixed.unknown
    unknown = usage.Verdict(decisions=(decision(usage.State.UNKNOWN), decision(usage.State.OK)), memory=memory)
    assert unknown.unknown and not unknown.breach
