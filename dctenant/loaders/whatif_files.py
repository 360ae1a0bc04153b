"""Read a what-if changes file and apply its edits to the documents of a ``quotas/`` directory.

What-if must give exactly what ``plan`` would give on a copy of ``quotas/`` with the same edits
made by hand. So the edits are made where a person would make them — in the YAML documents —
and the edited copy is then loaded by the one loader, validated by the same rules, and allocated
by the same allocator. No second model of "what a change means" exists to drift from the real one.

The file (kind ``WhatIf``, docs/planning.md) lists changes in order; each is one of
``addTenant``, ``removeTenant``, ``setTier``, ``setDemand``, ``setCapacity``, ``addPool``,
``removePool`` and ``setLicence``. Every problem names the changes file, the line and the field.
"""

from __future__ import annotations

import copy
import pathlib
from collections.abc import Mapping
from typing import Any

import yaml

from dctenant.domain import whatif
from dctenant.errors import Problem, UserError, ValidationError
from dctenant.loaders import documents
from dctenant.loaders.fields import Reader, dotted

API_VERSION = "dctenant.io/v1alpha1"
KIND = "WhatIf"
Documents = dict[str, Any]  # path relative to quotas/ ("tenants/bale.yaml") -> parsed document


def read(path: pathlib.Path) -> tuple[whatif.Change, ...]:
    """The changes of a ``WhatIf`` file, or ``ValidationError`` naming every problem in it."""
    document, problems = documents.read(path, display=str(path))
    if document is None:
        raise ValidationError(problems)
    reader = Reader(document)
    top = reader.mapping((), document.data, required=("apiVersion", "kind", "changes"), optional=("metadata",))
    out: list[whatif.Change] = []
    if top is not None:
        if top.get("apiVersion", API_VERSION) != API_VERSION:
            reader.report(("apiVersion",), f"unsupported apiVersion {top['apiVersion']!r}", hint=f"write {API_VERSION}")
        if top.get("kind", KIND) != KIND:
            reader.report(("kind",), f"expected kind {KIND}, got {top['kind']!r}", hint=f"write kind: {KIND}")
        items = reader.sequence(("changes",), top.get("changes", []))
        for i, item in enumerate(items or []):
            where = ("changes", i)
            entry = reader.mapping(where, item, optional=whatif.OPERATIONS)
            if entry is None:
                continue
            if len(entry) != 1:
                reader.report(where, f"expected exactly one operation, got {len(entry)}",
                              hint="one of: " + ", ".join(whatif.OPERATIONS))
                continue
            ((op, argument),) = entry.items()
            out.append(whatif.Change(op=op, argument=argument,
                                     location=f"{document.file}:{document.line((*where, op))} {dotted((*where, op))}"))
    if problems or reader.problems:
        raise ValidationError((*problems, *reader.problems))
    return tuple(out)


def read_quotas(root: pathlib.Path) -> tuple[Documents, dict[str, str]]:
    """The parsed documents of a quotas directory and their texts (the loader validates them afterwards)."""
    if not root.is_dir():
        raise UserError(f"{root} is not a directory", location=str(root))
    names = [root / "datacentre.yaml", root / "policy.yaml"]
    tenant_dir = root / "tenants"
    if tenant_dir.is_dir():
        names += sorted([*tenant_dir.glob("*.yaml"), *tenant_dir.glob("*.yml")])
    out: Documents = {}
    texts: dict[str, str] = {}
    problems: list[Problem] = []
    for name in names:
        if not name.exists():
            continue  # the loader reports a missing required file with its own words
        document, found = documents.read(name, display=str(name))
        problems.extend(found)
        if document is not None:
            out[name.relative_to(root).as_posix()] = document.data
            texts[name.relative_to(root).as_posix()] = document.text
    if problems:
        raise ValidationError(tuple(problems))
    return out, texts


def apply(changes: tuple[whatif.Change, ...], docs: Documents) -> Documents:
    """A copy of ``docs`` with every change made in order; ``UserError`` at the first that cannot be.

    Documents no change touches are the originals themselves (``is``), not copies: the caller keeps
    their text, and 10,000 unchanged tenants are neither copied nor compared.
    """
    out = _Edited(docs)
    for change in changes:
        _APPLY[change.op](change, out)
    return dict(out)


def parse_quotas(texts: Mapping[str, str], *, root: str) -> Documents:
    """The parsed documents of a loaded model's files (``Quotas.sources``), which the loader has validated."""
    out: Documents = {}
    for rel, text in texts.items():
        document, problems = documents.parse(text, display=f"{root}/{rel}")
        if document is None:
            raise ValidationError(problems)
        out[rel] = document.data
    return out


class _Edited(dict[str, Any]):
    """The documents under edit: each is deep-copied the first time an edit fetches it (``[]`` or ``get``),
    so the originals — shared with the loader's parse cache — are never changed. Every edit reaches a
    document through ``_spec``/``_pools`` (``get``) or replaces it whole; ``items()`` is only read."""

    def __init__(self, docs: Documents) -> None:
        super().__init__(docs)
        self._owned: set[str] = set()

    def _own(self, key: str) -> Any:
        if key not in self._owned:
            super().__setitem__(key, copy.deepcopy(super().__getitem__(key)))
            self._owned.add(key)
        return super().__getitem__(key)

    def __getitem__(self, key: str) -> Any:
        return self._own(key)

    def get(self, key: str, default: Any = None) -> Any:
        return self._own(key) if key in self else default

    def __setitem__(self, key: str, value: Any) -> None:
        super().__setitem__(key, value)
        self._owned.add(key)


def to_yaml(document: Any) -> str:
    """A document as YAML text for the edited copy (key order kept, Unicode written as is)."""
    return str(yaml.safe_dump(document, sort_keys=False, allow_unicode=True, default_flow_style=False))


def _fail(change: whatif.Change, message: str, hint: str | None = None) -> UserError:
    return UserError(message + (f" ({hint})" if hint else ""), location=change.location)


def _mapping(change: whatif.Change, value: Any, *, required: tuple[str, ...], optional: tuple[str, ...] = ()
             ) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _fail(change, f"{change.op} expects a mapping", hint="fields: " + ", ".join(required + optional))
    unknown = sorted(set(value) - set(required) - set(optional))
    if unknown:
        raise _fail(change, f'unknown field "{unknown[0]}"', hint="fields: " + ", ".join(required + optional))
    missing = [k for k in required if k not in value]
    if missing:
        raise _fail(change, f'missing field "{missing[0]}"')
    return value


def _tenant_file(change: whatif.Change, docs: Documents, tenant: Any) -> str:
    for rel, doc in docs.items():
        if rel.startswith("tenants/") and isinstance(doc, dict) and (doc.get("metadata") or {}).get("name") == tenant:
            return rel
    known = sorted(str((d.get("metadata") or {}).get("name")) for r, d in docs.items()
                   if r.startswith("tenants/") and isinstance(d, dict))
    raise _fail(change, f"no tenant {tenant!r} in the data centre", hint="known: " + ", ".join(known))


def _spec(docs: Documents, rel: str) -> dict[str, Any]:
    doc = docs.get(rel)
    spec = doc.get("spec") if isinstance(doc, dict) else None
    if not isinstance(spec, dict):
        raise UserError("has no spec mapping; run dctenant validate first", location=rel)
    return spec


def _pools(docs: Documents) -> list[Any]:
    pools = _spec(docs, "datacentre.yaml").get("pools")
    if not isinstance(pools, list):
        raise UserError("spec.pools is not a list; run dctenant validate first", location="datacentre.yaml")
    return pools


def _pool(change: whatif.Change, docs: Documents, name: Any) -> dict[str, Any]:
    for pool in _pools(docs):
        if isinstance(pool, dict) and pool.get("name") == name:
            return pool
    known = [str(p.get("name")) for p in _pools(docs) if isinstance(p, dict)]
    raise _fail(change, f"no pool {name!r} in the data centre", hint="known: " + ", ".join(known))


def _merge(target: dict[str, Any], patch: Mapping[str, Any]) -> None:
    """Merge ``patch`` into ``target`` (a JSON merge patch, RFC 7386: ``null`` removes a field)."""
    for key, value in patch.items():
        if value is None:
            target.pop(key, None)
        elif isinstance(value, Mapping) and isinstance(target.get(key), dict):
            _merge(target[key], value)
        else:
            target[key] = copy.deepcopy(value)


def _add_tenant(change: whatif.Change, docs: Documents) -> None:
    doc = change.argument
    name = (doc.get("metadata") or {}).get("name") if isinstance(doc, dict) else None
    if not isinstance(name, str) or not name:
        raise _fail(change, "addTenant expects a whole Tenant document with metadata.name",
                    hint="the same content as a quotas/tenants/<id>.yaml file")
    rel = f"tenants/{name}.yaml"
    if rel in docs:
        raise _fail(change, f"tenant {name!r} already exists", hint="use setDemand or setLicence to change it")
    docs[rel] = copy.deepcopy(doc)


def _remove_tenant(change: whatif.Change, docs: Documents) -> None:
    del docs[_tenant_file(change, docs, change.argument)]


def _set_tier(change: whatif.Change, docs: Documents) -> None:
    arg = _mapping(change, change.argument, required=("name",), optional=("weight", "guaranteed"))
    tiers = _spec(docs, "policy.yaml").get("tiers")
    if not isinstance(tiers, dict) or arg["name"] not in tiers:
        known = ", ".join(sorted(tiers)) if isinstance(tiers, dict) else ""
        raise _fail(change, f"no tier {arg['name']!r} in the policy", hint="known: " + known)
    tiers[arg["name"]].update({k: v for k, v in arg.items() if k != "name"})


def _set_demand(change: whatif.Change, docs: Documents) -> None:
    arg = _mapping(change, change.argument, required=("tenant", "pool", "demand"))
    spec = _spec(docs, _tenant_file(change, docs, arg["tenant"]))
    demand = spec.setdefault("demand", {})
    if arg["demand"] is None:
        demand.pop(arg["pool"], None)
    elif isinstance(arg["demand"], Mapping):
        _merge(demand.setdefault(arg["pool"], {}), arg["demand"])
    else:
        raise _fail(change, "demand must be a mapping of resources (or null to drop the pool's demand)")


def _set_capacity(change: whatif.Change, docs: Documents) -> None:
    arg = _mapping(change, change.argument, required=("pool",), optional=("capacity", "reserve"))
    pool = _pool(change, docs, arg["pool"])
    for field in ("capacity", "reserve"):
        if field in arg:
            if not isinstance(arg[field], Mapping):
                raise _fail(change, f"{field} must be a mapping of resources")
            _merge(pool.setdefault(field, {}), arg[field])


def _add_pool(change: whatif.Change, docs: Documents) -> None:
    pool = change.argument
    if not isinstance(pool, dict) or not isinstance(pool.get("name"), str):
        raise _fail(change, "addPool expects a pool entry with a name", hint="the same as an item of spec.pools")
    if any(isinstance(p, dict) and p.get("name") == pool["name"] for p in _pools(docs)):
        raise _fail(change, f"pool {pool['name']!r} already exists", hint="use setCapacity to change it")
    _pools(docs).append(copy.deepcopy(pool))


def _remove_pool(change: whatif.Change, docs: Documents) -> None:
    """Lose a pool: the pool goes, and so do every tenant's demand and namespaces in it."""
    pool = _pool(change, docs, change.argument)
    _pools(docs).remove(pool)
    for rel in [r for r in docs if r.startswith("tenants/")]:
        spec = _spec(docs, rel)
        if isinstance(spec.get("demand"), dict):
            spec["demand"].pop(change.argument, None)
        if isinstance(spec.get("namespaces"), list):
            spec["namespaces"] = [n for n in spec["namespaces"]
                                  if not (isinstance(n, dict) and n.get("pool") == change.argument)]


def _set_licence(change: whatif.Change, docs: Documents) -> None:
    arg = _mapping(change, change.argument, required=("tenant",), optional=("issued", "expires", "status"))
    spec = _spec(docs, _tenant_file(change, docs, arg["tenant"]))
    licence = spec.setdefault("licence", {})
    licence.update({k: v for k, v in arg.items() if k != "tenant"})


_APPLY = {
    whatif.ADD_TENANT: _add_tenant, whatif.REMOVE_TENANT: _remove_tenant, whatif.SET_TIER: _set_tier,
    whatif.SET_DEMAND: _set_demand, whatif.SET_CAPACITY: _set_capacity, whatif.ADD_POOL: _add_pool,
    whatif.REMOVE_POOL: _remove_pool, whatif.SET_LICENCE: _set_licence,
}
