"""Load one ``quotas/tenants/<id>.yaml`` (kind Tenant) and check it against the data centre and policy.

The checks that need the data centre (pools, storage classes, resources a pool has) and the
policy (tiers) run here too, so that each problem points at the tenant file line that causes it.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from decimal import Decimal
from typing import Any

from dctenant.domain import policies, pools, resources, tenants
from dctenant.errors import suggestion
from dctenant.loaders import headers, isolations, resourcemaps
from dctenant.loaders.documents import Path
from dctenant.loaders.fields import Reader
from dctenant.loaders.resourcemaps import Mode

SPEC_FIELDS = ("displayName", "tier", "licence", "owners", "demand", "namespaces", "domains", "isolation")
# A DNS domain a tenant serves: at least two labels, lower case, no wildcard (subdomains are implied).
DOMAIN = re.compile(r"(?=.{4,253}$)([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\.)+[a-z]([-a-z0-9]{0,61}[a-z0-9])?")
MAX_ID = 40


def load(
    reader: Reader,
    *,
    stem: str,
    datacentre: pools.DataCentre | None,
    policy: policies.Policy | None,
    incomplete: Collection[str] = (),
) -> tenants.Tenant | None:
    """The tenant in ``reader``'s document; ``incomplete`` names pools whose capacity could not be read.

    The resources of those pools are not checked (their problem is reported in datacentre.yaml).
    """
    header = headers.read(reader, kind="Tenant")
    if header is None:
        return None
    metadata, raw_spec = header
    spec = reader.mapping(("spec",), raw_spec, required=("displayName", "tier", "licence", "owners", "demand"),
                          optional=SPEC_FIELDS) or {}
    tenant_id = reader.name(("metadata", "name"), metadata.get("name"), max_length=MAX_ID)
    if tenant_id is not None and tenant_id != stem:
        reader.report(("metadata", "name"), f'tenant "{tenant_id}" is in a file named "{stem}.yaml"',
                      hint=f"rename the file to {tenant_id}.yaml or set metadata.name: {stem}")
    display = headers.display_name(reader, ("spec", "displayName"), spec.get("displayName"), fallback=stem)
    tier = _tier(reader, spec.get("tier"), policy)
    licence = _licence(reader, spec.get("licence"))
    owners = _owners(reader, spec.get("owners"))
    classes = None if datacentre is None else {c.name for c in datacentre.storage_classes}
    demand, shaky = _demand(reader, spec.get("demand", {}), datacentre, classes, incomplete)
    namespaces = _namespaces(reader, spec.get("namespaces", []), tenant_id or stem, demand, datacentre, classes,
                             shaky, incomplete)
    domains = _domains(reader, spec.get("domains", []))
    isolation = _isolation(reader, spec, tier, policy)
    if tenant_id is None or tier is None or licence is None or owners is None:
        return None
    return tenants.Tenant(id=tenant_id, display_name=display, tier=tier, licence=licence, owners=owners,
                          demand=demand, namespaces=namespaces, domains=domains, isolation=isolation)


def _domains(reader: Reader, raw: Any) -> tuple[str, ...]:
    """``spec.domains``: the DNS domains (and their subdomains) the tenant's Ingresses and routes may serve."""
    out: list[str] = []
    for index, item in enumerate(reader.sequence(("spec", "domains"), raw) or []):
        path: Path = ("spec", "domains", index)
        text = reader.string(path, item)
        if text is None:
            continue
        if text.startswith("*."):
            reader.report(path, f'"{text}" is a wildcard; a domain already covers its subdomains',
                          hint=f'write "{text[2:]}"')
        elif not DOMAIN.fullmatch(text):
            reader.report(path, f'"{text}" is not a DNS domain (lower-case labels separated by dots)',
                          hint='e.g. "bale.ir"')
        elif text in out:
            reader.report(path, f'"{text}" is listed twice')
        else:
            out.append(text)
    return tuple(out)


def _isolation(reader: Reader, spec: dict[str, Any], tier: str | None,
               policy: policies.Policy | None) -> policies.Isolation | None:
    """``spec.isolation``: this tenant's overrides of its tier's isolation; None when it has none."""
    if "isolation" not in spec:
        return None
    base = policy.isolation(tier) if policy is not None and tier is not None else policies.Isolation()
    return isolations.read(reader, ("spec", "isolation"), spec["isolation"], base=base)


def _tier(reader: Reader, raw: Any, policy: policies.Policy | None) -> str | None:
    name = reader.string(("spec", "tier"), raw)
    if name is not None and policy is not None and name not in policy.tiers:
        hint = suggestion(name, policy.tiers) or "tiers in policy.yaml: " + ", ".join(policy.tiers)
        reader.report(("spec", "tier"), f'unknown tier "{name}"', hint=hint)
        return None
    return name


def _licence(reader: Reader, raw: Any) -> tenants.Licence | None:
    path: Path = ("spec", "licence")
    fields = reader.mapping(path, raw, required=("number", "issued", "expires", "status"))
    if fields is None:
        return None
    number = reader.string((*path, "number"), fields.get("number"))
    issued = reader.date((*path, "issued"), fields.get("issued")) if "issued" in fields else None
    expires = reader.date((*path, "expires"), fields.get("expires")) if "expires" in fields else None
    status = reader.choice((*path, "status"), fields.get("status"), [s.value for s in tenants.LicenceStatus])
    if issued is not None and expires is not None and expires <= issued:
        reader.report((*path, "expires"), f"expires ({expires}) must be after issued ({issued})",
                      hint="check the two dates on the licence")
        return None
    if number is None or issued is None or expires is None or status is None:
        return None
    return tenants.Licence(number=number, issued=issued, expires=expires, status=tenants.LicenceStatus(status))


def _owners(reader: Reader, raw: Any) -> tenants.Owners | None:
    path: Path = ("spec", "owners")
    fields = reader.mapping(path, raw, optional=("groups", "users"))
    if fields is None:
        return None
    found: dict[str, tuple[str, ...]] = {}
    for key in ("groups", "users"):
        items = reader.sequence((*path, key), fields.get(key, [])) or []
        found[key] = tuple(s for i, item in enumerate(items) if (s := reader.string((*path, key, i), item)))
    if not found["groups"] and not found["users"]:
        reader.report(path, "a tenant needs at least one owner", hint="add a group or a user that administers it")
        return None
    return tenants.Owners(groups=found["groups"], users=found["users"])


def _pool_resources(
    reader: Reader, path: Path, raw: Any, pool: pools.Pool | None, classes: set[str] | None, what: str
) -> dict[str, Decimal]:
    """A resource map that may only name resources the pool has."""
    amounts = resourcemaps.amounts(resourcemaps.read(reader, path, raw, mode=Mode.AMOUNT, storage_classes=classes))
    if pool is None:
        return amounts
    for key in list(amounts):
        if not pool.has(key):
            sub = ("storage", key.removeprefix(resources.STORAGE_PREFIX)) if key.startswith(resources.STORAGE_PREFIX) \
                else ("bandwidth", key.removeprefix(resources.BANDWIDTH_PREFIX)) if key.startswith(
                    resources.BANDWIDTH_PREFIX) else (key,)
            reader.report((*path, *sub), f'pool "{pool.name}" has no {key}',
                          hint=f"remove it from this {what}, or use a pool that has it")
            del amounts[key]
    return amounts


def _demand(
    reader: Reader,
    raw: Any,
    datacentre: pools.DataCentre | None,
    classes: set[str] | None,
    incomplete: Collection[str],
) -> tuple[dict[str, dict[str, Decimal]], set[str]]:
    """The demand per pool, and the pools whose demand had a problem (so may lack a resource it names)."""
    out: dict[str, dict[str, Decimal]] = {}
    shaky: set[str] = set()
    for pool_name, item in (reader.mapping(("spec", "demand"), raw) or {}).items():
        path: Path = ("spec", "demand", pool_name)
        pool = None
        if datacentre is not None:
            if pool_name not in datacentre.pool_names:
                hint = suggestion(pool_name, datacentre.pool_names) or "pools: " + ", ".join(datacentre.pool_names)
                reader.report(path, f'unknown pool "{pool_name}"', hint=hint)
                continue
            pool = None if pool_name in incomplete else datacentre.pool(pool_name)
        before = len(reader.problems)
        out[pool_name] = _pool_resources(reader, path, item, pool, classes, "demand")
        if len(reader.problems) > before:
            shaky.add(pool_name)
    return out, shaky


def _namespaces(
    reader: Reader,
    raw: Any,
    tenant_id: str,
    demand: dict[str, dict[str, Decimal]],
    datacentre: pools.DataCentre | None,
    classes: set[str] | None,
    shaky: set[str],
    incomplete: Collection[str],
) -> tuple[tenants.Namespace, ...]:
    out: list[tenants.Namespace] = []
    seen: dict[str, int] = {}
    for index, item in enumerate(reader.sequence(("spec", "namespaces"), raw) or []):
        path: Path = ("spec", "namespaces", index)
        fields = reader.mapping(path, item, required=("name", "pool", "quota"))
        if fields is None:
            continue
        name = reader.name((*path, "name"), fields.get("name"))
        if name is not None and not name.startswith(tenant_id + "-"):
            reader.report((*path, "name"), f'namespace "{name}" does not start with the tenant prefix "{tenant_id}-"',
                          hint=f'rename it, e.g. "{tenant_id}-{name}"'[:80])
            name = None
        if name is not None and name in seen:
            reader.report((*path, "name"), f'duplicate namespace "{name}"',
                          hint=f"it is already declared as namespaces[{seen[name]}]")
            name = None
        pool_name = reader.string((*path, "pool"), fields.get("pool"))
        pool = None
        if pool_name is not None and pool_name not in demand:
            if datacentre is not None and pool_name not in datacentre.pool_names:
                hint = suggestion(pool_name, datacentre.pool_names) or "pools: " + ", ".join(datacentre.pool_names)
                reader.report((*path, "pool"), f'unknown pool "{pool_name}"', hint=hint)
            else:
                reader.report((*path, "pool"), f'the tenant has no demand in pool "{pool_name}"',
                              hint="add a demand for this pool under spec.demand, or use a pool it has demand in")
            pool_name = None
        elif pool_name is not None and datacentre is not None and pool_name not in incomplete:
            pool = datacentre.pool(pool_name)
        quota = _pool_resources(reader, (*path, "quota"), fields.get("quota", {}), pool, classes, "quota")
        if name is None or pool_name is None:
            continue
        seen[name] = index
        out.append(tenants.Namespace(name=name, pool=pool_name, quota=quota))
    _check_sums(reader, out, demand, seen, shaky)
    return tuple(out)


def _check_sums(
    reader: Reader,
    namespaces: list[tenants.Namespace],
    demand: dict[str, dict[str, Decimal]],
    index: dict[str, int],
    shaky: set[str],
) -> None:
    """Per pool, the namespaces' quotas together may not exceed the tenant's demand there.

    Where a pool's demand had a problem, a resource missing from it may be the one that was
    misspelt, so only the resources that were read are compared: comparing with a demand of 0
    would report a second, misleading problem for the same mistake.
    """
    totals: dict[str, dict[str, Decimal]] = {}
    for ns in namespaces:
        totals[ns.pool] = resources.add(totals.get(ns.pool, {}), ns.quota)
    for pool_name, total in totals.items():
        for key in resources.ordered(total):
            if pool_name in shaky and key not in demand.get(pool_name, {}):
                continue
            asked = demand.get(pool_name, {}).get(key, Decimal(0))
            if total[key] > asked:
                first = next(ns for ns in namespaces if ns.pool == pool_name and key in ns.quota)
                reader.report(
                    ("spec", "namespaces", index[first.name], "quota"),
                    f'namespaces in pool "{pool_name}" together ask for {resources.format_amount(key, total[key])} '
                    f"of {key}, above the tenant's demand of {resources.format_amount(key, asked)} there",
                    hint=f"lower the namespace quotas or raise spec.demand.{pool_name}",
                )
