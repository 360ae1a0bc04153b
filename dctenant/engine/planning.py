"""Desired manifests against observed objects → a Plan: what to create, update, prune or leave.

Pure: it reads no clock, file or network, so the whole decision of what ``apply`` will do can be
tested with hand-made dictionaries. The client lists each kind once; this module does the rest.

An object is compared only on the fields dctenant manages: the desired object's own keys, looked
up in the live object (servers add defaults, status and metadata of their own). When the live
object records what dctenant last applied (``managedFields`` of manager ``dctenant``), a field
dctenant owns but no longer renders is a change as well, because server-side apply removes it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from dctenant.domain import changes
from dctenant.domain.quantities import Quantity

Manifest = Mapping[str, Any]
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
         prune_namespaces: bool = False, occupancy: Mapping[str, changes.Occupancy] | None = None) -> changes.Plan:
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
        fields = diff_fields(manifest, current)
        if fields:
            writes.append(_change(changes.ChangeOp.UPDATE, manifest, manifest=manifest, fields=fields))
        else:
            unchanged += 1

    fates = _namespace_fates(live, wanted, prune_namespaces=prune_namespaces, occupancy=occupancy or {})
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
            fields: tuple[changes.FieldDiff, ...] = (), reason: str = "") -> changes.Change:
    kind, namespace, name = key(obj)
    return changes.Change(op=op, api_version=str(obj.get("apiVersion", "")), kind=kind, name=name,
                          namespace=namespace, manifest=manifest, fields=fields, reason=reason)


def _terminating(obj: Manifest) -> bool:
    return bool((obj.get("metadata") or {}).get("deletionTimestamp"))


def diff_fields(desired: Manifest, observed: Manifest) -> tuple[changes.FieldDiff, ...]:
    """The managed fields that differ: desired keys looked up in the live object, plus owned leftovers."""
    found: list[changes.FieldDiff] = []
    for name, want in desired.items():
        if name not in IGNORED:
            _compare(name, want, observed.get(name, _ABSENT), found)
    found.extend(_leftovers(desired, observed))
    return tuple(found)


def _compare(path: str, want: Any, have: Any, found: list[changes.FieldDiff]) -> None:
    if isinstance(want, Mapping):
        if not want and not have:
            return  # the API server drops empty maps
        if not isinstance(have, Mapping):
            found.append(changes.FieldDiff(path=path, before=have, after=_plain(want)))
            return
        for name, value in want.items():
            _compare(f"{path}.{name}", value, have.get(name, _ABSENT), found)
    elif isinstance(want, list | tuple):
        if not want and not have:
            return
        if isinstance(have, list) and len(have) == len(want):
            for i, (w, h) in enumerate(zip(want, have, strict=True)):
                _compare(f"{path}[{i}]", w, h, found)
        else:
            found.append(changes.FieldDiff(path=path, before=have, after=_plain(want)))
    elif not _same(want, have):
        found.append(changes.FieldDiff(path=path, before=have, after=_plain(want)))


def _same(want: Any, have: Any) -> bool:
    """Equal, or the same Kubernetes quantity written differently (the server canonicalises ``1024Mi``)."""
    if isinstance(want, bool) or isinstance(have, bool):
        return want is have
    if want == have:
        return True
    if not isinstance(want, str | int | Decimal) or not isinstance(have, str | int | Decimal):
        return False
    try:
        return Quantity.parse(want) == Quantity.parse(have)
    except ValueError:
        return False


def _plain(value: Any) -> Any:
    """A JSON-friendly copy (the renderer may hand over tuples or other mappings)."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _leftovers(desired: Manifest, observed: Manifest) -> list[changes.FieldDiff]:
    """Fields dctenant applied before (per ``managedFields``) that it no longer renders.

    Server-side apply removes such fields on the next apply, so they are pending changes. Lists
    keyed by ``k:``/``v:``/``i:`` entries are treated as one field (the list is compared whole).
    """
    entries = (observed.get("metadata") or {}).get("managedFields") or ()
    found: list[changes.FieldDiff] = []
    for entry in entries:
        if entry.get("manager") != changes.MANAGER or entry.get("operation") != "Apply":
            continue
        for path in _owned(entry.get("fieldsV1") or {}, ()):
            if path[0] not in IGNORED and not _has(desired, path):
                found.append(changes.FieldDiff(path=".".join(path), before=_get(observed, path), after=None))
    return found


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
