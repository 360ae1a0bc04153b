"""Desired manifests against observed objects → a Plan: what to create, update, prune or leave.

Pure: it reads no clock, file or network, so the whole decision of what ``apply`` will do can be
tested with hand-made dictionaries. The client lists each kind once; this module does the rest.

An object is compared only on the fields dctenant manages: the desired object's own keys, looked
up in the live object (servers add defaults, status and metadata of their own). When the live
object records what dctenant last applied (``managedFields`` of manager ``dctenant``), a field
dctenant owns but no longer renders is a change as well, because server-side apply removes it.

Enforcement. The enforcer lowers a tenant's quota (``spec.hard``) or bandwidth ConfigMap (``data``)
with merge patches as field manager ``dctenant-enforcer`` and marks the object with the
``dctenant.io/enforcement`` annotations. A marked object is *held*: its held map
(``changes.HELD_FIELDS``) is neither compared nor written back. When something else on it differs,
the update applies the object with the held map **set to the live, enforced values** rather than
leaving the map out, because of how server-side apply treats ownership on a real API server:

* a merge patch that changes a value moves that field's ownership to the patching manager, so the
  keys the enforcer lowered belong to ``dctenant-enforcer`` alone; the keys of the same map it did
  not change (``pods`` during a CPU throttle, a key already at its ``used`` value) still belong to
  ``dctenant`` alone;
* an apply that leaves out a field its manager alone owns *removes* that field. Leaving the held
  map out would therefore delete the untouched limits from the quota;
* an apply that sets a field to the value it already has never conflicts (the owners share it).

So pinning the held map to its live values keeps every limit, raises no conflict and changes
nothing the enforcer wrote. Only keys that dctenant renders or already owns are pinned, so a key
the enforcer added on its own is not claimed by ``apply``. When the held map is the only
difference, nothing is written and the object is reported as ``held``.

``release_enforcement`` (``apply --release-enforcement``) plans marked objects like any other, so
the rendered values are written back, and the marks are removed after the apply. Writing back
values that ``dctenant-enforcer`` owns conflicts on a real server, so such an update is applied
with force (``Change.force``) when every differing field is owned only by dctenant's own two
managers (or by nobody); a field owned by anyone else still stops ``apply`` with the 409, as
before, unless ``--force-conflicts`` is given. The same rule lets a normal ``apply`` take back the
values the enforcer restored when it undid an action, should ``quotas/`` have changed since.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from dctenant.domain import changes
from dctenant.domain.quantities import Quantity

Manifest = changes.Manifest
Key = tuple[str, str | None, str]  # kind, namespace, name

IGNORED = frozenset({"apiVersion", "kind", "status"})
_ABSENT: Any = None


def key(obj: Manifest) -> Key:
    meta = obj.get("metadata") or {}
    return str(obj.get("kind")), meta.get("namespace"), str(meta.get("name"))


def managed(obj: Manifest) -> bool:
    """True when the object carries dctenant's ``managed-by`` label (only those are ever pruned)."""
    labels = (obj.get("metadata") or {}).get("labels") or {}
    return bool(labels.get(changes.MANAGED_BY) == changes.MANAGER)


def self_service(obj: Manifest) -> bool:
    """True for objects of a tenant's self-service namespace: never pruned or overwritten by ``apply``."""
    labels = (obj.get("metadata") or {}).get("labels") or {}
    return bool(labels.get(changes.PROVISIONED_BY) == changes.SELF_SERVICE)


def stale_namespaces(desired: Iterable[Manifest], observed: Iterable[Manifest]) -> tuple[str, ...]:
    """Managed namespaces that are no longer desired: the ones whose contents must be checked."""
    wanted = {key(m) for m in desired}
    return tuple(sorted(key(o)[2] for o in observed
                        if o.get("kind") == "Namespace" and managed(o) and not self_service(o)
                        and key(o) not in wanted and not _terminating(o)))


def plan(desired: Sequence[Manifest], observed: Iterable[Manifest], *, pool: str, context: str,
         prune_namespaces: bool = False, occupancy: Mapping[str, changes.Occupancy] | None = None,
         release_enforcement: bool = False) -> changes.Plan:
    """The changes that bring the observed objects to the desired ones.

    Writes keep the desired order (the renderer puts cluster-wide objects and each Namespace before
    what lives in it). Prunes come after, namespaced objects before the namespaces that held them.
    A namespace no longer desired is pruned only with ``prune_namespaces`` and when ``occupancy``
    says it holds no pods and no PVCs; otherwise it and the managed objects in it are orphaned and
    left alone, so that running workloads keep their quota and network isolation. A claim (the
    enforcer's state volume) is never pruned either: it is orphaned, for staff to delete by hand.

    Objects labelled as provisioned by self-service belong to the tenant's own namespaces: they are
    not pruned, and a desired object of the same name is not written over them (it is reported as
    an orphan with the reason, so that staff see the clash).

    Objects the enforcer marked keep their enforced fields (see the module docstring) unless
    ``release_enforcement`` is given.
    """
    held = {key(o): o for o in observed if managed(o) and self_service(o)}
    live = {key(o): o for o in observed if managed(o) and key(o) not in held}
    writes: list[changes.Change] = []
    clashes: list[changes.Change] = []
    unchanged = 0
    wanted: set[Key] = set()
    for manifest in desired:
        k = key(manifest)
        wanted.add(k)
        if k in held:
            clashes.append(_change(changes.ChangeOp.ORPHAN, manifest,
                                   reason="provisioned by self-service; not overwritten by apply"))
            continue
        current = live.get(k)
        if current is None:
            writes.append(_change(changes.ChangeOp.CREATE, manifest, manifest=manifest))
            continue
        mark = enforcement(current)
        if mark is None:
            fields = diff_fields(manifest, current) + pruning_mark(current)
            if fields:
                writes.append(_change(changes.ChangeOp.UPDATE, manifest, manifest=manifest, fields=fields,
                                      force=_ours(fields, current)))
            else:
                unchanged += 1
        elif release_enforcement:
            writes.append(_release(manifest, current, mark))
        else:
            writes.append(_held(manifest, current, mark))

    fates = _namespace_fates(live, wanted, prune_namespaces=prune_namespaces, occupancy=occupancy or {})
    # A namespace kept after all that an apply which stopped part-way left marked for pruning: the
    # mark makes admission refuse new pods there, so it is removed (a write of its own, no manifest).
    for k, obj in sorted(live.items()):
        if k[0] == "Namespace" and k not in wanted and fates.get(k[2]) and pruning_mark(obj):
            writes.append(_change(changes.ChangeOp.UPDATE, obj, fields=pruning_mark(obj),
                                  reason="left marked for pruning by an apply that stopped; unmarked"))
    prunes: list[changes.Change] = []
    namespaces: list[changes.Change] = []
    orphans: list[changes.Change] = []
    for k, obj in sorted(live.items(), key=lambda item: _home(item[0])):
        if k in wanted or _terminating(obj):
            continue
        kind, namespace, name = k
        if kind == "Namespace":
            reason = fates[name]
            (orphans if reason else namespaces).append(
                _change(changes.ChangeOp.ORPHAN if reason else changes.ChangeOp.PRUNE, obj,
                        reason=reason or "no longer desired; holds no pods and no PVCs"))
        elif namespace is not None and fates.get(namespace):
            orphans.append(_change(changes.ChangeOp.ORPHAN, obj, reason=f"in orphaned namespace {namespace}"))
        elif kind in changes.RETAINED:
            orphans.append(_change(changes.ChangeOp.ORPHAN, obj,
                                   reason="no longer desired; holds data, so it is never pruned: delete it by hand"))
        else:
            prunes.append(_change(changes.ChangeOp.PRUNE, obj, reason="no longer desired"))
    return changes.Plan(pool=pool, context=context, changes=(*writes, *prunes, *namespaces, *orphans, *clashes),
                        unchanged=unchanged)


def pruning_mark(obj: Manifest) -> tuple[changes.FieldDiff, ...]:
    """The removal of the pruning label from a live namespace that carries it (none otherwise)."""
    labels = (obj.get("metadata") or {}).get("labels") or {}
    if obj.get("kind") != "Namespace" or changes.PRUNING not in labels:
        return ()
    return (changes.FieldDiff(path=f"metadata.labels.{changes.PRUNING}", before=labels[changes.PRUNING], after=None),)


def pruning_mark_removed(change: changes.Change) -> bool:
    """True when executing the change removes a namespace's pruning label (a write of its own)."""
    return change.kind == "Namespace" and any(
        f.path == f"metadata.labels.{changes.PRUNING}" and f.after is None for f in change.fields)


def _home(k: Key) -> tuple[str, int, str, str]:
    """Sort key grouping a namespace with its contents (cluster-wide objects first)."""
    kind, namespace, name = k
    if kind == "Namespace":
        return name, 0, kind, name
    return namespace or "", 1, kind, name


def _namespace_fates(live: Mapping[Key, Manifest], wanted: set[Key], *, prune_namespaces: bool,
                     occupancy: Mapping[str, changes.Occupancy]) -> dict[str, str]:
    """For each managed namespace no longer desired: why it must stay ("" when it may be pruned)."""
    fates: dict[str, str] = {}
    for k in live:
        if k[0] != "Namespace" or k in wanted:
            continue
        name = k[2]
        held = occupancy.get(name)
        if not prune_namespaces:
            fates[name] = "no longer desired; pass --prune-namespaces to delete it when empty"
        elif held is None:
            fates[name] = "no longer desired; its contents are unknown"
        elif not held.empty:
            fates[name] = f"no longer desired but holds {held}"
        else:
            fates[name] = ""
    return fates


def _change(op: changes.ChangeOp, obj: Manifest, *, manifest: Manifest | None = None,
            fields: tuple[changes.FieldDiff, ...] = (), reason: str = "", hold: changes.Hold | None = None,
            force: bool = False) -> changes.Change:
    kind, namespace, name = key(obj)
    # A prune deletes what was observed, nothing newer: its version becomes the delete's precondition.
    version = str((obj.get("metadata") or {}).get("resourceVersion") or "") if op is changes.ChangeOp.PRUNE else ""
    return changes.Change(op=op, api_version=str(obj.get("apiVersion", "")), kind=kind, name=name,
                          namespace=namespace, manifest=manifest, fields=fields, reason=reason, hold=hold,
                          force=force, version=version)


def enforcement(obj: Manifest) -> changes.Hold | None:
    """The enforcer's marks on a live object of a kind it changes, or None when it carries none."""
    if obj.get("kind") not in changes.HELD_FIELDS:
        return None
    notes = (obj.get("metadata") or {}).get("annotations") or {}
    action = notes.get(changes.ENFORCEMENT)
    if not action:
        return None
    return changes.Hold(action=str(action), since=str(notes.get(changes.ENFORCEMENT_SINCE) or ""))


def _held(desired: Manifest, observed: Manifest, mark: changes.Hold) -> changes.Change:
    """A marked object: its held map pinned to the live values; held alone when nothing else differs."""
    path = changes.HELD_FIELDS[str(desired.get("kind"))]
    prefix = ".".join(path)
    kept = tuple(f for f in diff_fields(desired, observed) if _within(f.path, prefix))
    hold = changes.Hold(action=mark.action, since=mark.since, fields=kept)
    pinned = _pin(desired, observed, path)
    fields = diff_fields(pinned, observed)
    if not fields:
        return _change(changes.ChangeOp.HELD, desired, reason=hold.reason, hold=hold)
    return _change(changes.ChangeOp.UPDATE, desired, manifest=pinned, fields=fields, reason=hold.reason, hold=hold,
                   force=_ours(fields, observed))


def _release(desired: Manifest, observed: Manifest, mark: changes.Hold) -> changes.Change:
    """A marked object planned like any other, plus the removal of the marks (``--release-enforcement``)."""
    path = changes.HELD_FIELDS[str(desired.get("kind"))]
    fields = diff_fields(desired, observed)
    notes = (observed.get("metadata") or {}).get("annotations") or {}
    marks = tuple(changes.FieldDiff(path=f"metadata.annotations.{name}", before=notes[name], after=None)
                  for name in (changes.ENFORCEMENT, changes.ENFORCEMENT_SINCE) if name in notes)
    hold = changes.Hold(action=mark.action, since=mark.since, released=True,
                        fields=tuple(f for f in fields if _within(f.path, ".".join(path))))
    return _change(changes.ChangeOp.UPDATE, desired, manifest=desired, fields=(*fields, *marks),
                   reason=hold.reason, hold=hold, force=_ours(fields, observed))


def _pin(desired: Manifest, observed: Manifest, path: tuple[str, ...]) -> Manifest:
    """The desired object with the map at ``path`` replaced by the live values of the keys dctenant manages."""
    want = _get(desired, path)
    have = _get(observed, path)
    if not isinstance(want, Mapping) or not isinstance(have, Mapping):
        return desired
    owned = {p[len(path)] for p in _applied(observed) if len(p) == len(path) + 1 and p[:len(path)] == path}
    pinned: dict[str, Any] = {str(k): v for k, v in have.items() if k in want or k in owned}
    return _replace(desired, path, pinned)


def _replace(obj: Manifest, path: tuple[str, ...], value: Any) -> dict[str, Any]:
    copy = dict(obj)
    head, *rest = path
    copy[head] = _replace(obj.get(head) or {}, tuple(rest), value) if rest else value
    return copy


def _within(field: str, prefix: str) -> bool:
    return field == prefix or field.startswith(prefix + ".")


def _ours(fields: Iterable[changes.FieldDiff], observed: Manifest) -> bool:
    """True when some differing field belongs to the enforcer and none to a manager outside dctenant.

    Applying such fields conflicts on a real server (another manager owns them with another value);
    forcing takes them back from dctenant's own enforcer without overriding anyone else.
    """
    owners: dict[str, set[str]] = {}
    for entry in (observed.get("metadata") or {}).get("managedFields") or ():
        for leaf in _owned(entry.get("fieldsV1") or {}, ()):
            owners.setdefault(".".join(leaf), set()).add(str(entry.get("manager")))
    enforcer = False
    for field in fields:
        who: set[str] = set()
        for path, managers in owners.items():
            # The same field, a field inside it, or the field it is inside (a list owned whole).
            if path == field.path or path.startswith((field.path + ".", field.path + "[")) \
                    or field.path.startswith((path + ".", path + "[")):
                who |= managers
        if who - {changes.MANAGER, changes.ENFORCER}:
            return False
        enforcer = enforcer or changes.ENFORCER in who
    return enforcer


def _terminating(obj: Manifest) -> bool:
    return bool((obj.get("metadata") or {}).get("deletionTimestamp"))


def diff_fields(desired: Manifest, observed: Manifest) -> tuple[changes.FieldDiff, ...]:
    """The managed fields that differ: desired keys looked up in the live object, plus owned leftovers."""
    found: list[changes.FieldDiff] = []
    kind = str(desired.get("kind"))
    for name, want in desired.items():
        if name not in IGNORED:
            _compare(kind, name, want, observed.get(name, _ABSENT), found)
    found.extend(_leftovers(desired, observed))
    return tuple(found)


# Fields whose values are Kubernetes quantities, which the API server canonicalises (``1024Mi`` is
# stored as ``1Gi``): only these compare by value. Everywhere else a string is a string and a number
# a number (label ``"1k"`` is not ``"1000"``, port ``53`` is not ``"53"``). Paths as ``_compare``
# builds them, list indexes written ``[i]``.
_QUANTITY_FIELDS: Mapping[str, re.Pattern[str]] = {
    "ResourceQuota": re.compile(r"^spec\.hard\..+$"),
    "LimitRange": re.compile(r"^spec\.limits\[\d+\]\.(max|min|default|defaultRequest|maxLimitRequestRatio)\..+$"),
    "PersistentVolumeClaim": re.compile(r"^spec\.resources\.(requests|limits)\..+$"),
}
# Container resources, in a pod or in any workload's pod template.
_CONTAINER_RESOURCES = re.compile(r"(^|\.)(containers|initContainers)\[\d+\]\.resources\.(requests|limits)\..+$")


def quantity_field(kind: str, path: str) -> bool:
    """True when the field at ``path`` of an object of ``kind`` holds a Kubernetes quantity."""
    pattern = _QUANTITY_FIELDS.get(kind)
    return bool(pattern is not None and pattern.match(path)) or bool(_CONTAINER_RESOURCES.search(path))


def _compare(kind: str, path: str, want: Any, have: Any, found: list[changes.FieldDiff]) -> None:
    if isinstance(want, Mapping):
        if not want and not have:
            return  # the API server drops empty maps
        if not isinstance(have, Mapping):
            found.append(changes.FieldDiff(path=path, before=have, after=_json_copy(want)))
            return
        for name, value in want.items():
            _compare(kind, f"{path}.{name}", value, have.get(name, _ABSENT), found)
    elif isinstance(want, list | tuple):
        if not want and not have:
            return
        if isinstance(have, list) and len(have) == len(want):
            for i, (w, h) in enumerate(zip(want, have, strict=True)):
                _compare(kind, f"{path}[{i}]", w, h, found)
        else:
            found.append(changes.FieldDiff(path=path, before=have, after=_json_copy(want)))
    elif not _same(want, have, quantity=quantity_field(kind, path)):
        found.append(changes.FieldDiff(path=path, before=have, after=_json_copy(want)))


def _same(want: Any, have: Any, *, quantity: bool) -> bool:
    """Equal; for a quantity field, also the same quantity written differently (``1024Mi`` and ``1Gi``)."""
    if isinstance(want, bool) or isinstance(have, bool):
        return want is have
    if want == have:
        return True  # (53 == "53" is false: outside quantity fields, types differ means values differ)
    if not quantity or not isinstance(want, str | int | Decimal) or not isinstance(have, str | int | Decimal):
        return False
    try:
        return Quantity.parse(want) == Quantity.parse(have)
    except ValueError:
        return False


def _json_copy(value: Any) -> Any:
    """A JSON-friendly copy (the renderer may hand over tuples or other mappings)."""
    if isinstance(value, Mapping):
        return {str(k): _json_copy(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_copy(v) for v in value]
    return value


def _leftovers(desired: Manifest, observed: Manifest) -> list[changes.FieldDiff]:
    """Fields dctenant applied before (per ``managedFields``) that it no longer renders.

    Server-side apply removes such fields on the next apply, so they are pending changes. Lists
    keyed by ``k:``/``v:``/``i:`` entries are treated as one field (the list is compared whole).
    """
    found: list[changes.FieldDiff] = []
    for path in _applied(observed):
        if path[0] not in IGNORED and not _has(desired, path):
            found.append(changes.FieldDiff(path=".".join(path), before=_get(observed, path), after=None))
    return found


def _applied(observed: Manifest) -> Iterable[tuple[str, ...]]:
    """The fields ``dctenant`` owns through server-side apply, per the live object's ``managedFields``."""
    for entry in (observed.get("metadata") or {}).get("managedFields") or ():
        if entry.get("manager") == changes.MANAGER and entry.get("operation") == "Apply":
            yield from _owned(entry.get("fieldsV1") or {}, ())


def _owned(fields: Mapping[str, Any], prefix: tuple[str, ...]) -> Iterable[tuple[str, ...]]:
    for name, sub in fields.items():
        if not name.startswith("f:"):
            continue
        path = (*prefix, name[2:])
        children = [c for c in (sub or {}) if c.startswith("f:")]
        if children:
            yield from _owned(sub, path)
        else:
            yield path


def _has(obj: Any, path: tuple[str, ...]) -> bool:
    for name in path:
        if isinstance(obj, list | tuple):
            return True
        if not isinstance(obj, Mapping) or name not in obj:
            return False
        obj = obj[name]
    return True


def _get(obj: Any, path: tuple[str, ...]) -> Any:
    for name in path:
        if not isinstance(obj, Mapping):
            return None
        obj = obj.get(name)
    return obj
