"""Load a whole ``quotas/`` directory into one ``Quotas`` value, or report every problem in it.

Nothing is returned half-valid: if any file has a problem, ``load`` raises ``ValidationError``
with all the problems of all the files, each naming its file, line and field.
"""

from __future__ import annotations

import os
import pathlib
import re
from collections.abc import Collection, Hashable, Mapping

from dctenant.domain import allocations, policies, pools, quotas, tenants
from dctenant.errors import Problem, UserError, ValidationError
from dctenant.loaders import datacentres, documents, policy_files, tenant_files
from dctenant.loaders.fields import Reader

DEFAULT_PATH = "quotas"
ENVIRONMENT = "DCTENANT_QUOTAS"


def default_path() -> str:
    """``$DCTENANT_QUOTAS`` or ``quotas``: where every command reads the data centre from."""
    return os.environ.get(ENVIRONMENT) or DEFAULT_PATH


def load(path: str | os.PathLike[str]) -> quotas.Quotas:
    """Read ``datacentre.yaml``, ``policy.yaml`` and ``tenants/*.yaml`` under ``path``."""
    return _without_gc(path, None)


def load_texts(path: str, texts: Mapping[str, str]) -> quotas.Quotas:
    """Load a quotas directory given as its files' texts (``"tenants/bale.yaml"`` → text), as ``load`` would
    load a directory holding them; ``path`` is how problems name it. What-if loads its edited copy this way,
    without writing 10,000 files to a scratch directory and reading them back."""
    return _without_gc(path, texts)


def _without_gc(path: str | os.PathLike[str], texts: Mapping[str, str] | None) -> quotas.Quotas:
    # A large data centre is millions of small objects, none in a reference cycle; the cyclic
    # garbage collector would walk all the live ones again and again (a fifth of the load time
    # of 10,000 tenants). Reference counting frees the temporary ones as usual.
    with allocations.uncollected():
        return _load(path, texts)


# Loaded tenants by (file text, file stem, what the tenant loader reads of the data centre and policy):
# a tenant file read again under the same context gives the same Tenant, so what-if's edited copy (a
# tier's weight changed, one tenant removed) reloads only what the edit touched. Only tenants loaded
# without a problem are kept; Tenants are frozen. Bounded: cleared when full.
_TENANTS: dict[tuple[str, str, Hashable], tenants.Tenant] = {}
TENANTS_MAX = 60_000


def forget() -> None:
    """Drop what earlier loads kept (parsed documents, loaded tenants): the next load starts cold."""
    _TENANTS.clear()
    _CONTEXTS.clear()
    documents.forget()


def cached_tenant(text: str, stem: str, context: Hashable) -> tenants.Tenant | None:
    """The tenant an earlier load made of file ``tenants/<stem>.yaml`` holding ``text`` under ``context``
    (``tenant_context``) without a problem, if it is still kept; the same value a load would make again."""
    return _TENANTS.get((text, stem, context))


def clashes(loaded: list[tenants.Tenant], files: Mapping[str, str],
            places: Mapping[str, Mapping[str, tuple[int, int | None]]], lines: Lines) -> list[Problem]:
    """The problems between tenants: a namespace name, an id prefix or a domain claimed by two of them.
    ``files``, ``places`` and ``lines`` (by tenant id) are read only to word a problem found."""
    return [*_duplicate_namespaces(loaded, files, places), *_prefixed_ids(loaded, files, lines),
            *_shared_domains(loaded, files, lines)]


def tenant_context(datacentre: pools.DataCentre, policy: policies.Policy, incomplete: Collection[str]) -> Hashable:
    """Everything ``tenant_files.load`` reads of the data centre and the policy, as a key: the tiers (names
    and isolation), the pools (names and the resources each has), the storage classes, incomplete pools."""
    key = (tuple((name, repr(policy.isolation(name))) for name in policy.tiers),
           tuple((p.name, tuple(sorted(p.capacity))) for p in datacentre.pools),
           tuple(c.name for c in datacentre.storage_classes), tuple(sorted(incomplete)))
    # One object per distinct context, with its hash kept: every tenant lookup hashes and compares it,
    # and a fresh nested tuple of 50 pools would be hashed and compared element by element each time.
    if len(_CONTEXTS) >= 64:
        _CONTEXTS.clear()  # kept tenants still match a new equal context by value, only more slowly
    return _CONTEXTS.setdefault(key, _Context(key))


class _Context:
    __slots__ = ("_hash", "key")

    def __init__(self, key: Hashable) -> None:
        self.key = key
        self._hash = hash(key)

    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, other: object) -> bool:
        return self is other or (isinstance(other, _Context) and self._hash == other._hash and self.key == other.key)


_CONTEXTS: dict[Hashable, _Context] = {}


def _load(path: str | os.PathLike[str], texts: Mapping[str, str] | None) -> quotas.Quotas:
    root = pathlib.Path(path)
    if texts is None and not root.is_dir():
        raise UserError(f"{root} is not a directory", location=str(root))
    problems: list[Problem] = []
    sources: dict[str, str] = {}

    def reader_for(name: pathlib.Path) -> Reader | None:
        rel = name.relative_to(root)
        display = os.path.join(str(path), str(rel))
        if (rel.as_posix() not in texts) if texts is not None else not name.exists():
            problems.append(Problem(file=display, line=None, field="", message="file not found",
                                    hint=f"every quotas directory needs {rel}"))
            return None
        if texts is not None:
            document, found = documents.parse(texts[rel.as_posix()], display=display)
        else:
            document, found = documents.read(name, display=display)
        problems.extend(found)
        if document is None:
            return None
        sources[rel.as_posix()] = document.text
        return Reader(document)

    datacentre = policy = None
    incomplete: set[str] = set()
    if (reader := reader_for(root / "datacentre.yaml")) is not None:
        datacentre = datacentres.load(reader, incomplete=incomplete)
        problems.extend(reader.problems)
    if (reader := reader_for(root / "policy.yaml")) is not None:
        policy = policy_files.load(reader)
        problems.extend(reader.problems)
    loaded: list[tenants.Tenant] = []
    files: dict[str, str] = {}
    # Per tenant, where each namespace name is in its file: (index in spec.namespaces, line).
    places: dict[str, dict[str, tuple[int, int | None]]] = {}
    # Per tenant, the lines of its metadata.name and of each of its domains (for cross-tenant checks).
    lines: dict[str, tuple[int | None, tuple[int | None, ...]]] = {}
    tenant_dir = root / "tenants"
    if texts is not None:
        names = sorted(root / rel for rel in texts if re.fullmatch(r"tenants/[^/]+\.ya?ml", rel))
    else:
        names = sorted([*tenant_dir.glob("*.yaml"), *tenant_dir.glob("*.yml")]) if tenant_dir.is_dir() else []
    context = None if datacentre is None or policy is None else tenant_context(datacentre, policy, incomplete)
    for name in names:
        before = len(problems)
        if (reader := reader_for(name)) is None:
            continue
        clean = context is not None and len(problems) == before  # the file parsed without a problem
        key = (reader.document.text, name.stem, context)
        tenant = _TENANTS.get(key) if clean else None
        if tenant is None:
            tenant = tenant_files.load(reader, stem=name.stem, datacentre=datacentre, policy=policy,
                                        incomplete=incomplete)
            problems.extend(reader.problems)
            if tenant is not None and clean and not reader.problems:
                if len(_TENANTS) >= TENANTS_MAX:
                    _TENANTS.clear()
                _TENANTS[key] = tenant
        if tenant is None:
            continue
        if tenant.id in files:
            problems.append(Problem(file=reader.document.file, line=reader.document.line(("metadata", "name")),
                                    field="metadata.name", message=f'duplicate tenant id "{tenant.id}"',
                                    hint=f"it is already declared in {files[tenant.id]}"))
            continue
        files[tenant.id] = reader.document.file
        places[tenant.id] = _namespace_places(reader.document)
        lines[tenant.id] = (reader.document.line(("metadata", "name")),
                            tuple(reader.document.line(("spec", "domains", i)) for i in range(len(tenant.domains))))
        loaded.append(tenant)
    problems.extend(clashes(loaded, files, places, lines))
    if problems or datacentre is None or policy is None:
        raise ValidationError(tuple(problems))
    return quotas.Quotas(datacentre=datacentre, policy=policy, tenants=tuple(loaded),
                         sources=dict(sorted(sources.items())))


def _namespace_places(document: documents.Document) -> dict[str, tuple[int, int | None]]:
    """Namespace name -> (index in the file's spec.namespaces, line of its name).

    Kept instead of the document itself: holding ten thousand parsed documents until the end of a
    load would make the garbage collector walk all of them again and again.
    """
    spec = document.data.get("spec") if isinstance(document.data, dict) else None
    raw = spec.get("namespaces") if isinstance(spec, dict) else None
    if not isinstance(raw, list):
        return {}
    return {item["name"]: (i, document.line(("spec", "namespaces", i, "name")))
            for i, item in enumerate(raw) if isinstance(item, dict) and isinstance(item.get("name"), str)}


def _duplicate_namespaces(
    loaded: list[tenants.Tenant], files: Mapping[str, str], places: Mapping[str, Mapping[str, tuple[int, int | None]]]
) -> list[Problem]:
    """Namespace names are unique in the whole data centre (tenant prefixes make clashes rare, not impossible)."""
    owner: dict[str, str] = {}
    out: list[Problem] = []
    for tenant in loaded:
        for ns in tenant.namespaces:
            if ns.name in owner and owner[ns.name] != tenant.id:
                # The index in the file, not in tenant.namespaces (which leaves out invalid entries).
                index, line = places[tenant.id][ns.name]
                out.append(Problem(file=files[tenant.id], line=line, field=f"spec.namespaces[{index}].name",
                                   message=f'namespace "{ns.name}" is also declared by tenant "{owner[ns.name]}"',
                                   hint="namespace names must be unique in the data centre"))
            owner.setdefault(ns.name, tenant.id)
    return out


Lines = Mapping[str, tuple[int | None, tuple[int | None, ...]]]


def _prefixed_ids(loaded: list[tenants.Tenant], files: Mapping[str, str], lines: Lines) -> list[Problem]:
    """No tenant id is another's followed by "-": namespace names are prefixed with the tenant id, so
    tenants ``bale`` and ``bale-x`` could not tell ``bale-x-web`` apart (the prefix would give it to both)."""
    ids = {t.id for t in loaded}
    out: list[Problem] = []
    for tenant in loaded:
        parts = tenant.id.split("-")
        for end in range(1, len(parts)):
            other = "-".join(parts[:end])
            if other in ids:
                out.append(Problem(file=files[tenant.id], line=lines[tenant.id][0], field="metadata.name",
                                   message=f'tenant id "{tenant.id}" starts with tenant "{other}" and "-", so '
                                           f'a namespace such as "{tenant.id}-web" would carry both prefixes',
                                   hint=f'choose an id that does not start with "{other}-"'))
                break
    return out


def _shared_domains(loaded: list[tenants.Tenant], files: Mapping[str, str], lines: Lines) -> list[Problem]:
    """A domain belongs to one tenant: the same domain, or one inside another's, declared by two tenants is
    an error (either could otherwise serve the other's hostnames through an Ingress)."""
    owner: dict[str, str] = {}
    out: list[Problem] = []
    for tenant in loaded:
        for index, domain in enumerate(tenant.domains):
            clash = next(((d, t) for d, t in owner.items() if t != tenant.id and (
                d == domain or domain.endswith("." + d) or d.endswith("." + domain))), None)
            if clash is not None:
                other, who = clash
                what = "also declared" if other == domain else f'overlaps "{other}", declared'
                out.append(Problem(file=files[tenant.id], line=lines[tenant.id][1][index],
                                   field=f"spec.domains[{index}]",
                                   message=f'domain "{domain}" {what} by tenant "{who}"',
                                   hint="a domain and its subdomains belong to one tenant; remove it from one"))
            owner.setdefault(domain, tenant.id)
    return out
